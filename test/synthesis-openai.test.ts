import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createVoice, postJson, probeAudio, startTestServer, type TestServer } from './helpers.js';

const model = 'qwen3-tts-vc-2026-01-22';
const input = 'Good morning. The meeting moved to half past ten, in the small room upstairs.';

let server: TestServer;
let voice: string;
before(async () => {
  server = await startTestServer();
  voice = await createVoice(server, model);
});
after(async () => {
  await server.stop();
});

function speech(body: Record<string, unknown>) {
  return postJson(server, '/v1/audio/speech', { model, input, voice, ...body });
}

describe('OpenAI-compatible POST /v1/audio/speech', () => {
  const formats: [string, string, string][] = [
    ['mp3', 'mp3', 'mp3'],
    ['opus', 'ogg', 'opus'],
    ['aac', 'aac', 'aac'],
    ['flac', 'flac', 'flac'],
    ['wav', 'wav', 'pcm_s16le'],
  ];
  for (const [format, extension, codec] of formats) {
    it(`response_format ${format}: decodes with ffmpeg, 24 kHz, plausible duration`, async () => {
      const response = await speech({ response_format: format });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-timbre-engine'), 'preview');
      const probed = await probeAudio(new Uint8Array(await response.arrayBuffer()), extension);
      assert.equal(probed.codec, codec);
      assert.equal(probed.sampleRate, codec === 'opus' ? 48000 : 24000);
      assert.ok(probed.seconds > 2.5 && probed.seconds < 10, `${probed.seconds} s`);
    });
  }

  it('pcm is raw 16-bit 24 kHz; speed 2 gives shorter audio than speed 1', async () => {
    const normal = Buffer.from(await (await speech({ response_format: 'pcm' })).arrayBuffer());
    const fast = Buffer.from(await (await speech({ response_format: 'pcm', speed: 2 })).arrayBuffer());
    const normalSeconds = normal.length / 2 / 24000;
    const fastSeconds = fast.length / 2 / 24000;
    assert.ok(normalSeconds > 2.5, `${normalSeconds} s`);
    assert.ok(fastSeconds < normalSeconds * 0.75, `speed 2: ${fastSeconds} s vs ${normalSeconds} s`);
  });

  it('stream_format sse: speech.audio.delta events, then speech.audio.done with usage', async () => {
    const response = await speech({ response_format: 'pcm', stream_format: 'sse' });
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = (await response.text())
      .split('\n\n')
      .filter((block) => block.length > 0)
      .map((block) => {
        assert.match(block, /^data: \{/);
        return JSON.parse(block.slice(6)) as Record<string, any>;
      });
    const deltas = events.slice(0, -1);
    assert.ok(deltas.length > 0);
    for (const delta of deltas) assert.equal(delta.type, 'speech.audio.delta');
    const done = events[events.length - 1]!;
    assert.equal(done.type, 'speech.audio.done');
    assert.equal(done.usage.input_tokens, input.length);
    const seconds = Buffer.concat(deltas.map((delta) => Buffer.from(delta.audio as string, 'base64'))).length / 2 / 24000;
    assert.ok(seconds > 2.5, `${seconds} s`);
  });

  it('errors carry both the OpenAI and the DashScope fields', async () => {
    const wrongModel = await speech({ model: 'tts-1' });
    assert.equal(wrongModel.status, 400);
    const body = (await wrongModel.json()) as Record<string, any>;
    assert.match(body.error.message, /created for target_model qwen3-tts-vc-2026-01-22/);
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.code, 'InvalidParameter');
    assert.equal(typeof body.request_id, 'string');
    const badSpeed = await speech({ speed: 9 });
    assert.equal(badSpeed.status, 400);
    assert.match(((await badSpeed.json()) as Record<string, any>).error.message, /speed must be at most 4/);
    const badFormat = await speech({ response_format: 'wma' });
    assert.equal(badFormat.status, 400);
    const noKey = await postJson(server, '/v1/audio/speech', { model, input, voice }, {}, null);
    assert.equal(noKey.status, 401);
  });
});

describe('OpenAI-compatible GET /v1/audio/voices', () => {
  it('lists the caller\'s voices only', async () => {
    const other = await server.running.keys.issue('other-openai');
    await createVoice(server, model, 'high.wav', other.key);
    const response = await fetch(`${server.url}/v1/audio/voices`, { headers: { authorization: `Bearer ${server.key}` } });
    const body = (await response.json()) as Record<string, any>;
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((entry: Record<string, unknown>) => entry.id), [voice]);
    assert.equal(body.data[0].target_model, model);
  });
});
