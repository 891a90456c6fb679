import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { encoderTrimDetection } from '../src/audio/speaker/encoder.js';
import type { Audio } from '../src/audio/types.js';
import { batchedSileroGraph, BatchedSpeechDetector } from '../src/audio/vad-batched.js';
import { SpeechDetector, uploadDetection, vadSampleRate, type DetectorOptions, type SpeechSpan } from '../src/audio/vad.js';
import { packageRoot } from '../src/paths.js';
import { audioPath, decodeForVad } from './helpers.js';

// The batched Silero run (every window in one onnxruntime call, spans decided in TypeScript)
// must find exactly what sherpa-onnx's Vad finds window by window, on real speech.

const modelPath = join(packageRoot, 'models', 'silero_vad.onnx');
const librispeech = join(packageRoot, '..', 'shared', 'audio', 'librispeech-train-clean');

let recordings: Audio[] = [];
before(async () => {
  const debian = ['low.wav', 'high.wav', 'human-en.wav', 'human-fr.wav', 'clipped.wav', 'noise.wav'].map((file) => audioPath(file));
  const libri = readdirSync(librispeech)
    .filter((name) => name.endsWith('.flac'))
    .sort()
    .slice(0, 16)
    .map((name) => join(librispeech, name));
  recordings = await Promise.all([...debian, ...libri].map(decodeForVad));
});

/** Each recording's spans from sherpa-onnx and from the batched run, with these settings. */
async function bothWays(options: DetectorOptions, maxSpanSeconds: number): Promise<{ sherpa: SpeechSpan[][]; batched: SpeechSpan[][] }> {
  const sherpa = new SpeechDetector(modelPath, maxSpanSeconds, options);
  const batched = await BatchedSpeechDetector.open(modelPath, maxSpanSeconds, 2, options);
  try {
    const found = { sherpa: [] as SpeechSpan[][], batched: [] as SpeechSpan[][] };
    for (const audio of recordings) {
      found.sherpa.push(sherpa.detect(audio));
      found.batched.push(await batched.detect(audio));
    }
    return found;
  } finally {
    await batched.release();
  }
}

describe('Silero VAD in one batched run', () => {
  it("finds sherpa-onnx's spans exactly: upload settings (64 ms windows)", async () => {
    const { sherpa, batched } = await bothWays(uploadDetection, 20);
    assert.deepEqual(batched, sherpa);
    assert.ok(sherpa.flat().length >= recordings.length, `${sherpa.flat().length} spans over ${recordings.length} recordings`);
  });

  it("finds sherpa-onnx's spans exactly: the encoder's trim settings (32 ms windows, short pauses)", async () => {
    const { sherpa, batched } = await bothWays(encoderTrimDetection, 30);
    assert.deepEqual(batched, sherpa);
  });

  it("finds sherpa-onnx's spans exactly when utterances outgrow the longest span (its stricter settings)", async () => {
    const { sherpa, batched } = await bothWays(uploadDetection, 3);
    assert.deepEqual(batched, sherpa);
    // The path is taken: with a 3 s longest span, the spans are not those of a 20 s one.
    const { sherpa: ordinary } = await bothWays(uploadDetection, 20);
    assert.notDeepEqual(sherpa, ordinary);
  });

  it('reads only whole windows and answers no spans for silence or for less than a window', async () => {
    const detector = await BatchedSpeechDetector.open(modelPath, 20, 1);
    try {
      assert.equal((await detector.probabilities(new Float32Array(uploadDetection.windowSamples * 3 + 100))).length, 3);
      assert.deepEqual(await detector.detect({ samples: new Float32Array(vadSampleRate * 2), sampleRate: vadSampleRate }), []);
      assert.deepEqual(await detector.detect({ samples: new Float32Array(100), sampleRate: vadSampleRate }), []);
      await assert.rejects(detector.detect({ samples: new Float32Array(16000), sampleRate: 24000 }), /16000 Hz/);
    } finally {
      await detector.release();
    }
  });

  it('refuses a graph that is not the Silero VAD v4 it rewrites, saying how to restore it', () => {
    const { onnx } = onnxProto;
    const other = onnx.ModelProto.encode({ irVersion: 8, graph: { name: 'other', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }] } }).finish();
    assert.throws(() => batchedSileroGraph(other), /not the Silero VAD v4 graph Timbre rewrites \(no sample-rate branch\); run `npm install`/);
  });
});

after(() => {
  recordings = [];
});
