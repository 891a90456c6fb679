import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { PocketEngine } from '../src/engines/neural/pocket-engine.js';
import { packageRoot } from '../src/paths.js';
import { audioPath, createBody, dataUrl, postJson, probeAudio, startTestServer, type TestServer } from './helpers.js';
import { timbreBin } from './process.js';
import { RealtimeClient } from './realtime-client.js';
import { GraphBuilder } from '../src/onnx/graph-builder.js';
import { pocketFiles, pocketSamplesPerFrame, writeSyntheticPocketTts } from './synthetic/pocket-tts.js';
import { writeSyntheticZipVoice } from './synthetic/zipvoice.js';

// The real load, generate and stream path of the Pocket TTS engine (sherpa-onnx-node), on
// small synthetic ONNX models with random weights that honour the loader's contract
// (test/synthetic/pocket-tts.ts), installed with the real `timbre models add`.
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'timbre-neural-'));
const generated = join(scratch, 'generated');
const modelsDir = join(scratch, 'models');
let server: TestServer;

function timbre(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [timbreBin, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

before(() => {
  writeSyntheticPocketTts(generated);
  // The models folder also holds the VAD and Moonshine that npm install unpacked.
  const packageModels = join(packageRoot, 'models');
  mkdirSync(modelsDir, { recursive: true });
  for (const file of readdirSync(packageModels).filter((name) => name.endsWith('.onnx'))) symlinkSync(join(packageModels, file), join(modelsDir, file));
});
after(async () => {
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('timbre models add: installs from disk after checking the files', () => {
  it('refuses a folder that lacks a file, naming it', async () => {
    const partial = join(scratch, 'partial');
    writeSyntheticPocketTts(partial);
    rmSync(join(partial, pocketFiles.lmFlow));
    const refused = await timbre(['models', 'add', 'pocket-tts', '--from', partial, '--models-dir', modelsDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /pocket-tts needs lm_flow\.int8\.onnx, which is not in /);
  });

  it('refuses a graph that does not fit the loader, and a file that is not ONNX', async () => {
    const wrong = join(scratch, 'wrong');
    writeSyntheticPocketTts(wrong);
    // lm_flow with three inputs: sherpa-onnx passes four.
    const graph = new GraphBuilder(
      [
        { name: 'c', type: 'float', shape: [1, 1024] },
        { name: 's', type: 'float', shape: [1, 1] },
        { name: 'x', type: 'float', shape: [1, 32] },
      ],
      [{ name: 'out', type: 'float', shape: [1, 32] }],
    );
    graph.op('Add', ['x', 's'], {}, 'out');
    writeFileSync(join(wrong, pocketFiles.lmFlow), graph.encode());
    const refused = await timbre(['models', 'add', 'pocket-tts', '--from', wrong, '--models-dir', modelsDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /lm_flow\.int8\.onnx does not fit the pocket-tts loader: 3 inputs and 1 outputs, where pocket-tts needs 4/);
    writeFileSync(join(wrong, pocketFiles.lmFlow), 'not a model');
    const garbage = await timbre(['models', 'add', 'pocket-tts', '--from', wrong, '--models-dir', modelsDir]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /lm_flow\.int8\.onnx is not a loadable ONNX model/);
    assert.deepEqual(readdirSync(modelsDir).filter((name) => !name.endsWith('.onnx')), [], 'nothing half-installed');
  });

  it('installs a good model; models list shows it serving every target model', async () => {
    const added = await timbre(['models', 'add', 'pocket-tts', '--from', generated, '--models-dir', modelsDir, '--json']);
    assert.equal(added.code, 0, added.stderr);
    const manifest = JSON.parse(added.stdout) as { name: string; files: Record<string, { sha256: string }> };
    assert.equal(manifest.name, 'pocket-tts');
    assert.equal(Object.keys(manifest.files).length, 7);
    const listed = JSON.parse((await timbre(['models', 'list', '--models-dir', modelsDir, '--json'])).stdout) as { engines: { name: string; installed: boolean; serves: string[] }[] };
    const pocket = listed.engines.find((engine) => engine.name === 'pocket-tts')!;
    assert.equal(pocket.installed, true);
    assert.deepEqual(pocket.serves, ['qwen3-tts-vc-realtime-2026-01-15', 'qwen3-tts-vc-realtime-2025-11-27', 'qwen3-tts-vc-2026-01-22']);
    assert.deepEqual(listed.engines.find((engine) => engine.name === 'preview')!.serves, []);
  });
});

describe('Pocket TTS engine through the API (synthetic model)', () => {
  let fileVoice = '';
  let realtimeVoice = '';

  before(async () => {
    // ZipVoice too, serving one model (the configuration names it); Pocket serves the rest.
    const zipvoice = join(scratch, 'zipvoice');
    writeSyntheticZipVoice(zipvoice);
    const added = await timbre(['models', 'add', 'zipvoice', '--from', zipvoice, '--models-dir', modelsDir]);
    assert.equal(added.code, 0, added.stderr);
    server = await startTestServer({ TIMBRE_MODELS_DIR: modelsDir, TIMBRE_NEURAL_THREADS: '1', TIMBRE_ENGINES: 'qwen3-tts-vc-realtime-2025-11-27=zipvoice' });
    const created = await server.enroll(createBody({ target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: 'pocket' }, dataUrl('human-en.wav')));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    fileVoice = created.body.output.voice;
    realtimeVoice = (await server.enroll(createBody({ preferred_name: 'pocketrt' }, dataUrl('low.wav')))).body.output.voice;
  });

  it('prepares the voice for pocket-tts at enrollment (the reference kept, at most 10 s at 24 kHz)', async () => {
    const account = (await server.running.keys.authenticate(server.key))!;
    const prompt = JSON.parse((await server.preparedVoice(account.id, fileVoice))!.voicePrompt!) as { engine: string; sampleRate: number; reference: string };
    assert.equal(prompt.engine, 'pocket-tts');
    assert.equal(prompt.sampleRate, 24000);
    assert.equal(Buffer.from(prompt.reference, 'base64').length, 10 * 24000 * 2);
  });

  it('speaks a WAV at the engine\'s 24 kHz, of the length the model makes, naming the engine', async () => {
    const response = await postJson(server, '/v1/audio/speech', { model: 'qwen3-tts-vc-2026-01-22', voice: fileVoice, input: 'The cat sat.', response_format: 'wav' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-timbre-engine'), 'pocket-tts');
    const bytes = Buffer.from(await response.arrayBuffer());
    const probed = await probeAudio(bytes, 'wav');
    assert.equal(probed.sampleRate, 24000);
    // 80 ms frames (1920 samples each), 3 per text token plus a few after the end marker.
    assert.ok(probed.seconds > (12 * pocketSamplesPerFrame) / 24000, `${probed.seconds} s`);
    assert.ok(bytes.subarray(1000).some((byte) => byte !== 0), 'not silence');
  });

  it('streams chunks before the end (SSE), and two references give different audio', async () => {
    const text = 'A small train crossed the valley slowly, carrying wood and letters to the villages beyond the hills.';
    const stream = async (voice: string) => {
      const response = await postJson(server, '/api/v1/services/aigc/multimodal-generation/generation', { model: 'qwen3-tts-vc-2026-01-22', input: { text, voice } }, { 'x-dashscope-sse': 'enable' });
      assert.equal(response.status, 200);
      const arrivals: number[] = [];
      const parts: Buffer[] = [];
      const started = performance.now();
      let pending = '';
      for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
        pending += Buffer.from(bytes).toString();
        for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
          const data = /^data:(.*)$/m.exec(pending.slice(0, end))?.[1];
          pending = pending.slice(end + 2);
          const audio = data ? (JSON.parse(data) as { output?: { audio?: { data?: string } } }).output?.audio?.data : undefined;
          if (audio) {
            arrivals.push(performance.now() - started);
            parts.push(Buffer.from(audio, 'base64'));
          }
        }
      }
      return { arrivals, pcm: Buffer.concat(parts) };
    };
    const first = await stream(fileVoice);
    assert.ok(first.arrivals.length >= 3, `${first.arrivals.length} chunks`);
    assert.ok(first.arrivals[0]! < first.arrivals.at(-1)!, 'the first chunk came before the last');
    // The same voice is deterministic up to the flow's noise; another voice differs clearly.
    const other = await stream(await (async () => {
      const created = await server.enroll(createBody({ target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: 'other' }, dataUrl('high.wav')));
      return created.body.output.voice as string;
    })());
    const length = Math.min(first.pcm.length, other.pcm.length) >> 1;
    let difference = 0;
    for (let i = 0; i < length; i += 1) difference += Math.abs(first.pcm.readInt16LE(i * 2) - other.pcm.readInt16LE(i * 2));
    assert.ok(difference / length > 100, `mean sample difference ${difference / length}`);
  });

  it('stops generating when the consumer aborts, and frees its queue slot', async () => {
    const engine = server.running.engines.byId('pocket-tts') as PocketEngine;
    const account = (await server.running.keys.authenticate(server.key))!;
    const prompt = JSON.parse((await server.preparedVoice(account.id, fileVoice))!.voicePrompt!);
    const controller = new AbortController();
    const long = Array.from({ length: 6 }, () => 'Every morning the baker opened the shop and sold warm bread to the village.').join(' ');
    let chunks = 0;
    for await (const _chunk of engine.synthesize(long, prompt, { signal: controller.signal })) {
      chunks += 1;
      controller.abort();
    }
    assert.equal(chunks, 1, 'no chunk after the abort');
    for (let waited = 0; engine.queueDepth().running > 0 && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(engine.queueDepth(), { running: 0, waiting: 0 });
  });

  it('serves realtime sessions, and cancel ends the response', async () => {
    const client = await RealtimeClient.connect(server);
    await client.waitFor('session.created');
    client.send({ type: 'session.update', session: { voice: realtimeVoice, mode: 'commit', response_format: 'pcm', sample_rate: 16000 } });
    await client.waitFor('session.updated');
    client.send({ type: 'input_text_buffer.append', text: 'Hello from the realtime socket, spoken by the neural engine. And then a lot more words so that it runs long.' });
    client.send({ type: 'input_text_buffer.commit' });
    const created = await client.waitFor('response.created');
    assert.equal(created.response.engine, 'pocket-tts');
    await client.waitFor('response.audio.delta');
    client.send({ type: 'response.cancel' });
    const done = await client.waitFor('response.done');
    assert.equal(done.response.status, 'cancelled');
    client.send({ type: 'session.finish' });
    await client.waitFor('session.finished');
  });

  it('speaks languages Pocket TTS does not (Chinese) with the preview engine', async () => {
    const response = await postJson(server, '/v1/audio/speech', { model: 'qwen3-tts-vc-2026-01-22', voice: fileVoice, input: '你好，世界。', response_format: 'wav' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-timbre-engine'), 'preview');
    await response.arrayBuffer();
    // Both prompts are kept: English goes back to Pocket without preparing again.
    const account = (await server.running.keys.authenticate(server.key))!;
    const stored = JSON.parse((await server.preparedVoice(account.id, fileVoice))!.voicePrompt!) as { prompts: Record<string, unknown> };
    assert.deepEqual(Object.keys(stored.prompts).sort(), ['pocket-tts', 'preview']);
    const english = await postJson(server, '/v1/audio/speech', { model: 'qwen3-tts-vc-2026-01-22', voice: fileVoice, input: 'Back to English.', response_format: 'wav' });
    assert.equal(english.headers.get('x-timbre-engine'), 'pocket-tts');
    await english.arrayBuffer();
  });
});

describe('ZipVoice engine through the API (synthetic model)', () => {
  const model = 'qwen3-tts-vc-realtime-2025-11-27';

  it('needs the reference transcript: refuses a Chinese voice without text, saying why', async () => {
    const refused = await server.enroll(createBody({ target_model: model, preferred_name: 'zv', language: 'zh' }, dataUrl('low.wav')));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'InvalidParameter');
    assert.match(refused.body.message, /served by zipvoice, which needs the transcript of the reference: send input\.text .*no speech recognizer is installed for language zh/);
  });

  it('takes the transcript from text, or from Moonshine for English, and keeps it with the voice', async () => {
    const account = (await server.running.keys.authenticate(server.key))!;
    // Read without waiting for any analysis after the create: this prompt is stored with the voice.
    const promptOf = async (voice: string) => JSON.parse((await server.running.repository.findVoice(account.id, voice))!.voicePrompt!) as { engine: string; referenceText: string };
    const withText = await server.enroll(createBody({ target_model: model, preferred_name: 'zvtext', text: '我的声音', language: 'zh' }, dataUrl('low.wav')));
    assert.equal(withText.status, 200, JSON.stringify(withText.body));
    assert.deepEqual(await promptOf(withText.body.output.voice).then((prompt) => [prompt.engine, prompt.referenceText]), ['zipvoice', '我的声音']);
    const heard = await server.enroll(createBody({ target_model: model, preferred_name: 'zvasr' }, dataUrl('human-en.wav')));
    assert.equal(heard.status, 200, JSON.stringify(heard.body));
    const prompt = await promptOf(heard.body.output.voice);
    assert.equal(prompt.engine, 'zipvoice');
    assert.match(prompt.referenceText.toLowerCase(), /[a-z]{3,}.*[a-z]{3,}/, `Moonshine's transcript: ${prompt.referenceText}`);
  });

  it('speaks Chinese and English in a realtime session', async () => {
    const created = await server.enroll(createBody({ target_model: model, preferred_name: 'zvrt', text: readFileSync(audioPath('human-en.txt'), 'utf8').trim() }, dataUrl('human-en.wav')));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const voice = created.body.output.voice as string;
    const client = await RealtimeClient.connect(server, model);
    await client.waitFor('session.created');
    client.send({ type: 'session.update', session: { voice, mode: 'commit', response_format: 'pcm', sample_rate: 24000 } });
    await client.waitFor('session.updated');
    client.send({ type: 'input_text_buffer.append', text: '你好世界。我的声音。 hello world, this is my voice.' });
    client.send({ type: 'input_text_buffer.commit' });
    const response = await client.waitFor('response.created');
    assert.equal(response.response.engine, 'zipvoice');
    const done = await client.waitFor('response.done');
    assert.equal(done.response.status, 'completed');
    const audio = client.audioOf(response.response.id);
    assert.ok(audio.length / 2 / 24000 > 0.5, `${audio.length / 2 / 24000} s`);
    client.send({ type: 'session.finish' });
    await client.waitFor('session.finished');
  });
});
