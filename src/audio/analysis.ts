import { YIN } from 'pitchfinder';
import { OctaveBiquad } from './biquad.js';
import { medianFormants, type Formants } from './formants.js';
import type { Audio } from './types.js';

/** What a voice sounds like, measured the same way on references and on synthesized speech. */
export interface VoiceStats {
  /** Median fundamental frequency of voiced frames, Hz. */
  medianF0: number;
  /** Spread of F0 from the 10th to the 90th percentile, in semitones. */
  f0RangeSemitones: number;
  /** Syllable nuclei per second of speech. */
  syllableRate: number;
  /** Long-term average spectrum: level in dB of each band in `spectrumBands`. */
  spectrum: number[];
  /**
   * Median F1, F2 and F3 (Hz) of the loud frames: where the vocal tract's resonances sit.
   * Absent when too little voiced speech shows them, and in voices analysed before it existed.
   */
  formants?: Formants;
  rmsDb: number;
}

/** Octave band centres (Hz) of the long-term spectrum and of the preview engine's EQ. */
export const spectrumBands = [125, 250, 500, 1000, 2000, 4000, 8000] as const;

const analysisRate = 8000;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))]!;
}

/** Averaging decimation to 8 kHz: crude anti-aliasing is enough for F0 and energy. */
function decimate(audio: Audio): Float32Array {
  const factor = audio.sampleRate / analysisRate;
  const out = new Float32Array(Math.floor(audio.samples.length / factor));
  for (let i = 0; i < out.length; i += 1) {
    const from = Math.floor(i * factor);
    const to = Math.floor((i + 1) * factor);
    let sum = 0;
    for (let j = from; j < to; j += 1) sum += audio.samples[j] ?? 0;
    out[i] = sum / Math.max(1, to - from);
  }
  return out;
}

function frameDb(samples: Float32Array, from: number, length: number): number {
  let sum = 0;
  for (let i = from; i < from + length; i += 1) sum += (samples[i] ?? 0) ** 2;
  return 10 * Math.log10(sum / length + 1e-12);
}

/** F0 of each voiced 40 ms frame (YIN from pitchfinder), 60-450 Hz, from 8 kHz samples. */
function trackPitch(samples: Float32Array): number[] {
  const detect = YIN({ sampleRate: analysisRate, threshold: 0.15, probabilityThreshold: 0.2 });
  const frame = 320;
  const hop = 320;
  const levels: number[] = [];
  for (let from = 0; from + frame <= samples.length; from += hop) levels.push(frameDb(samples, from, frame));
  const loud = quantile([...levels].sort((a, b) => a - b), 0.95);
  const pitches: number[] = [];
  levels.forEach((level, index) => {
    if (level < loud - 30) return;
    const f0 = detect(samples.subarray(index * hop, index * hop + frame));
    if (f0 !== null && f0 >= 60 && f0 <= 450) pitches.push(f0);
  });
  return pitches;
}

/**
 * Syllable nuclei per second of speech, from 8 kHz samples: peaks of the intensity contour that rise at
 * least 2 dB above the dip before them, within 25 dB of the loudest frames (after de Jong and
 * Wempe, 2009). The contour is taken in the octave around 1 kHz, where vowels are loud and
 * neither fricatives and bursts (above) nor nasals and voicing (below) are: taken over the whole
 * band, louder consonants read as extra syllables (espeak with its consonants at 250 % read 4-10 %
 * faster; in this octave within 3 %). Hand-written: no maintained npm package estimates speaking rate.
 */
function syllableRate(input: Float32Array): number {
  const samples = new Float32Array(input.length);
  OctaveBiquad.bandPass(1000, analysisRate)!.filter(input, samples);
  const frame = 200; // 25 ms
  const hop = 80; // 10 ms
  const raw: number[] = [];
  for (let from = 0; from + frame <= samples.length; from += hop) raw.push(frameDb(samples, from, frame));
  // Smooth over 5 frames so one syllable gives one peak.
  const contour = raw.map((_, index) => {
    let sum = 0;
    let count = 0;
    for (let j = index - 2; j <= index + 2; j += 1) {
      if (j >= 0 && j < raw.length) {
        sum += raw[j]!;
        count += 1;
      }
    }
    return sum / count;
  });
  const floor = quantile([...contour].sort((a, b) => a - b), 0.98) - 25;
  const speechFrames = contour.filter((level) => level > floor).length;
  let nuclei = 0;
  let dip = Infinity;
  for (let i = 1; i < contour.length - 1; i += 1) {
    const level = contour[i]!;
    dip = Math.min(dip, level);
    if (level > floor && level >= contour[i - 1]! && level > contour[i + 1]! && level - dip >= 2) {
      nuclei += 1;
      dip = level;
    }
  }
  const speechSeconds = (speechFrames * hop) / analysisRate;
  return speechSeconds > 0 ? nuclei / speechSeconds : 0;
}

/** Halves the rate by averaging pairs: enough low-pass for bands an octave below Nyquist. */
function halve(audio: Audio): Audio {
  const samples = new Float32Array(audio.samples.length >> 1);
  for (let i = 0; i < samples.length; i += 1) samples[i] = ((audio.samples[2 * i] ?? 0) + (audio.samples[2 * i + 1] ?? 0)) / 2;
  return { samples, sampleRate: audio.sampleRate / 2 };
}

/** Level of each octave band (band-pass biquads); bands below 4 kHz run at half rate. */
function bandSpectrum(audio: Audio): number[] {
  const half = halve(audio);
  const scratch = new Float32Array(audio.samples.length);
  return spectrumBands.map((centre) => {
    const { samples, sampleRate } = centre * 2.9 < half.sampleRate / 2 ? half : audio;
    const filter = OctaveBiquad.bandPass(centre, sampleRate);
    if (!filter) return -120;
    const filtered = scratch.subarray(0, samples.length);
    filter.filter(samples, filtered);
    let energy = 0;
    for (const y of filtered) energy += y * y;
    return 10 * Math.log10(energy / Math.max(1, samples.length) + 1e-12);
  });
}

/** Root mean square of the samples (0 for none). */
export function rms(samples: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i += 1) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

/** Syllable nuclei per second of speech, as `analyseVoice` reads them, alone. */
export function measureSyllableRate(audio: Audio): number {
  return syllableRate(decimate(audio));
}

function optionalFormants(audio: Audio): { formants?: Formants } {
  const formants = medianFormants(audio);
  return formants ? { formants } : {};
}

export function analyseVoice(audio: Audio): VoiceStats {
  const at8k = decimate(audio);
  const pitches = trackPitch(at8k).sort((a, b) => a - b);
  return {
    medianF0: quantile(pitches, 0.5),
    f0RangeSemitones: pitches.length > 0 ? 12 * Math.log2(quantile(pitches, 0.9) / quantile(pitches, 0.1)) : 0,
    syllableRate: syllableRate(at8k),
    spectrum: bandSpectrum(audio),
    ...optionalFormants(audio),
    rmsDb: 10 * Math.log10(rms(audio.samples) ** 2 + 1e-12),
  };
}

export function semitonesBetween(a: number, b: number): number {
  return 12 * Math.log2(a / b);
}
