// Short-time spectral analysis for the preview engine's voice conversion: for each frame, its
// real cepstrum up to `cepstralOrder` (the spectral envelope; the log spectrum smoothed by
// liftering, after Oppenheim and Schafer's homomorphic analysis) and its mel-frequency cepstral
// coefficients (what is said; Davis and Mermelstein, 1980). Hand-written over fft.js: no
// maintained npm package computes cepstra frame by frame, and these run per chunk inside the
// synthesizer's worker threads.
import FFT from 'fft.js';
import { hannWindow, melFilterbank } from './speaker/mel.js';

export interface FrameLayout {
  sampleRate: number;
  fftSize: number;
  /** Cepstral coefficients c1..cN kept for the envelope (c0, the level, is left out). */
  cepstralOrder: number;
  /** MFCCs c1..cN kept for matching frames. */
  mfccCount: number;
  /**
   * The envelope is read below this frequency and held flat above it: references are often
   * band-limited (16 kHz recordings stop at 8 kHz), and a cliff in the log spectrum would ring
   * through every low-order cepstral coefficient.
   */
  envelopeMaxHz: number;
}

/**
 * At espeak-ng's 22.05 kHz: 46 ms frames; order 80 (quefrencies to 3.6 ms) resolves the
 * envelope to about 140 Hz and still smooths out the harmonics of voices below ~270 Hz.
 * Order 40 gave clones a mean cosine 0.007 lower in `bench:similarity`'s first 20 speakers.
 */
export const correctionLayout: FrameLayout = { sampleRate: 22050, fftSize: 1024, cepstralOrder: 80, mfccCount: 12, envelopeMaxHz: 7000 };

/** Deepest valley kept in the log spectrum under its peak, natural-log amplitude units (70 dB). */
const valleyFloor = (70 / 20) * Math.LN10;

const melCount = 26;
const floorPower = 1e-10;

/** The per-layout tables (window, FFT, filterbank, DCT, cosine basis), made once. */
export class FrameAnalyser {
  readonly bins: number;
  readonly window: Float64Array;
  private readonly fft: FFT;
  private readonly frame: number[];
  private readonly spectrum: number[];
  private readonly logMagnitude: number[];
  private readonly cepstrumOut: number[];
  private readonly inverseOut: number[];
  private readonly filterbank: Float64Array;
  /** Each mel band's first and last bin with a non-zero weight (the filterbank is sparse). */
  private readonly bandBins: [number, number][];
  private readonly dct: Float64Array;
  /** cos(2 pi k q / N) for q = 1..order, k = 0..N/2: turns a cepstrum into a log envelope. */
  private readonly envelopeBasis: Float64Array;
  readonly power: Float64Array;
  /** The highest bin the envelope is read from. */
  readonly envelopeTopBin: number;

  constructor(readonly layout: FrameLayout) {
    const size = layout.fftSize;
    this.bins = size / 2 + 1;
    this.window = hannWindow(size);
    this.fft = new FFT(size);
    this.frame = new Array<number>(size).fill(0);
    this.spectrum = this.fft.createComplexArray() as number[];
    this.logMagnitude = new Array<number>(size).fill(0);
    this.cepstrumOut = this.fft.createComplexArray() as number[];
    this.inverseOut = this.fft.createComplexArray() as number[];
    this.power = new Float64Array(this.bins);
    this.envelopeTopBin = Math.min(this.bins - 1, Math.round((layout.envelopeMaxHz / layout.sampleRate) * size));
    this.filterbank = melFilterbank({ sampleRate: layout.sampleRate, fftSize: size, hopLength: size / 4, melCount, minHz: 80, maxHz: Math.min(7600, layout.sampleRate / 2) });
    this.bandBins = Array.from({ length: melCount }, (_, m) => {
      let first = this.bins;
      let last = -1;
      for (let k = 0; k < this.bins; k += 1) {
        if (this.filterbank[m * this.bins + k]! === 0) continue;
        first = Math.min(first, k);
        last = k;
      }
      return [first, last];
    });
    this.dct = new Float64Array(layout.mfccCount * melCount);
    for (let c = 0; c < layout.mfccCount; c += 1) {
      for (let m = 0; m < melCount; m += 1) this.dct[c * melCount + m] = Math.cos((Math.PI * (c + 1) * (m + 0.5)) / melCount);
    }
    this.envelopeBasis = new Float64Array(layout.cepstralOrder * this.bins);
    for (let q = 1; q <= layout.cepstralOrder; q += 1) {
      for (let k = 0; k < this.bins; k += 1) this.envelopeBasis[(q - 1) * this.bins + k] = 2 * Math.cos((2 * Math.PI * k * q) / size);
    }
  }

  /**
   * Analyses the frame of `samples` starting at `from` (zeros past the end): fills `power`
   * and the complex spectrum (kept for resynthesis), writes c1..cN into `cepstrum` and the
   * MFCCs into `mfcc`, and returns the frame's level in dB.
   */
  analyse(samples: Float32Array, from: number, cepstrum: Float64Array | null, mfcc: Float64Array | null): number {
    const size = this.layout.fftSize;
    let energy = 0;
    for (let i = 0; i < size; i += 1) {
      const value = samples[from + i] ?? 0;
      this.frame[i] = value * this.window[i]!;
      energy += this.frame[i]! * this.frame[i]!;
    }
    this.fft.realTransform(this.spectrum, this.frame);
    this.fft.completeSpectrum(this.spectrum);
    for (let k = 0; k < this.bins; k += 1) this.power[k] = this.spectrum[2 * k]! ** 2 + this.spectrum[2 * k + 1]! ** 2;
    if (cepstrum) {
      // The real cepstrum of an even log spectrum is its (real) DFT divided by N.
      let peak = -Infinity;
      for (let k = 0; k <= this.envelopeTopBin; k += 1) {
        this.logMagnitude[k] = 0.5 * Math.log(this.power[k]! + floorPower);
        peak = Math.max(peak, this.logMagnitude[k]!);
      }
      for (let k = 0; k <= this.envelopeTopBin; k += 1) this.logMagnitude[k] = Math.max(this.logMagnitude[k]!, peak - valleyFloor);
      for (let k = this.envelopeTopBin + 1; k < this.bins; k += 1) this.logMagnitude[k] = this.logMagnitude[this.envelopeTopBin]!;
      for (let k = this.bins; k < size; k += 1) this.logMagnitude[k] = this.logMagnitude[size - k]!;
      this.fft.realTransform(this.cepstrumOut, this.logMagnitude);
      for (let q = 1; q <= this.layout.cepstralOrder; q += 1) cepstrum[q - 1] = this.cepstrumOut[2 * q]! / size;
    }
    if (mfcc) {
      const bands = new Float64Array(melCount);
      for (let m = 0; m < melCount; m += 1) {
        let sum = 0;
        const row = m * this.bins;
        const [first, last] = this.bandBins[m]!;
        for (let k = first; k <= last; k += 1) sum += this.filterbank[row + k]! * this.power[k]!;
        bands[m] = Math.log(sum + floorPower);
      }
      for (let c = 0; c < this.layout.mfccCount; c += 1) {
        let sum = 0;
        for (let m = 0; m < melCount; m += 1) sum += this.dct[c * melCount + m]! * bands[m]!;
        mfcc[c] = sum;
      }
    }
    return 10 * Math.log10(energy / size + 1e-12);
  }

  /** The complex spectrum of the last analysed frame (interleaved re, im; all N bins). */
  get lastSpectrum(): number[] {
    return this.spectrum;
  }

  /** Log-magnitude envelope (natural log, without c0) of cepstrum c1..cN at each bin, into `out`. */
  envelope(cepstrum: ArrayLike<number>, out: Float64Array): void {
    out.fill(0);
    const top = this.envelopeTopBin;
    for (let q = 0; q < this.layout.cepstralOrder; q += 1) {
      const coefficient = cepstrum[q]!;
      if (coefficient === 0) continue;
      const row = q * this.bins;
      for (let k = 0; k <= top; k += 1) out[k]! += coefficient * this.envelopeBasis[row + k]!;
    }
    out.fill(out[top]!, top + 1);
  }

  /** Inverse FFT of an interleaved complex spectrum into `out` (real part). */
  inverse(spectrum: number[], out: number[]): void {
    this.fft.inverseTransform(this.inverseOut, spectrum);
    for (let i = 0; i < this.layout.fftSize; i += 1) out[i] = this.inverseOut[2 * i]!;
  }
}

const analysers = new Map<string, FrameAnalyser>();

/**
 * The thread's analyser for `layout`, made once: making one computes its tables (about 1 ms),
 * which a synthesis job would otherwise pay before its first chunk. Its scratch buffers are
 * used call by call, synchronously, so one per thread serves every job in turn.
 */
export function frameAnalyser(layout: FrameLayout): FrameAnalyser {
  const key = JSON.stringify(layout);
  let analyser = analysers.get(key);
  if (!analyser) {
    analyser = new FrameAnalyser(layout);
    analysers.set(key, analyser);
  }
  return analyser;
}

/** Indices of the frames within `belowLoudestDb` of the loudest (their 95th percentile level): the speech. */
export function speechFrameIndices(levels: number[], belowLoudestDb: number): number[] {
  const sorted = [...levels].sort((a, b) => a - b);
  const loud = sorted[Math.floor(0.95 * (sorted.length - 1))] ?? 0;
  return levels.flatMap((level, index) => (level > loud - belowLoudestDb ? [index] : []));
}
