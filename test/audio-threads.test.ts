import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ResamplerPool, resamplers } from '../src/audio/resampler.js';
import { SpeechDetector, SpeechDetectorThread } from '../src/audio/vad.js';
import { WatermarkKey } from '../src/audio/watermark.js';
import { audioPath, createVoice, decodeForVad, startTestServer, type TestServer } from './helpers.js';

// Silero VAD on its own thread finds what it found on the event loop; a voice's watermark and
// the resampler pool give the same output for the same input, whatever ran before.

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.stop();
});

describe('Silero VAD on its own thread', () => {
  it('finds the same spans as on the calling thread, for several uploads at once', async () => {
    const modelPath = join(server.config.modelsDir, 'silero_vad.onnx');
    const here = new SpeechDetector(modelPath, 20);
    const thread = new SpeechDetectorThread(modelPath, 20, 8);
    try {
      const uploads = await Promise.all(['low.wav', 'human-en.wav', 'human-fr.wav', 'clipped.wav', 'noise.wav'].map((file) => decodeForVad(audioPath(file))));
      const onThread = await Promise.all(uploads.map((audio) => thread.detect(audio)));
      uploads.forEach((audio, index) => assert.deepEqual(onThread[index], here.detect(audio)));
      assert.ok(onThread.slice(0, 4).every((spans) => spans.length > 0), 'speech found in every spoken upload');
      await assert.rejects(thread.detect({ samples: new Float32Array(16000), sampleRate: 24000 }), /16000 Hz/);
    } finally {
      await thread.close();
    }
  });

  it('refuses to start without its model, naming the file', () => {
    assert.throws(() => new SpeechDetectorThread('/nonexistent/silero_vad.onnx', 20, 1), /Silero VAD model not found at \/nonexistent\/silero_vad\.onnx/);
  });
});

describe("a voice's watermark", () => {
  it('is the same wherever and whenever it is made, and differs from voice to voice', async () => {
    const accountId = (await server.running.keys.authenticate(server.key))!.id;
    const [first, second] = [await createVoice(server, 'qwen3-tts-vc-2026-01-22'), await createVoice(server, 'qwen3-tts-vc-2026-01-22')];
    const rate = server.running.engine.sampleRate;
    const keyBytes = Buffer.from(await server.running.repository.settingOrInsert('watermark_key', ''), 'base64');
    const markOf = (voiceName: string) => server.running.watermark!.markFor({ accountId, voiceName }, rate);
    const [markOfFirst, markOfSecond] = await Promise.all([markOf(first), markOf(second)]);
    // Made afresh by other key objects: one with resamplers of its own, one with the pool the server shares.
    assert.deepEqual(markOfFirst, await new WatermarkKey(keyBytes, new ResamplerPool()).markPeriod({ accountId, voiceName: first }, rate));
    assert.deepEqual(markOfFirst, await new WatermarkKey(keyBytes, resamplers).markPeriod({ accountId, voiceName: first }, rate));
    assert.notDeepEqual(markOfFirst, markOfSecond);
    assert.equal(markOfFirst.length, 4);
    assert.ok(markOfFirst.every((band) => band.length === rate && band.every(Number.isFinite)));
  });
});

describe('the resampler pool', () => {
  it('resamples a whole signal the same way every time', async () => {
    const pool = new ResamplerPool();
    const signal = Float32Array.from({ length: 16000 }, (_, i) => Math.sin(i / 7) * 0.5);
    const first = await pool.resampleWhole(signal, 16000, 22050);
    // A pooled converter's second signal starts from a fresh state too.
    const second = await pool.resampleWhole(signal, 16000, 22050);
    assert.deepEqual(second, first);
    assert.deepEqual(await new ResamplerPool().resampleWhole(signal, 16000, 22050), first);
    assert.ok(Math.abs(first.length - 22050) <= 1, `length ${first.length}`);
    assert.ok(first.every(Number.isFinite));
  });
});
