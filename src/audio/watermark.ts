// An inaudible watermark on every synthesized output: direct-sequence spread spectrum,
// shaped band by band under the speech.
//
// The mark is keyed noise, periodic with a period of one second (a whole number of samples at
// 16, 22.05 and 24 kHz), split into four bands between 500 and 3800 Hz. Each band of the mark
// follows the loudness of the same band of the speech, about 26 dB below it: where the speech
// is quiet in a band (silence, or the highs of a vowel) the mark is too, so it neither shows
// nor changes what a recognizer hears. Two sequences are summed: one every mark of this
// installation carries (presence), and one keyed by HMAC(installation key, account id / voice
// name) (identity). The band survives resampling to 16 kHz and 8 kHz, and mp3 and opus at
// 64 kbps; correlation ignores gain.
//
// Detection resamples to 16 kHz, splits the same four bands and divides each by its local
// loudness (undoing the shaping and flattening the speech), folds the excerpt onto one period
// and cross-correlates it with the presence sequence at all 16000 shifts (an FFT). The best
// shift, in units of the spread of all shifts' correlations (a robust z-score), must exceed
// 6.5: unmarked audio gets there by chance about once in a million excerpts. At that shift
// each candidate voice's identity sequence is scored the same way.
//
// Hand-written because no maintained npm package does audio watermarking; the DSP under it is
// the FFT from fft.js and libsamplerate (resampling the sequences to the engine's rate).
// The key is per installation (a server setting made at first start).
import { createHmac } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import FFT from 'fft.js';
import type { ResamplerPool } from './resampler.js';
import { rms } from './analysis.js';
import { joinSamples } from './types.js';

const detectionRate = 16000;
/** One second: whole samples at every engine rate. */
const periodSeconds = 1;
const period16k = detectionRate * periodSeconds;
/** The mark's bands (Hz): each follows the same band of the speech. */
const bandEdges = [500, 1000, 1700, 2600, 3800];
const bandCount = bandEdges.length - 1;
/** Mark level relative to the speech's short-term RMS in each band. */
const defaultStrength = 0.05;
const presenceThreshold = 6.5;
const identityThreshold = 5;
const firTaps = 127;

export interface WatermarkIdentity {
  accountId: string;
  voiceName: string;
}

function identityLabel(identity: WatermarkIdentity): string {
  return `identity:${identity.accountId}/${identity.voiceName}`;
}

/** Windowed-sinc band-pass FIR (Blackman window). */
function bandPassTaps(lowHz: number, highHz: number, sampleRate: number): Float64Array {
  const taps = new Float64Array(firTaps);
  const middle = (firTaps - 1) / 2;
  const low = lowHz / sampleRate;
  const high = highHz / sampleRate;
  for (let i = 0; i < firTaps; i += 1) {
    const n = i - middle;
    const ideal = n === 0 ? 2 * (high - low) : (Math.sin(2 * Math.PI * high * n) - Math.sin(2 * Math.PI * low * n)) / (Math.PI * n);
    const window = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (firTaps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (firTaps - 1));
    taps[i] = ideal * window;
  }
  return taps;
}

const bandTaps16k = Array.from({ length: bandCount }, (_, band) => bandPassTaps(bandEdges[band]!, bandEdges[band + 1]!, detectionRate));

/** Circular convolution with a band-pass: the sequence stays exactly periodic. */
function bandLimitPeriodic(sequence: Float32Array, taps16k: Float64Array): Float32Array {
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
function bandLimit(signal: Float32Array, taps16k: Float64Array): Float32Array {
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

/**
 * Keyed noise split into the mark's bands, each scaled to unit RMS (what is embedded, before
 * shaping), with the RMS each band had.
 */
function keyedBands(key: Buffer, label: string): { bands: Float32Array[]; levels: number[] } {
  const noise = keyedNoise(key, label);
  const levels: number[] = [];
  const bands = bandTaps16k.map((taps) => {
    const band = bandLimitPeriodic(noise, taps);
    const level = rms(band);
    levels.push(level);
    for (let i = 0; i < band.length; i += 1) band[i]! /= level;
    return band;
  });
  return { bands, levels };
}

function sumOf(bands: Float32Array[]): Float32Array {
  const total = new Float32Array(period16k);
  for (const band of bands) for (let i = 0; i < period16k; i += 1) total[i]! += band[i]!;
  return total;
}

/** One period of a voice's mark at an engine's rate, band by band. */
export type MarkBands = Float32Array[];

/** This installation's marks: presence and identity sequences, and their versions at engine rates. */
export class WatermarkKey {
  /** The presence sequence as embedded before shaping (the sum of its bands). */
  readonly presence: Float32Array;
  private readonly presenceBands: Float32Array[];
  /** Expected RMS of unit noise in each band: the scale between raw and embedded identity bands. */
  private readonly bandShares: number[];
  private readonly atRate = new Map<string, Promise<MarkBands>>();

  constructor(
    private readonly key: Buffer,
    private readonly resamplers: ResamplerPool,
  ) {
    const presence = keyedBands(key, 'presence');
    this.presenceBands = presence.bands;
    this.presence = sumOf(presence.bands);
    this.bandShares = presence.levels;
  }

  /**
   * Correlating a folded signal with a voice's embedded identity (its bands at unit RMS)
   * equals correlating the signal, split into bands and scaled, with the voice's raw noise:
   * the split is done once per excerpt, so each candidate costs one noise and one dot product.
   */
  identityProbe(folded: Float32Array): Float32Array {
    const probe = new Float32Array(period16k);
    bandTaps16k.forEach((taps, band) => {
      const part = bandLimitPeriodic(folded, taps);
      for (let i = 0; i < period16k; i += 1) probe[i]! += part[i]! / this.bandShares[band]!;
    });
    return probe;
  }

  identityNoise(identity: WatermarkIdentity): Float32Array {
    return keyedNoise(this.key, identityLabel(identity));
  }

  /** One period of the voice's mark (presence + identity) at `sampleRate`, band by band. */
  markFor(identity: WatermarkIdentity, sampleRate: number): Promise<MarkBands> {
    const cacheKey = `${sampleRate}:${identity.accountId}/${identity.voiceName}`;
    let mark = this.atRate.get(cacheKey);
    if (!mark) {
      mark = this.markPeriod(identity, sampleRate);
      if (this.atRate.size >= 128) this.atRate.delete(this.atRate.keys().next().value!);
      this.atRate.set(cacheKey, mark);
      // A failed mark is made again by the next synthesis that needs it, not remembered.
      mark.catch(() => {
        if (this.atRate.get(cacheKey) === mark) this.atRate.delete(cacheKey);
      });
    }
    return mark;
  }

  /**
   * One period of the voice's mark, made afresh: 80-100 ms of CPU (keyed noise, band filters,
   * resampling), given back to the event loop between bands so no stream waits more than about
   * 25 ms for it. (On a worker thread instead, the first request after a fresh start found
   * libsamplerate cold on the event loop, when it also resampled streams: its first chunks took
   * 10-35 ms each, not 0.3 ms.)
   */
  async markPeriod(identity: WatermarkIdentity, sampleRate: number): Promise<MarkBands> {
    const identityBands = keyedBands(this.key, identityLabel(identity)).bands;
    const combined = this.presenceBands.map((presence, band) => {
      const both = new Float32Array(period16k);
      for (let i = 0; i < period16k; i += 1) both[i] = (presence[i]! + identityBands[band]![i]!) / Math.SQRT2;
      return both;
    });
    if (sampleRate === detectionRate) return combined;
    const periodSamples = sampleRate * periodSeconds;
    const resampled: Float32Array[] = [];
    for (const band of combined) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Three periods resampled whole (from a fresh filter state, so a voice's mark is the same
      // wherever it is made); the middle one is in steady state.
      const all = await this.resamplers.resampleWhole(joinSamples([band, band, band]), detectionRate, sampleRate);
      resampled.push(all.slice(periodSamples, 2 * periodSamples));
    }
    return resampled;
  }
}

/** RBJ band-pass biquad coefficients [b0, b2, a1, a2] (b1 = 0) for a band at a rate. */
function bandPassBiquad(lowHz: number, highHz: number, sampleRate: number): [number, number, number, number] {
  const centre = Math.sqrt(lowHz * highHz);
  const w0 = (2 * Math.PI * centre) / sampleRate;
  const alpha = Math.sin(w0) / (2 * (centre / (highHz - lowHz)));
  const a0 = 1 + alpha;
  return [alpha / a0, -alpha / a0, (-2 * Math.cos(w0)) / a0, (1 - alpha) / a0];
}

/**
 * Marks one continuous stream chunk by chunk, with no delay: each band of the mark's period,
 * scaled by the loudness of the speech in that band over the last ~10 ms.
 */
export class StreamWatermarker {
  private position = 0;
  private readonly smoothing: number;
  private readonly filters: [number, number, number, number][];
  /** Per band: x1, x2, y1, y2 of the band-pass, and the envelope. */
  private readonly state: Float64Array;

  constructor(
    private readonly mark: MarkBands,
    sampleRate: number,
    private readonly strength = defaultStrength,
  ) {
    this.smoothing = Math.exp(-1 / (0.01 * sampleRate));
    this.filters = mark.map((_, band) => bandPassBiquad(bandEdges[band]!, bandEdges[band + 1]!, sampleRate));
    this.state = new Float64Array(mark.length * 5);
  }

  /** Returns the marked chunk (a new array). */
  process(chunk: Float32Array): Float32Array {
    const output = Float32Array.from(chunk);
    const { smoothing, strength, state } = this;
    const length = this.mark[0]!.length;
    for (let band = 0; band < this.mark.length; band += 1) {
      const [b0, b2, a1, a2] = this.filters[band]!;
      const period = this.mark[band]!;
      const s = band * 5;
      let x1 = state[s]!;
      let x2 = state[s + 1]!;
      let y1 = state[s + 2]!;
      let y2 = state[s + 3]!;
      let envelope = state[s + 4]!;
      let index = this.position % length;
      for (let i = 0; i < chunk.length; i += 1) {
        const x = chunk[i]!;
        const y = b0 * x + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x;
        y2 = y1;
        y1 = y;
        envelope = smoothing * envelope + (1 - smoothing) * y * y;
        output[i] = output[i]! + strength * Math.sqrt(envelope) * period[index]!;
        index += 1;
        if (index === length) index = 0;
      }
      state.set([x1, x2, y1, y2, envelope], s);
    }
    this.position += chunk.length;
    return output;
  }
}

/** Marks a stream of chunks at `sampleRate`; the engine starts on its first chunk while the mark is made. */
export async function* watermarked(chunks: AsyncIterable<Float32Array>, mark: Promise<MarkBands>, sampleRate: number): AsyncGenerator<Float32Array> {
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

/** The excerpt band by band, each divided by its local loudness, summed and folded onto one period. */
function foldedWhitened(samples16k: Float32Array): Float32Array {
  const folded = new Float32Array(period16k);
  const half = 160;
  for (const taps of bandTaps16k) {
    const band = bandLimit(samples16k, taps);
    const squares = new Float64Array(band.length + 1);
    for (let i = 0; i < band.length; i += 1) squares[i + 1] = squares[i]! + band[i]! * band[i]!;
    const levels = new Float32Array(band.length);
    let loudest = 0;
    for (let i = 0; i < band.length; i += 1) {
      const from = Math.max(0, i - half);
      const to = Math.min(band.length, i + half);
      levels[i] = Math.sqrt((squares[to]! - squares[from]!) / (to - from));
      loudest = Math.max(loudest, levels[i]!);
    }
    const floor = loudest * 1e-3;
    for (let i = 0; i < band.length; i += 1) {
      if (levels[i]! <= floor) continue;
      folded[i % period16k]! += band[i]! / levels[i]!;
    }
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
  if (watermarked && candidates.length > 0) {
    const probe = key.identityProbe(folded);
    for (const candidate of candidates) {
      const sequence = key.identityNoise(candidate);
      let dot = 0;
      for (let n = 0; n < period16k; n += 1) dot += probe[n]! * sequence[(n + bestShift) % period16k]!;
      const value = (dot - centre) / spread;
      if (value > identityThreshold && (identityScore === null || value > identityScore)) {
        identity = candidate;
        identityScore = value;
      }
    }
  }
  return { watermarked, confidence, presenceScore, identity, identityScore };
}

/** `detectWatermark` on a worker thread of its own (one per call: detections are occasional). */
export function detectWatermarkOffThread(samples16k: Float32Array, key: Uint8Array, candidates: WatermarkIdentity[] = []): Promise<Detection> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./watermark-worker.js', import.meta.url), { workerData: { key, samples: samples16k, candidates } });
    worker.once('message', (detection: Detection) => resolve(detection));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`watermark detection stopped with code ${code}`));
    });
  });
}
