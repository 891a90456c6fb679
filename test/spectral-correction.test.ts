import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { correctionLayout, frameAnalyser } from '../src/audio/spectral-frames.js';
import { joinSamples } from '../src/audio/types.js';
import { CorrectionFilter, spectralCorrection, type SpectralCorrection } from '../src/engines/preview/spectral-correction.js';

// The preview engine's spectral correction on sounds built so that the right answer is known:
// two kinds of sound (a voiced vowel-like tone and a hiss) alternate in both recordings, and the
// "speaker" differs from "espeak" in one kind only. One static correction can only split the
// difference; the sound classes must give it to the kind that differs and not to the other.

const rate = correctionLayout.sampleRate;
const segment = Math.round(0.15 * rate);
/** A segment and the 10 ms of silence after it. */
const period = segment + Math.round(0.01 * rate);

/** A deterministic noise source (a linear congruential generator), so every run reads the same signals. */
function noise(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  };
}

/** Harmonics of a wandering F0, shaped by resonances at 500 Hz and 1.5 kHz (the second scaled by `secondResonance`). */
function vowel(into: Float32Array, from: number, length: number, secondResonance: number): void {
  let phase = 0;
  for (let i = 0; i < length; i += 1) {
    const t = (from + i) / rate;
    const f0 = 140 + 15 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += (2 * Math.PI * f0) / rate;
    let value = 0;
    for (let h = 1; h * f0 < 5000; h += 1) {
      const f = h * f0;
      const amplitude = 1 / (1 + ((f - 500) / 120) ** 2) + secondResonance / (1 + ((f - 1500) / 150) ** 2) + 0.02;
      value += amplitude * Math.sin(h * phase);
    }
    into[from + i] = 0.05 * value;
  }
}

/** Hiss: white noise, first-differenced so it leans to the highs. */
function hiss(into: Float32Array, from: number, length: number, random: () => number): void {
  let previous = 0;
  for (let i = 0; i < length; i += 1) {
    const value = random();
    into[from + i] = 0.1 * (value - previous);
    previous = value;
  }
}

/** Vowel and hiss alternating, 150 ms each, with 10 ms of silence between. */
function recording(seconds: number, secondResonance: number, seed: number): Float32Array {
  const samples = new Float32Array(Math.round(seconds * rate));
  const random = noise(seed);
  for (let at = 0, kind = 0; at + segment <= samples.length; at += period, kind += 1) {
    if (kind % 2 === 0) vowel(samples, at, segment, secondResonance);
    else hiss(samples, at, segment, random);
  }
  return samples;
}

/** Mean power in `[lowHz, highHz]` over the whole signal, dB. */
function bandDb(samples: Float32Array, lowHz: number, highHz: number): number {
  const analyser = frameAnalyser(correctionLayout);
  const size = correctionLayout.fftSize;
  let sum = 0;
  for (let from = 0; from + size <= samples.length; from += size / 2) {
    analyser.analyse(samples, from, null, null);
    for (let k = Math.round((lowHz / rate) * size); k <= Math.round((highHz / rate) * size); k += 1) sum += analyser.power[k]!;
  }
  return 10 * Math.log10(sum + 1e-20);
}

function filteredWhole(samples: Float32Array, correction: SpectralCorrection, chunk = samples.length): Float32Array {
  const filter = new CorrectionFilter(correction, correctionLayout);
  const parts: Float32Array[] = [];
  for (let at = 0; at < samples.length; at += chunk) parts.push(filter.push(samples.subarray(at, at + chunk)));
  parts.push(filter.flush());
  return joinSamples(parts);
}

describe('spectral correction by sound class', () => {
  // "espeak": resonance at 1.5 kHz of 0.1; the speaker's vowels: 0.5 (14 dB more); the hiss is the same in both.
  const espeak = recording(7, 0.1, 1);
  const reference = recording(9, 0.5, 2);
  const correction = spectralCorrection(reference, espeak, correctionLayout);

  it('gives the vowel more of the speaker\'s 1.5 kHz resonance than one static correction does, and the hiss less', () => {
    assert.ok(correction?.classes, 'a correction with sound classes');
    const staticOnly: SpectralCorrection = { ...correction, classes: undefined };
    const vowelOnly = recording(3, 0.1, 3).map((value, i) => (Math.floor(i / period) % 2 === 0 ? value : 0));
    const hissOnly = recording(3, 0.1, 4).map((value, i) => (Math.floor(i / period) % 2 === 1 ? value : 0));
    // The resonance against a band both corrections leave alike (500 Hz for the vowel, 4-6 kHz for the hiss), so the level correction cancels.
    const vowelTilt = (samples: Float32Array) => bandDb(samples, 1350, 1650) - bandDb(samples, 400, 600);
    const hissTilt = (samples: Float32Array) => bandDb(samples, 1350, 1650) - bandDb(samples, 4000, 6000);
    const vowelGain = vowelTilt(filteredWhole(vowelOnly, correction)) - vowelTilt(filteredWhole(vowelOnly, staticOnly));
    const hissGain = hissTilt(filteredWhole(hissOnly, correction)) - hissTilt(filteredWhole(hissOnly, staticOnly));
    assert.ok(vowelGain > 1.5, `vowel: ${vowelGain.toFixed(2)} dB more at 1.5 kHz than with the static correction`);
    assert.ok(hissGain < -1.5, `hiss: ${hissGain.toFixed(2)} dB at 1.5 kHz against the static correction`);
  });

  it('filters a stream the same whatever the chunk sizes', () => {
    assert.ok(correction?.classes);
    const whole = filteredWhole(espeak, correction);
    for (const chunk of [97, 1024, 4410]) {
      const chunked = filteredWhole(espeak, correction, chunk);
      assert.equal(chunked.length, espeak.length);
      let largest = 0;
      for (let i = 0; i < whole.length; i += 1) largest = Math.max(largest, Math.abs(whole[i]! - chunked[i]!));
      assert.ok(largest < 1e-6, `chunks of ${chunk}: differs by ${largest}`);
    }
  });
});
