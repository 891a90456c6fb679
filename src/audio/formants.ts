// Where a voice's first three formants sit: linear prediction by the autocorrelation method
// (Levinson-Durbin recursion; Makhoul, 1975) on 25 ms frames every 20 ms at 16 kHz, the peaks of each
// frame's all-pole envelope picked as F1, F2 and F3 (the peak-picking formant tracker of
// Markel and Gray, 1976), and the median of each over the loud frames. Hand-written over
// fft.js: no maintained npm package does linear prediction or tracks formants.
import FFT from 'fft.js';
import { PolyphaseResampler, type PolyphaseOptions } from './polyphase-resampler.js';
import { hannWindow } from './speaker/mel.js';
import { joinSamples, type Audio } from './types.js';

/** Median F1, F2 and F3 in Hz. */
export type Formants = [number, number, number];

const analysisRate = 16000;
/** Two poles per kHz of bandwidth and two for the glottal and radiation tilt. */
const order = 18;
const frameLength = 400; // 25 ms
/** 20 ms: a median over a reference's thousand frames needs no finer step (10 ms took twice as long). */
const hop = 320;
/** The envelope is read at 31.25 Hz steps; each peak is placed between them by a parabola. */
const fftSize = 512;
/** Above every formant looked for: the envelope is read no higher. */
const topHz = 4000;
/**
 * Nothing above `topHz` is read, so the resampler keeps half the band and its filter can be
 * several times shorter than a stream's (24 -> 16 kHz: 60-90 ms for 20 s with the default).
 */
const resampling: PolyphaseOptions = { passbandFraction: 0.5, stopbandDb: 60 };
/** Frames this far below the loudest (95th percentile) are pauses, breaths and weak consonants. */
const loudnessDb = 20;
/** Fewer frames with all three formants than this are not a voice's median. */
const minFrames = 20;
/** Where each formant may lie, and how far above the one below it (Hz). */
const searchHz = { f1: [200, 1000], f2: [700, 2800], f3: [1600, 3800], minGap: 200 } as const;

function at16k(audio: Audio): Float32Array {
  if (audio.sampleRate === analysisRate) return audio.samples;
  const resampler = new PolyphaseResampler(audio.sampleRate, analysisRate, resampling);
  return joinSamples([resampler.process(audio.samples), resampler.finish()]);
}

/** Prediction coefficients a[0..order] (a[0] = 1) from the autocorrelation `r`. */
function levinsonDurbin(r: Float64Array): Float64Array {
  const a = new Float64Array(order + 1);
  const previous = new Float64Array(order + 1);
  a[0] = 1;
  // A touch of white noise keeps the recursion stable on digital silence.
  let error = r[0]! * (1 + 1e-9) + 1e-12;
  for (let i = 1; i <= order; i += 1) {
    let sum = r[i]!;
    for (let j = 1; j < i; j += 1) sum += a[j]! * r[i - j]!;
    const reflection = -sum / error;
    previous.set(a);
    for (let j = 1; j < i; j += 1) a[j] = previous[j]! + reflection * previous[i - j]!;
    a[i] = reflection;
    error *= 1 - reflection * reflection;
  }
  return a;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The median first three formants of `audio`'s loud frames, or null when too few frames show all three. */
export function medianFormants(audio: Audio): Formants | null {
  const samples = at16k(audio);
  const emphasised = new Float64Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) emphasised[i] = samples[i]! - 0.97 * (i > 0 ? samples[i - 1]! : 0);
  const starts: number[] = [];
  const levels: number[] = [];
  for (let start = 0; start + frameLength <= samples.length; start += hop) {
    let energy = 0;
    for (let i = start; i < start + frameLength; i += 1) energy += samples[i]! * samples[i]!;
    starts.push(start);
    levels.push(10 * Math.log10(energy / frameLength + 1e-12));
  }
  if (levels.length === 0) return null;
  const loud = [...levels].sort((x, y) => x - y)[Math.floor(0.95 * (levels.length - 1))]! - loudnessDb;
  const window = hannWindow(frameLength);
  const frame = new Float64Array(frameLength);
  const r = new Float64Array(order + 1);
  const fft = new FFT(fftSize);
  const padded = new Array<number>(fftSize).fill(0);
  const spectrum = fft.createComplexArray() as number[];
  const topBin = Math.ceil(topHz / (analysisRate / fftSize)) + 1;
  const inversePower = new Float64Array(topBin + 1);
  const binHz = analysisRate / fftSize;
  const found: Formants[] = [];
  starts.forEach((start, index) => {
    if (levels[index]! < loud) return;
    for (let i = 0; i < frameLength; i += 1) frame[i] = emphasised[start + i]! * window[i]!;
    for (let lag = 0; lag <= order; lag += 1) {
      let sum = 0;
      for (let i = lag; i < frameLength; i += 1) sum += frame[i]! * frame[i - lag]!;
      r[lag] = sum;
    }
    const a = levinsonDurbin(r);
    for (let i = 0; i <= order; i += 1) padded[i] = a[i]!;
    fft.realTransform(spectrum, padded);
    // The all-pole envelope is 1 / |A|^2: its peaks are the troughs of |A|^2.
    for (let k = 0; k <= topBin; k += 1) inversePower[k] = 1 / (spectrum[2 * k]! ** 2 + spectrum[2 * k + 1]! ** 2 + 1e-20);
    const peaks: number[] = [];
    for (let k = 1; k < topBin; k += 1) {
      if (inversePower[k]! > inversePower[k - 1]! && inversePower[k]! >= inversePower[k + 1]!) {
        // The parabola through the three log levels places the peak between bins.
        const [left, centre, right] = [Math.log(inversePower[k - 1]!), Math.log(inversePower[k]!), Math.log(inversePower[k + 1]!)];
        const curvature = left - 2 * centre + right;
        peaks.push((k + (curvature < 0 ? (0.5 * (left - right)) / curvature : 0)) * binHz);
      }
    }
    const f1 = peaks.find((f) => f >= searchHz.f1[0] && f <= searchHz.f1[1]);
    if (f1 === undefined) return;
    const f2 = peaks.find((f) => f >= f1 + searchHz.minGap && f >= searchHz.f2[0] && f <= searchHz.f2[1]);
    if (f2 === undefined) return;
    const f3 = peaks.find((f) => f >= f2 + searchHz.minGap && f >= searchHz.f3[0] && f <= searchHz.f3[1]);
    if (f3 === undefined) return;
    found.push([f1, f2, f3]);
  });
  if (found.length < minFrames) return null;
  return [median(found.map((f) => f[0])), median(found.map((f) => f[1])), median(found.map((f) => f[2]))];
}
