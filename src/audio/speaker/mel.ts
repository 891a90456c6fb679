// The mel spectrogram Resemblyzer feeds its encoder, as librosa computes it
// (`librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40)`): a
// centred STFT with a periodic Hann window and zero padding (librosa >= 0.10), power 2, and
// Slaney's mel filterbank with Slaney's area normalisation (librosa's defaults, htk=False).
//
// The constants (window, DFT basis, filterbank) are computed here; the products run inside the
// encoder's ONNX graph, where onnxruntime's matrix multiply does in milliseconds what a
// 400-point DFT (not a power of two, so no radix-2 FFT library fits it) would take a JS loop
// a good part of the time budget to do.

export interface MelOptions {
  sampleRate: number;
  /** Window and DFT length, samples (librosa `n_fft`). */
  fftSize: number;
  /** Samples between frames (librosa `hop_length`). */
  hopLength: number;
  melCount: number;
  minHz: number;
  maxHz: number;
}

/** Resemblyzer's hparams: 25 ms windows every 10 ms, 40 channels, at 16 kHz. */
export const resemblyzerMel: MelOptions = { sampleRate: 16000, fftSize: 400, hopLength: 160, melCount: 40, minHz: 0, maxHz: 8000 };

export function binCount(options: MelOptions): number {
  return Math.floor(options.fftSize / 2) + 1;
}

/** Periodic Hann window (scipy's `get_window('hann', n, fftbins=True)`, librosa's default). */
export function hannWindow(length: number): Float64Array {
  const window = new Float64Array(length);
  for (let index = 0; index < length; index += 1) window[index] = 0.5 - 0.5 * Math.cos((2 * Math.PI * index) / length);
  return window;
}

/** Hz to mel on Slaney's scale (Auditory Toolbox): linear below 1 kHz, logarithmic above. */
export function hzToMel(hz: number): number {
  const linearStep = 200 / 3;
  const logStart = 1000;
  const logStep = Math.log(6.4) / 27;
  return hz < logStart ? hz / linearStep : logStart / linearStep + Math.log(hz / logStart) / logStep;
}

export function melToHz(mel: number): number {
  const linearStep = 200 / 3;
  const logStart = 1000;
  const logStartMel = logStart / linearStep;
  const logStep = Math.log(6.4) / 27;
  return mel < logStartMel ? mel * linearStep : logStart * Math.exp(logStep * (mel - logStartMel));
}

/**
 * Triangular filters evenly spaced on Slaney's mel scale, each scaled to unit area
 * (`2 / (upper edge - lower edge)`), as `librosa.filters.mel(norm='slaney')`.
 * Row-major [melCount][binCount].
 */
export function melFilterbank(options: MelOptions): Float64Array {
  const bins = binCount(options);
  const minMel = hzToMel(options.minHz);
  const maxMel = hzToMel(options.maxHz);
  const edgesHz = Array.from({ length: options.melCount + 2 }, (_, index) => melToHz(minMel + ((maxMel - minMel) * index) / (options.melCount + 1)));
  const weights = new Float64Array(options.melCount * bins);
  for (let mel = 0; mel < options.melCount; mel += 1) {
    const lower = edgesHz[mel]!;
    const centre = edgesHz[mel + 1]!;
    const upper = edgesHz[mel + 2]!;
    const areaNorm = 2 / (upper - lower);
    for (let bin = 0; bin < bins; bin += 1) {
      const hz = (bin * options.sampleRate) / options.fftSize;
      const rising = (hz - lower) / (centre - lower);
      const falling = (upper - hz) / (upper - centre);
      weights[mel * bins + bin] = Math.max(0, Math.min(rising, falling)) * areaNorm;
    }
  }
  return weights;
}

/**
 * The windowed real DFT as two matrices [fftSize][binCount] (row-major): a frame times `cos`
 * gives the real parts, times `sin` the imaginary parts (sign dropped: only power is used).
 */
export function windowedDftBasis(options: MelOptions): { cos: Float64Array; sin: Float64Array } {
  const bins = binCount(options);
  const window = hannWindow(options.fftSize);
  const cos = new Float64Array(options.fftSize * bins);
  const sin = new Float64Array(options.fftSize * bins);
  for (let sample = 0; sample < options.fftSize; sample += 1) {
    for (let bin = 0; bin < bins; bin += 1) {
      // (sample * bin) mod fftSize keeps the angle small, so float rounding stays small too.
      const angle = (2 * Math.PI * ((sample * bin) % options.fftSize)) / options.fftSize;
      cos[sample * bins + bin] = window[sample]! * Math.cos(angle);
      sin[sample * bins + bin] = window[sample]! * Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** Frames of a centred STFT: `1 + floor(n / hop)` frames, the signal zero-padded by fftSize/2 each side. */
export function frameCount(sampleCount: number, options: MelOptions): number {
  return 1 + Math.floor(sampleCount / options.hopLength);
}

/** The centred frames, row-major [frameCount][fftSize] (unwindowed: the basis holds the window). */
export function centredFrames(samples: Float32Array, options: MelOptions): Float32Array {
  const count = frameCount(samples.length, options);
  const half = Math.floor(options.fftSize / 2);
  const frames = new Float32Array(count * options.fftSize);
  for (let frame = 0; frame < count; frame += 1) {
    const start = frame * options.hopLength - half;
    const from = Math.max(0, start);
    const to = Math.min(samples.length, start + options.fftSize);
    if (to > from) frames.set(samples.subarray(from, to), frame * options.fftSize + (from - start));
  }
  return frames;
}
