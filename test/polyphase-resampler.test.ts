import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolyphaseResampler } from '../src/audio/polyphase-resampler.js';
import { joinSamples } from '../src/audio/types.js';

// Streams leave the process at the client's rate: the polyphase filter must keep the speech
// band clean, add no delay, cut what the lower rate cannot hold, and give the same samples
// however the stream is chunked.

function tone(frequencyHz: number, sampleRate: number, seconds: number): Float32Array {
  return Float32Array.from({ length: Math.round(sampleRate * seconds) }, (_, i) => Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
}

function resampledInChunks(input: Float32Array, from: number, to: number, chunkLength: number): Float32Array {
  const resampler = new PolyphaseResampler(from, to);
  const parts: Float32Array[] = [];
  for (let start = 0; start < input.length; start += chunkLength) parts.push(resampler.process(input.subarray(start, start + chunkLength)));
  parts.push(resampler.finish());
  return joinSamples(parts);
}

/** Signal-to-error ratio (dB) against the ideal tone at the new rate, away from the stream's two ends. */
function toneSnrDb(output: Float32Array, frequencyHz: number, sampleRate: number): number {
  const ideal = tone(frequencyHz, sampleRate, output.length / sampleRate);
  const edge = Math.round(sampleRate * 0.02);
  let error = 0;
  let power = 0;
  for (let i = edge; i < output.length - edge; i += 1) {
    error += (output[i]! - ideal[i]!) ** 2;
    power += ideal[i]! ** 2;
  }
  return 10 * Math.log10(power / error);
}

describe('polyphase resampling of a stream', () => {
  const pairs: [number, number, number][] = [
    // engine rate, client rate, a tone inside the passband (80 % of the lower Nyquist)
    [22050, 24000, 8000],
    [24000, 22050, 8000],
    [22050, 8000, 3000],
    [22050, 48000, 8500],
    [24000, 16000, 6000],
    [16000, 44100, 6000],
  ];
  for (const [from, to, frequencyHz] of pairs) {
    it(`${from} -> ${to} Hz keeps a ${frequencyHz} Hz tone, in time and at its level`, () => {
      const output = resampledInChunks(tone(frequencyHz, from, 1), from, to, 2304);
      assert.equal(output.length, to);
      // A delay of a single output sample would cost this tone more than 20 dB.
      const snr = toneSnrDb(output, frequencyHz, to);
      assert.ok(snr > 60, `SNR ${snr.toFixed(1)} dB`);
    });
  }

  it('cuts what the lower rate cannot hold (aliasing)', () => {
    // 11.5 kHz is above 22.05 kHz's Nyquist frequency: kept, it would fold down to 10.55 kHz.
    const output = resampledInChunks(tone(11500, 24000, 1), 24000, 22050, 1000);
    const edge = 1000;
    let power = 0;
    for (let i = edge; i < output.length - edge; i += 1) power += output[i]! ** 2;
    const levelDb = 10 * Math.log10(power / (output.length - 2 * edge) / 0.5);
    assert.ok(levelDb < -75, `alias at ${levelDb.toFixed(1)} dB`);
  });

  it('gives the same samples however the stream is chunked', () => {
    const speechLike = Float32Array.from({ length: 22050 }, (_, i) => Math.sin(i * 0.05) * 0.4 + Math.sin(i * 0.31) * 0.2 + ((i * 7919) % 101) / 1000);
    const whole = resampledInChunks(speechLike, 22050, 24000, speechLike.length);
    for (const chunkLength of [1, 47, 2304, 5000]) assert.deepEqual(resampledInChunks(speechLike, 22050, 24000, chunkLength), whole, `chunks of ${chunkLength}`);
    assert.equal(whole.length, 24000);
  });

  it('puts an impulse where it was, and ends the stream at finish', () => {
    const impulse = new Float32Array(2205);
    impulse[1000] = 1;
    const output = resampledInChunks(impulse, 22050, 24000, 300);
    const peak = output.reduce((best, value, index) => (value > output[best]! ? index : best), 0);
    assert.ok(Math.abs(peak - (1000 * 24000) / 22050) <= 1, `peak at ${peak}`);
    const resampler = new PolyphaseResampler(22050, 24000);
    resampler.process(impulse);
    resampler.finish();
    assert.throws(() => resampler.process(impulse), /finished/);
  });
});
