// The preview engine's voice conversion toward the reference: one fine-resolution spectral
// correction per voice. espeak-ng decides what is said, when, and at which pitch; every frame
// of its speech is then filtered by the difference between the speaker's spectral envelope
// and espeak's for the same sounds.
//
// How the difference is found, without a transcript (so in every language): espeak reads a
// fixed text at the voice's settings; each of its speech frames is matched to the reference
// frames nearest to it in MFCCs after each side is normalised to its own mean and spread
// (cepstral mean and variance normalisation keeps what is said and removes most of what
// differs between two voices; the k-nearest-neighbour matching follows kNN-VC, Baas et al.
// 2023); the correction is the mean, over espeak's frames, of the matched reference frames'
// envelope (real cepstrum, liftered: Oppenheim and Schafer's homomorphic analysis) minus the
// frame's own. Averaged over many sounds, it is what sets this speaker's spectrum apart from
// espeak's for the same phones, at about 140 Hz resolution: far finer than the octave EQ it
// replaces. On top of it, three quarters of each broad class of sounds' own difference (see
// `SoundClasses` and `classStrength`): a speaker's vowels differ from espeak's otherwise than
// their fricatives do.
//
// Why one static correction and not one per frame: measured while building this, with the
// speaker encoder and Moonshine on the first 20 LibriSpeech speakers of `bench:similarity`
// (three sentences each, a scratch harness not kept), replacing each frame's envelope with its
// matches' (transcript-free, or aligned by DTW to an espeak reading of Moonshine's transcript)
// reached a mean cosine of 0.63-0.65 but made 78-93 % of words unrecognisable; a per-frame
// difference smoothed over 0.4 s cost 5-6 points of word error rate; a static one kept most of
// the likeness (0.587 against 0.532) for about one point. Eight sound classes at half strength
// sat between the two: 0.605 against 0.596 for the static correction alone, in one session, on
// all 42 voices (before each formant was matched; at 0.75 since, see `classStrength`).
import { measureSyllableRate, rms } from '../../audio/analysis.js';
import { frameAnalyser, speechFrameIndices, type FrameAnalyser, type FrameLayout } from '../../audio/spectral-frames.js';

export interface SpectralCorrection {
  version: 2;
  /** c1..cN of the log-magnitude correction (natural log). */
  cepstrum: number[];
  /** How the correction varies with the sound being made (absent: too few frames to tell sounds apart). */
  classes?: SoundClasses;
  /** Multiplies the corrected speech so it is as loud as espeak's was. */
  levelCorrection: number;
  /**
   * The syllable rate read off corrected espeak over the rate read off the same speech
   * uncorrected. The rate is read from the loudness of the octave around 1 kHz, which the
   * correction moves; the engine divides its target rate by this, so the voice's pace is
   * judged in the voice's own spectrum, as the reference's was.
   */
  syllableRateRatio: number;
}

/**
 * A few classes of espeak's sounds (k-means over its MFCCs) and, for each, how this speaker's
 * envelope differs from espeak's beyond the static correction: one correction per broad class
 * of sounds (vowels of one kind, nasals, fricatives...), the piecewise mapping of classic
 * GMM-based voice conversion (Stylianou, Cappe and Moulines, 1998) with k-means classes and
 * kNN-matched targets. Each frame weighs the classes by its MFCCs' distance to them (soft
 * assignment), so the filter moves smoothly between sounds.
 */
export interface SoundClasses {
  /** The mean and spread of espeak's MFCCs: frames are normalised by them before they are classed. */
  mfccMean: number[];
  mfccSpread: number[];
  /** Class centres, in normalised MFCCs. */
  centroids: number[][];
  /** Each class's correction beyond `cepstrum` (c1..cN, natural log, already scaled by `classStrength`). */
  cepstra: number[][];
}

/** Reference frames matched to each espeak frame. */
const neighbours = 8;
/** Frames quieter than this below the loudest are not speech. */
const speechBelowLoudestDb = 35;
/** Per-bin correction at most, natural-log units (about 26 dB): beyond is noise, not voice. */
const maxLogGain = 3;
/**
 * Sound classes: measured on the first 40 LibriSpeech speakers of `bench:similarity` (classes
 * learned on a voice's corrected reading of the calibration text, judged on the three bench
 * sentences, with Moonshine listening; a scratch harness not kept): 4 classes at full strength
 * raised the mean cosine by 0.024 and cost 5.6 points of word error rate; 8 at 0.7, 0.018 for
 * 3.6 points; 4 or 8 at half strength, 0.012 for 0.3-0.9 points (8 identified more voices).
 * With each formant matched (prompt version 6) they could be taken further. On all 42 voices
 * of `bench:similarity`, one session, strength 0.5 / 0.75 / 0.85 / 1 gave 0.649 / 0.651-0.652
 * / 0.652 / 0.655 mean cosine and 42.9-45.2 / 47.6-50.0 / 50.0 / 52.4 % identified. The low
 * test voice's word error rate rose with it (`bench:intelligibility`, 4-14 enrollments each:
 * 9.4, 10.4, 11.2, 11.7 %): at 1 more than 3 points above version 5's 8.3 %, at 0.85 just
 * under, for no more likeness than 0.75 gives. The mel-cepstral distortion to held-out speech
 * fell with it (`test/preview-likeness.test.ts`: 31.3, 30.5 and 29.7 dB at 0.5, 0.75 and 1).
 */
const soundClassCount = 8;
const classStrength = 0.75;
/** Posterior temperature, in squared normalised-MFCC distance. */
const classTemperature = 1;
/** Frames read at most on each side (12 s at a half-frame hop; a longer recording is read at a longer hop). */
const maxFrames = 520;

interface Frames {
  mfcc: Float64Array[];
  cepstra: Float64Array[];
}

/** Speech frames at a half-frame hop, or a longer one that reads at most `maxFrames` frames in all. */
function speechFrames(analyser: FrameAnalyser, samples: Float32Array): Frames {
  const { cepstralOrder, mfccCount, fftSize } = analyser.layout;
  const levels: number[] = [];
  const all: Frames = { mfcc: [], cepstra: [] };
  const hop = Math.max(fftSize / 2, Math.ceil(samples.length / maxFrames));
  for (let from = 0; from + fftSize <= samples.length; from += hop) {
    const cepstrum = new Float64Array(cepstralOrder);
    const mfcc = new Float64Array(mfccCount);
    levels.push(analyser.analyse(samples, from, cepstrum, mfcc));
    all.cepstra.push(cepstrum);
    all.mfcc.push(mfcc);
  }
  const kept = speechFrameIndices(levels, speechBelowLoudestDb);
  return { mfcc: kept.map((index) => all.mfcc[index]!), cepstra: kept.map((index) => all.cepstra[index]!) };
}

interface MfccStats {
  mean: Float64Array;
  spread: Float64Array;
}

/** Each MFCC vector minus its set's mean, over its set's spread (`stats`, when the caller keeps them). */
function normalised(vectors: Float64Array[], stats: MfccStats = mfccStats(vectors)): Float64Array[] {
  return vectors.map((vector) => normalise(vector, stats, new Float64Array(vector.length)));
}

function normalise(vector: ArrayLike<number>, stats: { mean: ArrayLike<number>; spread: ArrayLike<number> }, out: Float64Array): Float64Array {
  for (let d = 0; d < out.length; d += 1) out[d] = (vector[d]! - stats.mean[d]!) / (stats.spread[d]! + 1e-6);
  return out;
}

function mfccStats(vectors: Float64Array[]): MfccStats {
  const dims = vectors[0]?.length ?? 0;
  const mean = new Float64Array(dims);
  const spread = new Float64Array(dims);
  for (const vector of vectors) for (let d = 0; d < dims; d += 1) mean[d]! += vector[d]! / vectors.length;
  for (const vector of vectors) for (let d = 0; d < dims; d += 1) spread[d]! += (vector[d]! - mean[d]!) ** 2 / vectors.length;
  return { mean, spread: spread.map(Math.sqrt) };
}

function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let distance = 0;
  for (let d = 0; d < a.length; d += 1) distance += (a[d]! - b[d]!) ** 2;
  return distance;
}

/** Soft class weights of one normalised frame: a softmax over negative squared distances. */
function classWeights(key: ArrayLike<number>, centroids: ArrayLike<number>[], out: Float64Array): Float64Array {
  let nearest = Infinity;
  for (let c = 0; c < centroids.length; c += 1) {
    out[c] = squaredDistance(key, centroids[c]!);
    nearest = Math.min(nearest, out[c]!);
  }
  let total = 0;
  for (let c = 0; c < centroids.length; c += 1) {
    out[c] = Math.exp(-(out[c]! - nearest) / classTemperature);
    total += out[c]!;
  }
  for (let c = 0; c < centroids.length; c += 1) out[c]! /= total;
  return out;
}

/** k-means (Lloyd), started from frames spread evenly through the reading: deterministic, so one reference always makes one prompt. */
function kMeans(keys: Float64Array[], count: number): Float64Array[] {
  const dims = keys[0]!.length;
  let centroids = Array.from({ length: count }, (_, c) => Float64Array.from(keys[Math.floor(((c + 0.5) * keys.length) / count)]!));
  for (let iteration = 0; iteration < 20; iteration += 1) {
    const sums = centroids.map(() => new Float64Array(dims));
    const members = new Array<number>(count).fill(0);
    for (const key of keys) {
      let best = 0;
      let bestDistance = Infinity;
      for (let c = 0; c < count; c += 1) {
        const distance = squaredDistance(key, centroids[c]!);
        if (distance < bestDistance) {
          best = c;
          bestDistance = distance;
        }
      }
      members[best]! += 1;
      for (let d = 0; d < dims; d += 1) sums[best]![d]! += key[d]!;
    }
    centroids = centroids.map((centroid, c) => (members[c]! > 0 ? sums[c]!.map((sum) => sum / members[c]!) : centroid));
  }
  return centroids;
}

/** Each class's mean difference (soft-weighted) beyond the overall mean, scaled by `classStrength`. */
function soundClasses(keys: Float64Array[], stats: MfccStats, differences: Float64Array[], overall: Float64Array): SoundClasses {
  const centroids = kMeans(keys, soundClassCount);
  const order = overall.length;
  const sums = centroids.map(() => new Float64Array(order));
  const mass = new Float64Array(soundClassCount);
  const weights = new Float64Array(soundClassCount);
  keys.forEach((key, frame) => {
    classWeights(key, centroids, weights);
    const difference = differences[frame]!;
    for (let c = 0; c < soundClassCount; c += 1) {
      mass[c]! += weights[c]!;
      for (let q = 0; q < order; q += 1) sums[c]![q]! += weights[c]! * difference[q]!;
    }
  });
  return {
    mfccMean: [...stats.mean].map(stored),
    mfccSpread: [...stats.spread].map(stored),
    centroids: centroids.map((centroid) => [...centroid].map(stored)),
    cepstra: sums.map((sum, c) => [...sum].map((value, q) => stored(classStrength * (value / Math.max(1e-9, mass[c]!) - overall[q]!)))),
  };
}

/**
 * Five significant digits: the classes are stored with every voice (about 750 numbers) and
 * listing voices reads them; in full doubles they took 13.6 kB of JSON, rounded 7.7 kB, for
 * changes of the filter under 0.01 dB.
 */
function stored(value: number): number {
  return Number(value.toPrecision(5));
}

/**
 * The correction that moves espeak at a voice's settings (`espeakSample`, before EQ and gain)
 * toward the voice's reference; all at `layout.sampleRate`. `rateSample` (espeak at the same
 * settings, longer) is what the syllable-rate ratio is read on: the rate counts syllables, and
 * on 7 s a few more or fewer moved the ratio by 3-4 % from one enrollment of a voice to the
 * next (its pace by as much). `plainRate` is `rateSample`'s syllable rate, when the caller has
 * read it already. Null when either holds too little speech to compare (the engine then keeps
 * its octave EQ).
 */
export function spectralCorrection(
  reference: Float32Array,
  espeakSample: Float32Array,
  layout: FrameLayout,
  rateSample: Float32Array = espeakSample,
  plainRate: number = measureSyllableRate({ samples: rateSample, sampleRate: layout.sampleRate }),
): SpectralCorrection | null {
  const analyser = frameAnalyser(layout);
  const target = speechFrames(analyser, reference);
  const source = speechFrames(analyser, espeakSample);
  if (target.mfcc.length < 20 || source.mfcc.length < 20) return null;
  const targetKeys = normalised(target.mfcc);
  const sourceStats = mfccStats(source.mfcc);
  const sourceKeys = normalised(source.mfcc, sourceStats);
  const order = layout.cepstralOrder;
  const correction = new Float64Array(order);
  const differences = sourceKeys.map(() => new Float64Array(order));
  const nearest = new Int32Array(neighbours);
  const nearestDistance = new Float64Array(neighbours);
  sourceKeys.forEach((key, frame) => {
    // The `neighbours` nearest, kept sorted by insertion (cheaper than sorting every distance).
    nearestDistance.fill(Infinity);
    targetKeys.forEach((candidate, index) => {
      let distance = 0;
      for (let d = 0; d < key.length; d += 1) distance += (candidate[d]! - key[d]!) ** 2;
      if (distance >= nearestDistance[neighbours - 1]!) return;
      let slot = neighbours - 1;
      while (slot > 0 && nearestDistance[slot - 1]! > distance) {
        nearestDistance[slot] = nearestDistance[slot - 1]!;
        nearest[slot] = nearest[slot - 1]!;
        slot -= 1;
      }
      nearestDistance[slot] = distance;
      nearest[slot] = index;
    });
    const own = source.cepstra[frame]!;
    const difference = differences[frame]!;
    for (const index of nearest) {
      const matched = target.cepstra[index]!;
      for (let q = 0; q < order; q += 1) difference[q]! += (matched[q]! - own[q]!) / neighbours;
    }
    for (let q = 0; q < order; q += 1) correction[q]! += difference[q]! / sourceKeys.length;
  });
  const result: SpectralCorrection = { version: 2, cepstrum: [...correction], levelCorrection: 1, syllableRateRatio: 1 };
  if (source.mfcc.length >= soundClassCount * 10) result.classes = soundClasses(sourceKeys, sourceStats, differences, correction);
  const corrected = filtered(rateSample, result, layout);
  result.levelCorrection = Math.min(8, Math.max(0.125, rms(rateSample) / Math.max(1e-9, rms(corrected))));
  const correctedRate = measureSyllableRate({ samples: corrected, sampleRate: layout.sampleRate });
  if (plainRate > 0 && correctedRate > 0) result.syllableRateRatio = Math.min(1.5, Math.max(0.67, correctedRate / plainRate));
  return result;
}

/** `samples` through the correction (before its level correction), as long as they were. */
function filtered(samples: Float32Array, correction: SpectralCorrection, layout: FrameLayout): Float32Array {
  const filter = new CorrectionFilter(correction, layout);
  const head = filter.push(samples);
  const out = new Float32Array(samples.length);
  out.set(head);
  out.set(filter.flush(), head.length);
  return out;
}

/**
 * Applies a correction to one continuous stream, chunk by chunk (short-time Fourier transform,
 * Hann windows at a quarter-frame hop, weighted overlap-add: Griffin and Lim, 1984). Output
 * lags input by three quarters of a frame (35 ms of audio at 22.05 kHz); `flush` returns the
 * rest, so output and input are as long.
 */
export class CorrectionFilter {
  private readonly analyser: FrameAnalyser;
  private readonly hop: number;
  /** This frame's gain per bin. */
  private readonly gains: Float64Array;
  /** The static correction's log gain per bin. */
  private readonly staticLogGains: Float64Array;
  private readonly level: number;
  private readonly classes: ClassFilter | null;
  /** Input not yet consumed by a frame, from the next frame's first sample. */
  private pending: Float32Array;
  private readonly accumulator: Float64Array;
  /** Output samples still to drop: the padding before the first frame. */
  private toDrop: number;
  private inputLength = 0;
  private outputLength = 0;
  private readonly resynthesised: number[];

  constructor(correction: SpectralCorrection, layout: FrameLayout) {
    this.analyser = frameAnalyser(layout);
    const size = layout.fftSize;
    this.hop = size / 4;
    this.staticLogGains = new Float64Array(this.analyser.bins);
    this.analyser.envelope(correction.cepstrum, this.staticLogGains);
    this.level = correction.levelCorrection;
    this.gains = this.staticLogGains.map((value) => gainOf(value, this.level));
    this.classes = correction.classes ? new ClassFilter(correction.classes, this.analyser) : null;
    this.toDrop = size - this.hop;
    this.pending = new Float32Array(this.toDrop);
    this.accumulator = new Float64Array(size);
    this.resynthesised = new Array<number>(size).fill(0);
  }

  push(chunk: Float32Array): Float32Array<ArrayBuffer> {
    return this.feed(chunk, true);
  }

  flush(): Float32Array<ArrayBuffer> {
    return this.feed(new Float32Array(this.analyser.layout.fftSize), false);
  }

  /** `audio` false: padding that pushes the last frames out, not counted as input. */
  private feed(chunk: Float32Array, audio: boolean): Float32Array<ArrayBuffer> {
    if (audio) this.inputLength += chunk.length;
    const joined = new Float32Array(this.pending.length + chunk.length);
    joined.set(this.pending);
    joined.set(chunk, this.pending.length);
    this.pending = joined;
    return this.drain();
  }

  private drain(): Float32Array<ArrayBuffer> {
    const size = this.analyser.layout.fftSize;
    // Never more output than input: the padding pushed by flush is not audio.
    const room = this.inputLength - this.outputLength;
    const frames = Math.max(0, Math.floor((this.pending.length - size) / this.hop) + 1);
    const out = new Float32Array(frames * this.hop);
    let written = 0;
    let offset = 0;
    for (let frame = 0; frame < frames; frame += 1) {
      this.frame(offset);
      offset += this.hop;
      const skip = Math.min(this.toDrop, this.hop);
      this.toDrop -= skip;
      for (let i = skip; i < this.hop; i += 1) out[written++] = this.accumulator[i]!;
      this.accumulator.copyWithin(0, this.hop);
      this.accumulator.fill(0, size - this.hop);
    }
    this.pending = this.pending.slice(offset);
    const emitted = out.slice(0, Math.max(0, Math.min(written, room)));
    this.outputLength += emitted.length;
    return emitted;
  }

  private frame(offset: number): void {
    const analyser = this.analyser;
    const size = analyser.layout.fftSize;
    analyser.analyse(this.pending, offset, null, this.classes?.mfcc ?? null);
    if (this.classes) this.classes.gains(this.staticLogGains, this.level, this.gains);
    const spectrum = analyser.lastSpectrum;
    for (let k = 0; k < analyser.bins; k += 1) {
      const gain = this.gains[k]!;
      spectrum[2 * k]! *= gain;
      spectrum[2 * k + 1]! *= gain;
      if (k > 0 && k < size / 2) {
        spectrum[2 * (size - k)]! *= gain;
        spectrum[2 * (size - k) + 1]! *= gain;
      }
    }
    analyser.inverse(spectrum, this.resynthesised);
    // Hann analysis and synthesis windows at a quarter-frame hop overlap-add to 1.5.
    for (let i = 0; i < size; i += 1) this.accumulator[i]! += (this.resynthesised[i]! * analyser.window[i]!) / 1.5;
  }
}

function gainOf(logGain: number, level: number): number {
  return Math.exp(Math.max(-maxLogGain, Math.min(maxLogGain, logGain))) * level;
}

/**
 * Weights of the sound classes from one frame to the next: each frame's own, averaged with the
 * frames before it (a one-pole smoother, about one frame of lag), so a frame on the edge of two
 * sounds does not flick the filter between their corrections.
 */
const classSmoothing = 0.5;

/** The per-frame part of a correction: which sounds a frame is like, and the correction they call for. */
class ClassFilter {
  /** The current frame's MFCCs (the analyser writes them). */
  readonly mfcc: Float64Array;
  private readonly key: Float64Array;
  private readonly stats: { mean: number[]; spread: number[] };
  private readonly weights: Float64Array;
  private readonly smoothed: Float64Array;
  private started = false;
  /** Each class's log gain per bin, beyond the static correction. */
  private readonly logGains: Float64Array[];

  constructor(
    private readonly classes: SoundClasses,
    analyser: FrameAnalyser,
  ) {
    this.mfcc = new Float64Array(analyser.layout.mfccCount);
    this.key = new Float64Array(analyser.layout.mfccCount);
    this.stats = { mean: classes.mfccMean, spread: classes.mfccSpread };
    this.weights = new Float64Array(classes.centroids.length);
    this.smoothed = new Float64Array(classes.centroids.length);
    this.logGains = classes.cepstra.map((cepstrum) => {
      const logGain = new Float64Array(analyser.bins);
      analyser.envelope(cepstrum, logGain);
      return logGain;
    });
  }

  /** Writes the current frame's gain per bin into `out`. */
  gains(staticLogGains: Float64Array, level: number, out: Float64Array): void {
    normalise(this.mfcc, this.stats, this.key);
    classWeights(this.key, this.classes.centroids, this.weights);
    for (let c = 0; c < this.weights.length; c += 1) {
      this.smoothed[c] = this.started ? classSmoothing * this.smoothed[c]! + (1 - classSmoothing) * this.weights[c]! : this.weights[c]!;
    }
    this.started = true;
    for (let k = 0; k < out.length; k += 1) {
      let logGain = staticLogGains[k]!;
      for (let c = 0; c < this.logGains.length; c += 1) logGain += this.smoothed[c]! * this.logGains[c]![k]!;
      out[k] = gainOf(logGain, level);
    }
  }
}
