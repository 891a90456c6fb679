// Resemblyzer's preprocessing and partial-utterance slicing (resemblyzer/audio.py and
// VoiceEncoder.compute_partial_slices, v0.1.4), one pure function a stage.
//
// One deliberate difference: Resemblyzer finds speech with webrtcvad (mode 3, 30 ms windows);
// Timbre has Silero VAD already loaded and no C extension to add, so `voicedWindows` marks a
// 30 ms window voiced when Silero's speech spans cover half of it, and the same smoothing and
// dilation follow. bench/speaker-equivalence.ts measures what the substitution changes.

import type { SpeechSpan } from '../vad.js';

export interface SilenceTrimOptions {
  sampleRate: number;
  /** Resemblyzer `vad_window_length`. */
  windowMs: number;
  /** Resemblyzer `vad_moving_average_width`, windows. */
  movingAverageWidth: number;
  /** Resemblyzer `vad_max_silence_length`, windows. */
  maxSilenceWindows: number;
}

export const resemblyzerTrim: SilenceTrimOptions = { sampleRate: 16000, windowMs: 30, movingAverageWidth: 8, maxSilenceWindows: 6 };

const int16Max = 32767;

/**
 * Scales the audio so its RMS is `targetDbfs` (relative to int16 full scale, as Resemblyzer
 * measures it); with `increaseOnly`, louder audio is left as it is.
 */
export function normalizeVolume(samples: Float32Array, targetDbfs: number, increaseOnly: boolean): Float32Array {
  let sumOfSquares = 0;
  for (let i = 0; i < samples.length; i += 1) {
    const scaled = samples[i]! * int16Max;
    sumOfSquares += scaled * scaled;
  }
  const rms = Math.sqrt(sumOfSquares / Math.max(1, samples.length));
  if (rms === 0) return samples;
  const changeDb = targetDbfs - 20 * Math.log10(rms / int16Max);
  if (changeDb < 0 && increaseOnly) return samples;
  const gain = 10 ** (changeDb / 20);
  // An indexed loop, not Float32Array.map: over a 20 s upload at a create, map with its
  // callback took 9-13 ms on the event loop, this loop 2.5 ms (the same samples).
  const raised = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) raised[i] = samples[i]! * gain;
  return raised;
}

/** One flag per whole window: voiced when speech spans cover at least half of it. */
export function voicedWindows(spans: readonly SpeechSpan[], sampleCount: number, options: SilenceTrimOptions): boolean[] {
  const windowSamples = (options.windowMs * options.sampleRate) / 1000;
  const windows = Math.floor(sampleCount / windowSamples);
  const flags = new Array<boolean>(windows).fill(false);
  for (let window = 0; window < windows; window += 1) {
    const start = (window * windowSamples) / options.sampleRate;
    const end = ((window + 1) * windowSamples) / options.sampleRate;
    let covered = 0;
    for (const span of spans) covered += Math.max(0, Math.min(end, span.endSeconds) - Math.max(start, span.startSeconds));
    flags[window] = covered >= (end - start) / 2;
  }
  return flags;
}

/**
 * Resemblyzer's `trim_long_silences` after the VAD: a moving average of the flags (zero padded,
 * `width` wide), rounded, then dilated by `maxSilenceWindows + 1` windows; the samples of the
 * kept windows, in order (the tail beyond the last whole window is dropped, as there).
 */
export function keepVoiced(samples: Float32Array, flags: readonly boolean[], options: SilenceTrimOptions): Float32Array {
  const windowSamples = (options.windowMs * options.sampleRate) / 1000;
  const width = options.movingAverageWidth;
  const before = Math.floor((width - 1) / 2);
  const smoothed = flags.map((_, window) => {
    let sum = 0;
    for (let offset = -before; offset < width - before; offset += 1) sum += flags[window + offset] ? 1 : 0;
    // numpy rounds halves to even: 0.5 -> 0 (width 8 gives multiples of 1/8, so only 4/8 is a half).
    return sum / width > 0.5;
  });
  // scipy's binary_dilation with a structure of `size` ones centred at floor(size / 2).
  const size = options.maxSilenceWindows + 1;
  const centre = Math.floor(size / 2);
  const kept = smoothed.map((_, window) => {
    for (let offset = -centre; offset < size - centre; offset += 1) {
      if (smoothed[window - offset]) return true;
    }
    return false;
  });
  const out = new Float32Array(kept.filter(Boolean).length * windowSamples);
  let at = 0;
  kept.forEach((keep, window) => {
    if (!keep) return;
    out.set(samples.subarray(window * windowSamples, (window + 1) * windowSamples), at);
    at += windowSamples;
  });
  return out;
}

export interface PartialOptions {
  /** Frames in one partial utterance (Resemblyzer `partials_n_frames`: 160 = 1.6 s). */
  partialFrames: number;
  /** Samples per mel frame. */
  hopLength: number;
  sampleRate: number;
  /** Partial utterances per second (Resemblyzer's default 1.3: about 50 % overlap). */
  rate: number;
  /** The last partial is kept only when audio covers this share of it (unless it is the only one). */
  minCoverage: number;
}

export const resemblyzerPartials: PartialOptions = { partialFrames: 160, hopLength: 160, sampleRate: 16000, rate: 1.3, minCoverage: 0.75 };

/**
 * Where each partial utterance starts, in mel frames, and how long the waveform must be
 * (zero-padded) for the last partial's frames to exist: `compute_partial_slices`.
 */
export function partialStarts(sampleCount: number, options: PartialOptions): { starts: number[]; paddedLength: number } {
  const frames = Math.ceil((sampleCount + 1) / options.hopLength);
  // Python's round() halves to even; (16000 / 1.3) / 160 = 76.9 is nowhere near a half.
  const step = Math.round(options.sampleRate / options.rate / options.hopLength);
  const steps = Math.max(1, frames - options.partialFrames + step + 1);
  const starts: number[] = [];
  for (let start = 0; start < steps; start += step) starts.push(start);
  const last = starts[starts.length - 1]!;
  const coverage = (sampleCount - last * options.hopLength) / (options.partialFrames * options.hopLength);
  if (coverage < options.minCoverage && starts.length > 1) starts.pop();
  const end = (starts[starts.length - 1]! + options.partialFrames) * options.hopLength;
  return { starts, paddedLength: Math.max(sampleCount, end) };
}

/** The mean of unit vectors, itself scaled to unit length. */
export function meanDirection(vectors: readonly Float32Array[]): Float32Array {
  const mean = new Float32Array(vectors[0]?.length ?? 0);
  for (const vector of vectors) vector.forEach((value, index) => (mean[index] = mean[index]! + value));
  return unitLength(mean);
}

export function unitLength(vector: Float32Array): Float32Array {
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((value) => value / norm);
}

/** Cosine of two embeddings (their dot product when both have unit length, as embed returns). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let index = 0; index < a.length; index += 1) {
    dot += a[index]! * b[index]!;
    normA += a[index]! ** 2;
    normB += b[index]! ** 2;
  }
  return dot / Math.sqrt(normA * normB);
}
