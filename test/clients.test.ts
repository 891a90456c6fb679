// The provider's own clients prove compatibility: the DashScope Python SDK, the OpenAI Python
// library and the DashScope Java SDK, installed at pinned versions (scripts/setup-client-tests.sh,
// scripts/setup-java-client.sh) and used as their documentation shows against a Timbre server.
// Only the base URL and the API key change. The flows live in test/clients/; this file starts
// the server, runs each flow in its client's own process and asserts on what came back.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { wavFromPcm16 } from '../src/audio/wav.js';
import { audioPath, createBody, dataUrl, probeAudio, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'timbre-clients-'));
const python = join(packageRoot, '.venv-clients', 'bin', 'python');
const flowsPy = join(packageRoot, 'test', 'clients', 'python', 'flows.py');
/** "The meeting has been moved to Thursday afternoon, so please bring the latest figures with you.": 17 words. */
const plausibleSeconds = (seconds: number) => seconds > 3 && seconds < 12;
const unknownVoice = 'qwen-tts-vc-nobody-voice-20260101000000000-0000';

let server: TestServer;
let fileVoice = '';
let realtimeVoice = '';
let javaClasspath: string | null = null;
let javaUnavailable = '';

before(async () => {
  // No silent skip: a client that cannot be installed fails the suite (the Java SDK not being
  // served by Maven Central is said, and only its flows are skipped).
  execFileSync('bash', [join(packageRoot, 'scripts', 'setup-client-tests.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    javaClasspath = execFileSync('bash', [join(packageRoot, 'scripts', 'setup-java-client.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '');
    if (!/dashscope-sdk-java.*(could not be resolved|was not found|Could not find artifact)/is.test(stderr)) throw error;
    javaUnavailable = 'com.alibaba:dashscope-sdk-java:2.22.7 is not served by Maven Central here';
  }
  server = await startTestServer();
  fileVoice = (await server.enroll(createBody({ target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: 'clients' }, dataUrl('human-en.wav')))).body.output.voice as string;
  realtimeVoice = (await server.enroll(createBody({ preferred_name: 'clientsrt' }, dataUrl('human-en.wav')))).body.output.voice as string;
  assert.ok(fileVoice && realtimeVoice, 'voices for the clients');
});
after(async () => {
  await server?.stop();
  rmSync(out, { recursive: true, force: true });
});

async function pythonFlow(flow: string, voice: string, ...extra: string[]): Promise<Record<string, any>> {
  const { stdout } = await run(python, [flowsPy, flow, server.url, server.key, voice, out, ...extra], { timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
}

async function javaFlow(flow: string, voice: string): Promise<Record<string, any>> {
  // --add-opens: the SDK's Gson reflects into java.util, which Java 17 closes (as for any user of the SDK on 17).
  const { stdout } = await run('java', ['--add-opens', 'java.base/java.util=ALL-UNNAMED', '-cp', javaClasspath!, 'TimbreFlows', flow, server.url, server.key, voice, out], { timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
}

/** Seconds of raw 24 kHz 16-bit mono PCM, as ffmpeg decodes it. */
async function pcmSeconds(file: string): Promise<number> {
  const bytes = readFileSync(join(out, file));
  assert.equal(bytes.length % 2, 0, 'whole 16-bit samples');
  const probed = await probeAudio(wavFromPcm16(bytes, 24000), 'wav');
  assert.equal(probed.sampleRate, 24000);
  return probed.seconds;
}

/** The realtime events a client saw, in the documented order. */
function assertRealtimeOrder(events: string[]): void {
  const order = ['session.created', 'session.updated', 'input_text_buffer.committed', 'response.created', 'response.output_item.added', 'response.content_part.added', 'response.audio.delta', 'response.audio.done', 'response.content_part.done', 'response.output_item.done', 'response.done', 'session.finished'];
  const firsts = order.map((type) => events.indexOf(type));
  firsts.forEach((index, position) => assert.ok(index >= 0, `${order[position]} arrived (${events.filter((type) => type !== 'response.audio.delta').join(', ')})`));
  assert.deepEqual([...firsts].sort((a, b) => a - b), firsts, 'events in the documented order');
  assert.equal(events.at(-1), 'session.finished');
  const deltas = events.map((type, index) => [type, index] as const).filter(([type]) => type === 'response.audio.delta').map(([, index]) => index);
  assert.ok(deltas.length > 1 && deltas.at(-1)! < events.indexOf('response.audio.done'), 'audio deltas before audio.done');
}

describe('DashScope Python SDK (dashscope 2.0.2), as the provider documents it', () => {
  it('MultiModalConversation.call: a WAV link to the spoken text; an unknown voice answers InvalidParameter', async () => {
    const result = await pythonFlow('dashscope-http', fileVoice);
    assert.equal(result.status, 200);
    assert.equal(result.finish_reason, 'stop');
    const wav = await probeAudio(readFileSync(join(out, result.file)), 'wav');
    assert.equal(wav.sampleRate, 24000);
    assert.ok(plausibleSeconds(wav.seconds), `${wav.seconds} s`);
    assert.deepEqual(result.refused.slice(0, 2), [400, 'InvalidParameter']);
  });

  it('MultiModalConversation.call(stream=True): base64 PCM chunks, then finish_reason stop', async () => {
    const result = await pythonFlow('dashscope-sse', fileVoice);
    assert.equal(result.status, 200);
    assert.ok(result.chunks > 1);
    assert.equal(result.finish_reason, 'stop');
    assert.ok(plausibleSeconds(await pcmSeconds(result.file)));
  });

  for (const mode of ['server-commit', 'commit']) {
    it(`QwenTtsRealtime in ${mode.replace('-', '_')} mode: the callback gets the events in order and the audio`, async () => {
      const result = await pythonFlow(`dashscope-realtime-${mode}`, realtimeVoice);
      assertRealtimeOrder(result.events);
      assert.match(result.session_id, /^sess_/);
      assert.ok(plausibleSeconds(await pcmSeconds(result.file)));
    });
  }

  it("enrollment with requests, as the provider's page writes it: create, list, delete, and the error shapes", async () => {
    const result = await pythonFlow('enrollment', '-', audioPath('human-en.wav'));
    assert.equal(result.created[0], 200);
    assert.match(result.created[1], /^qwen-tts-vc-guanyu-voice-\d{17}-[0-9a-f]{4}$/);
    assert.equal(result.listed[0], 200);
    assert.ok(result.listed[1].includes(result.created[1]));
    assert.equal(result.deleted[0], 200);
    assert.match(result.deleted[1].request_id, /^[0-9a-f-]{36}$/);
    assert.equal(result.bad_name[0], 400);
    assert.equal(result.bad_name[1].code, 'InvalidParameter');
    assert.match(result.bad_name[1].message, /preferred_name/);
    assert.equal(result.unknown[0], 400);
    assert.equal(result.unknown[1].code, 'InvalidParameter');
  });
});

describe('OpenAI Python library (openai 3.57.0) with base_url pointed at Timbre', () => {
  it('audio.speech.create in mp3, wav and opus, and with_streaming_response; an unknown voice is BadRequestError', async () => {
    const result = await pythonFlow('openai-speech', fileVoice);
    for (const [format, codec] of [['mp3', 'mp3'], ['wav', 'pcm_s16le'], ['opus', 'opus']] as const) {
      const probed = await probeAudio(readFileSync(join(out, result.files[format])), format === 'opus' ? 'ogg' : format);
      assert.equal(probed.codec, codec, format);
      assert.ok(plausibleSeconds(probed.seconds), `${format}: ${probed.seconds} s`);
    }
    assert.ok(result.streamed_parts >= 1);
    assert.ok(plausibleSeconds((await probeAudio(readFileSync(join(out, result.files.streamed)), 'wav')).seconds));
    assert.deepEqual(result.refused.slice(0, 2), ['BadRequestError', 400]);
    assert.equal(result.refused[2].code, 'InvalidParameter');
  });
});

describe('DashScope Java SDK (dashscope-sdk-java 2.22.7)', () => {
  it('QwenTtsRealtime, server_commit: PCM collected through the callback, events in order', async (t) => {
    if (javaUnavailable) return t.skip(javaUnavailable);
    const result = await javaFlow('realtime-server-commit', realtimeVoice);
    assert.equal(result.finished, true);
    assertRealtimeOrder(result.events);
    assert.ok(plausibleSeconds(await pcmSeconds(result.file)));
  });

  it('MultiModalConversation.call: the WAV link; an unknown voice is the SDK\'s ApiException with InvalidParameter', async (t) => {
    if (javaUnavailable) return t.skip(javaUnavailable);
    const result = await javaFlow('http', fileVoice);
    assert.equal(result.finish_reason, 'stop');
    const wav = await probeAudio(readFileSync(join(out, result.file)), 'wav');
    assert.equal(wav.sampleRate, 24000);
    assert.ok(plausibleSeconds(wav.seconds));
    assert.deepEqual(result.refused, [400, 'InvalidParameter']);
  });
});
