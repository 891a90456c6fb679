// An inaudible watermark on every synthesized output: direct-sequence spread spectrum.
//
// The mark is keyed noise, band-limited to 500-3800 Hz and periodic with a period of one
// second (a whole number of samples at 16, 22.05 and 24 kHz), added to the speech at a level
// that follows the speech's own short-term loudness (silence stays silent), about 26 dB below
// it. Two sequences are summed: one every mark of this installation carries (presence), and
// one keyed by HMAC(installation key, account id / voice name) (identity). The band survives
// resampling to 16 kHz and 8 kHz, and mp3 and opus at 64 kbps; correlation ignores gain.
//
// Detection resamples to 16 kHz, band-limits, divides by the local loudness (so loud and quiet
// passages weigh alike), folds the excerpt onto one period and cross-correlates it with the
// presence sequence at all 16000 shifts (an FFT). The best shift, in units of the spread of
// all shifts' correlations (a robust z-score), must exceed 6.5: unmarked audio gets there by
// chance about once in a million excerpts. At that shift each candidate voice's identity
// sequence is scored the same way.
//
// Hand-written because no maintained npm package does audio watermarking; the DSP under it is
// the FFT from fft.js and libsamplerate (resampling the sequences to the engine's rate).
// The key is per installation (a server setting made at first start).
import { createHmac } from 'node:crypto';
import FFT from 'fft.js';
import type { ResamplerPool } from './resampler.js';

const detectionRate = 16000;
/** One second: whole samples at every engine rate. */
const periodSeconds = 1;
const period16k = detectionRate * periodSeconds;
const bandLowHz = 500;
const bandHighHz = 3800;
/** Mark level relative to the speech's short-term RMS. */
const defaultStrength = 0.05;
const presenceThreshold = 6.5;
const identityThreshold = 5;
const firTaps = 127;
/**
 * The mark's spectrum falls like speech's (a one-pole tilt, about -6 dB per octave), so it
 * stays the same distance below the speech in every band; the detector undoes the tilt
 * (pre-emphasis), which also flattens the speech and helps the correlation.
 */
const tilt = 0.9;

export interface WatermarkIdentity {
  accountId: string;
  voiceName: string;
}

function identityLabel(identity: WatermarkIdentity): string {
  return `identity:${identity.accountId}/${identity.voiceName}`;
}

/** Windowed-sinc band-pass FIR (Blackman window). */
function bandPassTaps(sampleRate: number): Float64Array {
  const taps = new Float64Array(firTaps);
  const middle = (firTaps - 1) / 2;
  const low = bandLowHz / sampleRate;
  const high = bandHighHz / sampleRate;
  for (let i = 0; i < firTaps; i += 1) {
    const n = i - middle;
    const ideal = n === 0 ? 2 * (high - low) : (Math.sin(2 * Math.PI * high * n) - Math.sin(2 * Math.PI * low * n)) / (Math.PI * n);
    const window = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (firTaps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (firTaps - 1));
    taps[i] = ideal * window;
  }
  return taps;
}

const taps16k = bandPassTaps(detectionRate);

/** Circular convolution with the band-pass: the sequence stays exactly periodic. */
function bandLimitPeriodic(sequence: Float32Array): Float32Array {
  const length = sequence.length;
  const middle = (firTaps - 1) / 2;
  // The sequence with its wrap-around on both sides, so the inner loop needs no modulo.
  const padded = new Float64Array(length + firTaps - 1);
  for (let i = 0; i < padded.length; i += 1) padded[i] = sequence[(i - middle + length) % length]!;
  const out = new Float32Array(length);
  for (let n = 0; n < length; n += 1) {
    let sum = 0;
    for (let k = 0; k < firTaps; k += 1) sum += taps16k[k]! * padded[n + firTaps - 1 - k]!;
    out[n] = sum;
  }
  return out;
}

/** Linear (non-circular) band-pass of a signal. */
function bandLimit(signal: Float32Array): Float32Array {
  const out = new Float32Array(signal.length);
  const middle = (firTaps - 1) / 2;
  for (let n = 0; n < signal.length; n += 1) {
    let sum = 0;
    const start = Math.max(0, n + middle - (signal.length - 1));
    const end = Math.min(firTaps - 1, n + middle);
    for (let k = start; k <= end; k += 1) sum += taps16k[k]! * signal[n - k + middle]!;
    out[n] = sum;
  }
  return out;
}

/**
 * Keyed Gaussian noise, one period at 16 kHz: xoshiro128** seeded with 128 bits of
 * HMAC-SHA256(key, label) (fast enough to score a thousand candidate voices per request;
 * without the key the seed cannot be found).
 */
function keyedNoise(key: Buffer, label: string): Float32Array {
  const seed = createHmac('sha256', key).update(label).digest();
  let a = seed.readUInt32LE(0) | 1;
  let b = seed.readUInt32LE(4);
  let c = seed.readUInt32LE(8);
  let d = seed.readUInt32LE(12);
  const next = () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return (result + 0.5) / 4294967296;
  };
  const noise = new Float32Array(period16k);
  for (let i = 0; i < period16k; i += 1) noise[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return noise;
}

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function rms(values: Float32Array): number {
  return Math.sqrt(values.reduce((sum, value) => sum + value * value, 0) / values.length);
}

/** Keyed noise band-limited to the mark's band, unit RMS: what is embedded. */
function keyedSequence(key: Buffer, label: string): Float32Array {
  const limited = bandLimitPeriodic(keyedNoise(key, label));
  const level = rms(limited);
  for (let i = 0; i < limited.length; i += 1) limited[i]! /= level;
  return limited;
}

/** The tilt (one-pole low-pass) applied to a periodic sequence, in steady state, unit RMS. */
function tilted(sequence: Float32Array): Float32Array {
  const out = new Float32Array(sequence.length);
  let state = 0;
  for (let pass = 0; pass < 2; pass += 1) {
    for (let i = 0; i < sequence.length; i += 1) {
      state = sequence[i]! + tilt * state;
      if (pass === 1) out[i] = state;
    }
  }
  const level = rms(out);
  for (let i = 0; i < out.length; i += 1) out[i]! /= level;
  return out;
}

/** This installation's marks: presence and identity sequences, and their versions at engine rates. */
export class WatermarkKey {
  readonly presence: Float32Array;
  /** RMS of band-limited unit noise: the scale between raw and embedded sequences. */
  private readonly bandShare: number;
  private readonly atRate = new Map<string, Promise<Float32Array>>();

  constructor(
    private readonly key: Buffer,
    private readonly resamplers: ResamplerPool,
  ) {
    this.presence = keyedSequence(key, 'presence');
    this.bandShare = rms(bandLimitPeriodic(keyedNoise(key, 'presence')));
  }

  /** The identity sequence of a voice at 16 kHz, band-limited as embedded. */
  identity(identity: WatermarkIdentity): Float32Array {
    return keyedSequence(this.key, identityLabel(identity));
  }

  /**
   * The voice's identity noise before band-limiting, scaled as the embedded sequence is: its
   * correlation with an already band-limited signal is the same, at a tenth of the cost.
   */
  identityForDetection(identity: WatermarkIdentity): Float32Array {
    const noise = keyedNoise(this.key, identityLabel(identity));
    for (let i = 0; i < noise.length; i += 1) noise[i]! /= this.bandShare;
    return noise;
  }

  /** One period of the voice's mark (presence + identity) at `sampleRate`. */
  markFor(identity: WatermarkIdentity, sampleRate: number): Promise<Float32Array> {
    const cacheKey = `${sampleRate}:${identity.accountId}/${identity.voiceName}`;
    let mark = this.atRate.get(cacheKey);
    if (!mark) {
      mark = this.resampledPeriod(identity, sampleRate);
      if (this.atRate.size >= 256) this.atRate.delete(this.atRate.keys().next().value!);
      this.atRate.set(cacheKey, mark);
    }
    return mark;
  }

  private async resampledPeriod(identity: WatermarkIdentity, sampleRate: number): Promise<Float32Array> {
    const voiceLimited = bandLimitPeriodic(keyedNoise(this.key, identityLabel(identity)));
    const flat = new Float32Array(period16k);
    for (let i = 0; i < period16k; i += 1) flat[i] = (this.presence[i]! + voiceLimited[i]! / this.bandShare) / Math.SQRT2;
    const combined = tilted(flat);
    if (sampleRate === detectionRate) return combined;
    // Three periods through the resampler; the middle one is a whole period in steady state.
    const resampler = await this.resamplers.acquire(detectionRate, sampleRate);
    try {
      const parts = [resampler.process(combined), resampler.process(combined), resampler.process(combined), resampler.process(combined)];
      const all = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
      let offset = 0;
      for (const part of parts) {
        all.set(part, offset);
        offset += part.length;
      }
      const periodSamples = sampleRate * periodSeconds;
      return all.slice(all.length - 2 * periodSamples, all.length - periodSamples);
    } finally {
      resampler.release();
    }
  }
}

/**
 * Marks one continuous stream chunk by chunk, with no delay: the mark's period, scaled by the
 * speech's loudness over the last ~10 ms.
 */
export class StreamWatermarker {
  private position = 0;
  private envelope = 0;
  private readonly smoothing: number;

  constructor(
    private readonly mark: Float32Array,
    sampleRate: number,
    private readonly strength = defaultStrength,
  ) {
    this.smoothing = Math.exp(-1 / (0.01 * sampleRate));
  }

  /** Returns the marked chunk (a new array). */
  process(chunk: Float32Array): Float32Array {
    const output = new Float32Array(chunk.length);
    const { mark, smoothing, strength } = this;
    let envelope = this.envelope;
    let index = this.position % mark.length;
    for (let i = 0; i < chunk.length; i += 1) {
      const x = chunk[i]!;
      envelope = smoothing * envelope + (1 - smoothing) * x * x;
      output[i] = x + strength * Math.sqrt(envelope) * mark[index]!;
      index += 1;
      if (index === mark.length) index = 0;
    }
    this.envelope = envelope;
    this.position += chunk.length;
    return output;
  }
}

/** Marks a stream of chunks at `sampleRate`; the engine starts on its first chunk while the mark is made. */
export async function* watermarked(chunks: AsyncIterable<Float32Array>, mark: Promise<Float32Array>, sampleRate: number): AsyncGenerator<Float32Array> {
  const source = chunks[Symbol.asyncIterator]();
  try {
    const [first, period] = await Promise.all([source.next(), mark]);
    const marker = new StreamWatermarker(period, sampleRate);
    if (first.done) return;
    yield marker.process(first.value);
    for (let next = await source.next(); !next.done; next = await source.next()) yield marker.process(next.value);
  } finally {
    await source.return?.();
  }
}

/** Band-limited, loudness-normalised excerpt folded onto one period. */
function foldedWhitened(samples16k: Float32Array): Float32Array {
  // Undo the mark's tilt: the mark comes back flat, the speech flatter than it was.
  const emphasised = new Float32Array(samples16k.length);
  for (let i = 0; i < samples16k.length; i += 1) emphasised[i] = samples16k[i]! - tilt * (i > 0 ? samples16k[i - 1]! : 0);
  const limited = bandLimit(emphasised);
  // Divide by the local RMS (20 ms, centred) of the band: every passage weighs alike.
  const half = 160;
  const squares = new Float64Array(limited.length + 1);
  for (let i = 0; i < limited.length; i += 1) squares[i + 1] = squares[i]! + limited[i]! * limited[i]!;
  let loudest = 0;
  const rms = new Float32Array(limited.length);
  for (let i = 0; i < limited.length; i += 1) {
    const from = Math.max(0, i - half);
    const to = Math.min(limited.length, i + half);
    rms[i] = Math.sqrt((squares[to]! - squares[from]!) / (to - from));
    loudest = Math.max(loudest, rms[i]!);
  }
  const folded = new Float32Array(period16k);
  const floor = loudest * 1e-3;
  for (let i = 0; i < limited.length; i += 1) {
    if (rms[i]! <= floor) continue;
    folded[i % period16k]! += limited[i]! / rms[i]!;
  }
  return folded;
}

/** Circular cross-correlation of two length-16000 sequences at every shift (FFT of 32768). */
function circularCorrelation(signal: Float32Array, sequence: Float32Array): Float64Array {
  const size = 32768;
  const fft = new FFT(size);
  const a = new Array<number>(size).fill(0);
  const b = new Array<number>(size).fill(0);
  for (let i = 0; i < period16k; i += 1) {
    a[i] = signal[i]!;
    b[i] = sequence[i]!;
    b[i + period16k] = sequence[i]!;
  }
  const fa = fft.createComplexArray() as number[];
  const fb = fft.createComplexArray() as number[];
  fft.realTransform(fa, a);
  fft.completeSpectrum(fa);
  fft.realTransform(fb, b);
  fft.completeSpectrum(fb);
  // corr[τ] = Σ a[n] b[n + τ]  ->  conj(A) · B
  const product = fft.createComplexArray() as number[];
  for (let k = 0; k < size; k += 1) {
    const ar = fa[2 * k]!;
    const ai = -fa[2 * k + 1]!;
    const br = fb[2 * k]!;
    const bi = fb[2 * k + 1]!;
    product[2 * k] = ar * br - ai * bi;
    product[2 * k + 1] = ar * bi + ai * br;
  }
  const result = fft.createComplexArray() as number[];
  fft.inverseTransform(result, product);
  return Float64Array.from({ length: period16k }, (_, shift) => result[2 * shift]!);
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[sorted.length >> 1]!;
}

/** Standard normal upper tail (Abramowitz-Stegun 26.2.17), for the confidence figure. */
function upperTail(z: number): number {
  if (z < 0) return 1 - upperTail(-z);
  const t = 1 / (1 + 0.2316419 * z);
  const density = Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI);
  return density * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
}

export interface Detection {
  watermarked: boolean;
  /** 1 - the chance that unmarked audio correlates this strongly at any of the shifts tried. */
  confidence: number;
  presenceScore: number;
  /** The candidate whose identity sequence matched, if any. */
  identity: WatermarkIdentity | null;
  identityScore: number | null;
}

/** Looks for this installation's mark in 16 kHz audio; names the voice if it is among `candidates`. */
export function detectWatermark(samples16k: Float32Array, key: WatermarkKey, candidates: WatermarkIdentity[] = []): Detection {
  const folded = foldedWhitened(samples16k);
  const correlations = circularCorrelation(folded, key.presence);
  // Robust spread of all shifts' correlations (almost all of them unrelated).
  const centre = median(correlations);
  const deviations = correlations.map((value) => Math.abs(value - centre));
  const spread = 1.4826 * median(deviations) || 1;
  let bestShift = 0;
  for (let shift = 1; shift < correlations.length; shift += 1) if (correlations[shift]! > correlations[bestShift]!) bestShift = shift;
  const presenceScore = (correlations[bestShift]! - centre) / spread;
  const watermarked = presenceScore > presenceThreshold;
  const confidence = Math.max(0, Math.min(1, 1 - period16k * upperTail(presenceScore)));
  let identity: WatermarkIdentity | null = null;
  let identityScore: number | null = null;
  if (watermarked) {
    for (const candidate of candidates) {
      const sequence = key.identityForDetection(candidate);
      let dot = 0;
      for (let n = 0; n < period16k; n += 1) dot += folded[n]! * sequence[(n + bestShift) % period16k]!;
      const value = (dot - centre) / spread;
      if (value > identityThreshold && (identityScore === null || value > identityScore)) {
        identity = candidate;
        identityScore = value;
      }
    }
  }
  return { watermarked, confidence, presenceScore, identity, identityScore };
}
