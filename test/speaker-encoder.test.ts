// The speaker encoder against known values: librosa's filterbank, Resemblyzer's slicing and
// silence smoothing (values printed by Resemblyzer 0.1.4 / librosa 0.11 / scipy 1.17), and
// Resemblyzer's own embeddings and mel frames of three LibriSpeech files
// (test/fixtures/resemblyzer-reference.json, written by `npm run bench:speaker-equivalence -- --write-fixture`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SpeakerEncoder, speakerEncoderPath, speakerSimilarity } from '../src/audio/speaker/encoder.js';
import { keepVoiced, normalizeVolume, partialStarts, resemblyzerPartials, resemblyzerTrim } from '../src/audio/speaker/frontend.js';
import { binCount, hzToMel, melFilterbank, melToHz, resemblyzerMel } from '../src/audio/speaker/mel.js';
import { packageRoot } from '../src/paths.js';
import { equalErrorRate, oneSpeakerSpread } from '../src/voices/speaker-check.js';
import { decodeRecording } from '../bench/reference-audio.js';

const modelsDir = join(packageRoot, 'models');
const fixture = JSON.parse(readFileSync(join(packageRoot, 'test', 'fixtures', 'resemblyzer-reference.json'), 'utf8')) as {
  file: string;
  embeddingUntrimmed: number[];
  melEveryTenthFrame: number[][];
}[];

let encoder: SpeakerEncoder | null = null;
const opened = () => (encoder ??= new SpeakerEncoder(speakerEncoderPath(modelsDir), join(modelsDir, 'silero_vad.onnx'), 2, 8));
after(async () => {
  await encoder?.close();
});

const close = (actual: number, expected: number, relative = 1e-5) => assert.ok(Math.abs(actual - expected) <= relative * Math.max(Math.abs(expected), 1e-6), `${actual} != ${expected}`);

describe('mel front end: librosa.feature.melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40)', () => {
  it("is Slaney's mel scale", () => {
    close(hzToMel(1000), 15, 1e-12);
    close(melToHz(hzToMel(3456)), 3456, 1e-12);
    close(hzToMel(500), 7.5, 1e-12);
  });

  it("matches librosa.filters.mel's weights", () => {
    const weights = melFilterbank(resemblyzerMel);
    const bins = binCount(resemblyzerMel);
    assert.equal(bins, 201);
    close(weights.reduce((sum, value) => sum + value, 0), 0.9994971752166748, 1e-6);
    [0, 0.007390209473669529, 0.012404520995914936, 0.005014311522245407].forEach((value, bin) => close(weights[bin]!, value, 1e-6));
    const row20 = [0.0008176397532224655, 0.00316024012863636, 0.0055028400383889675, 0.007191917393356562, 0.005020477343350649, 0.0028490382246673107, 0.0006775985821150243];
    row20.forEach((value, index) => close(weights[20 * bins + 41 + index]!, value, 1e-6));
    assert.equal(weights[20 * bins + 40], 0);
    assert.equal(weights[20 * bins + 48], 0);
    close(weights[39 * bins + 172]!, 2.0722594854305498e-5, 1e-4);
    close(weights[39 * bins + 199]!, 0.00012151539704063907, 1e-5);
    assert.equal(weights[39 * bins + 200], 0);
  });

  it("gives Resemblyzer's mel frames for the first second of real speech", async () => {
    for (const reference of fixture) {
      const audio = decodeRecording(join(packageRoot, '..', reference.file), 16000);
      const first = { samples: normalizeVolume(audio.samples, -30, true).slice(0, 16000), sampleRate: 16000 };
      const { mel } = await opened().analyse(first, { trimSilence: false });
      reference.melEveryTenthFrame.forEach((frame, index) => frame.forEach((value, channel) => close(mel[index * 10 * 40 + channel]!, value, 2e-4)));
    }
  });
});

describe("preprocessing and partial utterances: resemblyzer/audio.py and compute_partial_slices", () => {
  it('slices 1.6 s partials every 77 frames, dropping a last partial covered less than 75 %', () => {
    const expected: [number, number[], number][] = [
      [8000, [0], 25600],
      [25600, [0], 25600],
      [30000, [0], 30000],
      [160000, [0, 77, 154, 231, 308, 385, 462, 539, 616, 693, 770, 847], 161120],
    ];
    for (const [samples, starts, paddedTo] of expected) {
      const sliced = partialStarts(samples, resemblyzerPartials);
      assert.deepEqual(sliced.starts, starts, `${samples} samples`);
      // Resemblyzer pads to the last slice's end when it reaches past the audio.
      assert.equal(sliced.paddedLength, Math.max(samples, paddedTo), `${samples} samples`);
    }
  });

  it('smooths voice flags as Resemblyzer does (moving average of 8, dilation by 7)', () => {
    const flags = '00000111000000000000111111111100000000000000000000101100000000000'.split('').map((flag) => flag === '1');
    const expected = '00000000000000000111111111111111000000000000000000000000000000000';
    const windowSamples = 480;
    const samples = Float32Array.from({ length: flags.length * windowSamples }, (_, index) => Math.floor(index / windowSamples));
    const kept = keepVoiced(samples, flags, resemblyzerTrim);
    const keptWindows = new Set(Array.from({ length: kept.length / windowSamples }, (_, index) => kept[index * windowSamples]!));
    assert.equal(flags.map((_, window) => (keptWindows.has(window) ? '1' : '0')).join(''), expected);
  });

  it('raises quiet audio to -30 dBFS and leaves louder audio alone', () => {
    const quiet = Float32Array.from({ length: 16000 }, (_, index) => 0.001 * Math.sin(index / 7));
    const raised = normalizeVolume(quiet, -30, true);
    const rms = Math.sqrt(raised.reduce((sum, value) => sum + (value * 32767) ** 2, 0) / raised.length);
    close(20 * Math.log10(rms / 32767), -30, 1e-6);
    const loud = quiet.map((value) => value * 300);
    assert.equal(normalizeVolume(loud, -30, true), loud);
  });
});

describe("embeddings: the same as Resemblyzer's", () => {
  it("embeds volume-normalised LibriSpeech speech as Resemblyzer does (cosine >= 0.9999 per file)", async () => {
    for (const reference of fixture) {
      const audio = decodeRecording(join(packageRoot, '..', reference.file), 16000);
      const embedding = await opened().embed(audio, { trimSilence: false });
      assert.equal(embedding.length, 256);
      const cosine = speakerSimilarity(embedding, Float32Array.from(reference.embeddingUntrimmed));
      assert.ok(cosine >= 0.9999, `${reference.file}: cosine ${cosine}`);
    }
  });

  it('tells the speakers apart: each file is closer to itself, trimmed, than to the others', async () => {
    const trimmed = await Promise.all(fixture.map((reference) => opened().embed(decodeRecording(join(packageRoot, '..', reference.file), 16000))));
    trimmed.forEach((embedding, index) => {
      const own = speakerSimilarity(embedding, Float32Array.from(fixture[index]!.embeddingUntrimmed));
      fixture.forEach((other, otherIndex) => {
        if (otherIndex !== index) assert.ok(own > speakerSimilarity(embedding, Float32Array.from(other.embeddingUntrimmed)));
      });
    });
  });
});

describe('speaker-check statistics', () => {
  it('finds the equal error rate where false rejections meet false acceptances', () => {
    assert.deepEqual(equalErrorRate([0.9, 0.8, 0.7], [0.1, 0.2, 0.3]), { rate: 0, threshold: 0.7 });
    const overlapping = equalErrorRate([0.9, 0.8, 0.6, 0.4], [0.1, 0.5, 0.3, 0.2]);
    assert.equal(overlapping.rate, 0.25);
  });

  it('reads the spread of a recording from its partials: 1 for one direction, low for two', () => {
    const one = Float32Array.from([1, 0]);
    const other = Float32Array.from([0, 1]);
    assert.equal(oneSpeakerSpread([one, one, one, one, one, one]), 1);
    assert.ok(oneSpeakerSpread([one, one, one, other, other, other]) < 0.01);
    assert.equal(oneSpeakerSpread([one, other]), 1, 'too few partials for two segments');
  });
});
