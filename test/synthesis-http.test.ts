import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rms } from '../src/audio/analysis.js';
import { collectAudio, durationSeconds } from '../src/audio/types.js';
import { createVoice, ManualClock, postJson, probeAudio, startTestServer, type TestServer } from './helpers.js';

const generationPath = '/api/v1/services/aigc/multimodal-generation/generation';
const fileModel = 'qwen3-tts-vc-2026-01-22';
const text = 'The ferry leaves at noon. Bring a warm coat, because the wind on the water is cold. We will be back before dark!';

interface SseBlock {
  id: number;
  event: string;
  status: string;
  data: Record<string, any>;
}

/** Parses the provider's SSE framing strictly: id, event, :HTTP_STATUS, data; no spaces after colons. */
function parseSse(body: string): SseBlock[] {
  assert.ok(body.endsWith('\n\n'), 'the stream ends with a blank line');
  return body
    .slice(0, -2)
    .split('\n\n')
    .map((block) => {
      const lines = block.split('\n');
      assert.equal(lines.length, 4, `four lines per event: ${JSON.stringify(lines.map((line) => line.slice(0, 40)))}`);
      const [id, event, status, data] = lines as [string, string, string, string];
      assert.match(id, /^id:\d+$/);
      assert.match(event, /^event:(result|error)$/);
      assert.match(status, /^:HTTP_STATUS\/\d{3}$/);
      assert.match(data, /^data:\{/);
      return { id: Number(id.slice(3)), event: event.slice(6), status: status.slice(13), data: JSON.parse(data.slice(5)) as Record<string, any> };
    });
}

let server: TestServer;
let voice: string;
const clock = new ManualClock(Date.now());

before(async () => {
  server = await startTestServer({}, clock);
  voice = await createVoice(server, fileModel);
});
after(async () => {
  await server.stop();
});

function generate(body: unknown, headers: Record<string, string> = {}, key?: string | null) {
  return postJson(server, generationPath, body, headers, key);
}

describe('non-realtime HTTP: file response', () => {
  let fileSeconds = 0;

  it('answers with the full response shape and a link to a WAV of plausible duration', async () => {
    const response = await generate({ model: fileModel, input: { text, voice, language_type: 'English' } });
    const body = (await response.json()) as Record<string, any>;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(response.headers.get('x-timbre-engine'), 'preview');
    assert.equal(body.status_code, 200);
    assert.equal(typeof body.request_id, 'string');
    assert.equal(body.code, '');
    assert.equal(body.message, '');
    assert.equal(body.output.text, null);
    assert.equal(body.output.finish_reason, 'stop');
    assert.equal(body.output.choices, null);
    assert.equal(body.output.audio.data, '');
    assert.match(body.output.audio.id, /^audio_[0-9a-f]{32}$/);
    const expiresIn = body.output.audio.expires_at - clock.now() / 1000;
    assert.ok(Math.abs(expiresIn - 24 * 3600) < 5, `expires in ${expiresIn} s`);
    assert.deepEqual(body.usage, { input_tokens: 0, output_tokens: 0, characters: [...text].length });

    const file = await fetch(body.output.audio.url);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'audio/wav');
    const probed = await probeAudio(new Uint8Array(await file.arrayBuffer()), 'wav');
    assert.equal(probed.codec, 'pcm_s16le');
    assert.equal(probed.sampleRate, 24000);
    // About 25 words: 4-15 s whatever the voice's pace.
    assert.ok(probed.seconds > 4 && probed.seconds < 15, `${probed.seconds} s`);
    fileSeconds = probed.seconds;
  });

  it('streams over SSE in the provider framing; the chunks add up to the same audio', async () => {
    const response = await generate({ model: fileModel, input: { text, voice } }, { 'X-DashScope-SSE': 'enable' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = parseSse(await response.text());
    assert.ok(events.length >= 3, `${events.length} events`);
    events.forEach((event, index) => {
      assert.equal(event.id, index + 1);
      assert.equal(event.event, 'result');
      assert.equal(event.status, '200');
      assert.equal(event.data.output.finish_reason, index === events.length - 1 ? 'stop' : 'null');
    });
    const pcm = Buffer.concat(events.slice(0, -1).map((event) => Buffer.from(event.data.output.audio.data as string, 'base64')));
    const streamedSeconds = pcm.length / 2 / 24000;
    assert.ok(Math.abs(streamedSeconds - fileSeconds) / fileSeconds < 0.05, `streamed ${streamedSeconds} s vs file ${fileSeconds} s`);
    const last = events[events.length - 1]!.data;
    assert.equal(last.output.audio.data, '');
    assert.match(last.output.audio.url, /\/api\/v1\/audio\/audio_[0-9a-f]{32}\.wav\?expires=\d+&signature=/);
    assert.equal(last.usage.characters, [...text].length);
  });

  it('sends the first chunk before the last sentence is spoken', async () => {
    const long = Array.from({ length: 12 }, (_, i) => `This is sentence number ${i + 1} of a long text.`).join(' ');
    const started = performance.now();
    const response = await generate({ model: fileModel, input: { text: long, voice } }, { 'X-DashScope-SSE': 'enable' });
    const reader = response.body!.getReader();
    let firstAt = 0;
    let received = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      firstAt ||= performance.now() - started;
      received += Buffer.from(next.value).toString('utf8');
    }
    const total = performance.now() - started;
    const events = parseSse(received);
    assert.equal(events[events.length - 1]!.data.output.finish_reason, 'stop');
    assert.ok(firstAt < total / 2, `first bytes at ${firstAt.toFixed(0)} ms of ${total.toFixed(0)} ms`);
  });

  it('records usage in characters and the voice\'s last use', async () => {
    const account = (await server.running.keys.authenticate(server.key))!;
    const before = await server.running.repository.usageTotal(account.id, 'speech.characters');
    clock.advance(60_000);
    const response = await generate({ model: fileModel, input: { text: 'Short one.', voice } });
    assert.equal(response.status, 200);
    assert.equal(await server.running.repository.usageTotal(account.id, 'speech.characters'), before + 10);
    const record = await server.preparedVoice(account.id, voice);
    assert.equal(record!.lastUsedAt, clock.now());
  });
});

describe('the rehearsal a server runs before it listens', () => {
  it('speaks through a request\'s path and records no usage, voice or synthesis', async () => {
    const { running } = server;
    const account = (await running.keys.authenticate(server.key))!;
    const usageBefore = await running.repository.usageTotal(account.id, 'speech.characters');
    const voicesBefore = (await running.voices.list(account, 0, 100)).totalCount;
    const metricsBefore = await (await fetch(`${server.url}/metrics`)).text();
    const [voice] = await running.engine.rehearse();
    const audio = await collectAudio(running.speech.rehearse(running.engine, voice!), running.engine.sampleRate);
    // Two sentences ("... at nine thirty, on May second. It lasts fifteen minutes."): seconds of speech, not a token chunk.
    assert.ok(durationSeconds(audio) > 2.5, `${durationSeconds(audio).toFixed(2)} s spoken`);
    assert.ok(rms(audio.samples) > 0.01, 'it is speech, not silence');
    assert.equal(await running.repository.usageTotal(account.id, 'speech.characters'), usageBefore);
    assert.equal((await running.voices.list(account, 0, 100)).totalCount, voicesBefore);
    const countOf = (metrics: string) => metrics.match(/timbre_synthesis_rtf_count\{engine="preview"\} (\d+)/)?.[1] ?? '0';
    assert.equal(countOf(await (await fetch(`${server.url}/metrics`)).text()), countOf(metricsBefore));
  });
});

describe('stored prompts of an older engine version', () => {
  it('are prepared again from the stored reference when the voice next speaks', async () => {
    const account = (await server.running.keys.authenticate(server.key))!;
    const current = JSON.parse((await server.preparedVoice(account.id, voice))!.voicePrompt!) as { prompts?: Record<string, Record<string, any>> } & Record<string, any>;
    const prompt = current.prompts?.['preview'] ?? current;
    assert.equal(prompt['version'], server.running.engine.promptVersion);
    assert.ok(prompt['correction'], 'version 3 prompts hold the spectral correction');
    assert.equal(typeof prompt['paceRatio'], 'number', 'version 4 prompts hold the pace ratio');
    assert.ok(prompt['correction']['classes'], 'version 5 prompts hold the sound classes of the correction');
    assert.equal(prompt['stats']['formants'].length, 3, 'version 6 prompts hold the median formants');
    // A voice enrolled before version 2: no version, no correction, no formants, and a syllable rate read the old way.
    const { formants: ___, ...olderStats }: Record<string, any> = prompt['stats'];
    const { correction: _, paceRatio: __, ...older }: Record<string, any> = { ...prompt, stats: { ...olderStats, syllableRate: 1 } };
    delete older['version'];
    await server.running.repository.updateVoicePrompt(voice, JSON.stringify(older));
    const response = await generate({ model: fileModel, input: { text: 'Good morning.', voice, language_type: 'English' } });
    assert.equal(response.status, 200, await response.text());
    const stored = JSON.parse((await server.preparedVoice(account.id, voice))!.voicePrompt!) as { prompts: Record<string, Record<string, any>> };
    assert.equal(stored.prompts['preview']!['version'], server.running.engine.promptVersion);
    assert.equal(stored.prompts['preview']!['stats']['formants'].length, 3, 'prepared again, it holds the formants');
    // espeak-ng's variants jitter at random, so the same reference gives a close, not equal, correction.
    const again = stored.prompts['preview']!['correction'].cepstrum as number[];
    const first = prompt['correction'].cepstrum as number[];
    const dot = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + value * b[index]!, 0);
    assert.ok(dot(again, first) / Math.sqrt(dot(again, again) * dot(first, first)) > 0.9, 'the same reference gives nearly the same correction');
    assert.equal(stored.prompts['preview']!['stats'].syllableRate, prompt['stats'].syllableRate);
    // Each test voice's enrollments read it within 4 % of one another (this low voice 1.033-1.045, the slow one 0.936-0.971).
    const paceChange = stored.prompts['preview']!['paceRatio'] / prompt['paceRatio'] - 1;
    assert.ok(Math.abs(paceChange) < 0.08, `pace ratio ${prompt['paceRatio']} then ${stored.prompts['preview']!['paceRatio']}`);
  });
});

describe('non-realtime HTTP: signed links', () => {
  it('refuses a tampered signature and an expired link, and deletes expired files', async () => {
    const body = (await (await generate({ model: fileModel, input: { text: 'Keep this.', voice } })).json()) as Record<string, any>;
    const url = new URL(body.output.audio.url as string);
    const tampered = new URL(url);
    tampered.searchParams.set('signature', 'A'.repeat(43));
    const refused = await fetch(tampered);
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as Record<string, unknown>).code, 'AccessDenied');
    const stretched = new URL(url);
    stretched.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    assert.equal((await fetch(stretched)).status, 403, 'the expiry is signed too');

    const blob = join(server.dataDir, 'blobs', 'generated', `${body.output.audio.id}.wav`);
    assert.ok(existsSync(blob));
    clock.advance(24 * 3600 * 1000 + 1000);
    const expired = await fetch(url);
    assert.equal(expired.status, 403);
    assert.match(((await expired.json()) as Record<string, any>).message, /expired/);
    assert.ok((await server.running.generatedAudio.sweepExpired()) >= 1);
    assert.ok(!existsSync(blob), 'the file is gone after the sweep');
  });
});

describe('binding: voice and model', () => {
  it('refuses a model other than the voice\'s target model, saying which', async () => {
    const realtimeVoice = await createVoice(server, 'qwen3-tts-vc-realtime-2026-01-15');
    const response = await generate({ model: fileModel, input: { text, voice: realtimeVoice } });
    const body = (await response.json()) as Record<string, any>;
    assert.equal(response.status, 400);
    assert.equal(body.code, 'InvalidParameter');
    assert.match(body.message, /created for target_model qwen3-tts-vc-realtime-2026-01-15/);
    const realtimeModel = await generate({ model: 'qwen3-tts-vc-realtime-2026-01-15', input: { text, voice: realtimeVoice } });
    assert.equal(realtimeModel.status, 400);
    assert.match(((await realtimeModel.json()) as Record<string, any>).message, /WebSocket/);
  });

  it('refuses another account\'s voice as if it did not exist', async () => {
    const other = await server.running.keys.issue('someone-else');
    const response = await generate({ model: fileModel, input: { text, voice } }, {}, other.key);
    const body = (await response.json()) as Record<string, any>;
    assert.equal(response.status, 400);
    assert.match(body.message, /does not exist in this account/);
  });
});

describe('bad input gets a DashScope error and the server keeps serving', () => {
  // Bodies are built when each test runs: `voice` exists only after `before`.
  const cases: [string, () => unknown, number, string, RegExp][] = [
    ['bad JSON', () => ('{"model": '), 400, 'InvalidParameter', /not valid JSON/],
    ['no model', () => ({ input: { text, voice } }), 400, 'BadRequest.EmptyModel', /model is required/],
    ['no text', () => ({ model: fileModel, input: { voice } }), 400, 'InvalidParameter', /input\.text is required/],
    ['empty text', () => ({ model: fileModel, input: { text: '  ', voice } }), 400, 'InvalidParameter', /text is empty/],
    ['oversized text', () => ({ model: fileModel, input: { text: 'a'.repeat(20_001), voice } }), 400, 'InvalidParameter', /at most 20000 characters/],
    ['unknown language_type', () => ({ model: fileModel, input: { text, voice, language_type: 'Klingon' } }), 400, 'InvalidParameter', /language_type/],
    ['unknown voice', () => ({ model: fileModel, input: { text, voice: 'qwen-tts-vc-x-voice-20260101000000000-abcd' } }), 400, 'InvalidParameter', /does not exist/],
  ];
  for (const [name, body, status, code, message] of cases) {
    it(name, async () => {
      const response = await generate(body());
      const answer = (await response.json()) as Record<string, any>;
      assert.equal(response.status, status, JSON.stringify(answer));
      assert.equal(answer.code, code);
      assert.match(answer.message, message);
      assert.equal(typeof answer.request_id, 'string');
    });
  }

  it('answers Throttling with Retry-After beyond the per-key rate limit', async () => {
    const limited = await startTestServer({ TIMBRE_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const limitedVoice = await createVoice(limited, fileModel);
      const call = () => postJson(limited, generationPath, { model: fileModel, input: { text: 'Hi.', voice: limitedVoice } });
      assert.equal((await call()).status, 200);
      assert.equal((await call()).status, 200);
      const third = await call();
      assert.equal(third.status, 429);
      assert.equal(((await third.json()) as Record<string, any>).code, 'Throttling');
      assert.ok(Number(third.headers.get('retry-after')) > 0);
    } finally {
      await limited.stop();
    }
  });
});
