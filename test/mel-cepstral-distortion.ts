// Mel-cepstral distortion between two recordings, after dynamic time warping: the usual
// spectral distance of voice conversion work (Kubichek, 1993). Mel cepstra here are 12
// coefficients of an orthonormal DCT of log mel amplitudes (26 bands, 16 kHz, 32 ms frames
// every 8 ms), speech frames only; the distortion is (10 / ln 10) * sqrt(2 * sum of squared
// differences), averaged along the warping path.
import { FrameAnalyser, speechFrameIndices } from '../src/audio/spectral-frames.js';
import { resampleLinear } from '../src/audio/resampler.js';
import type { Audio } from '../src/audio/types.js';

const layout = { sampleRate: 16000, fftSize: 512, cepstralOrder: 1, mfccCount: 12, envelopeMaxHz: 7000 };
const melBands = 26;

function melCepstra(audio: Audio): Float64Array[] {
  const samples = resampleLinear(audio.samples, audio.sampleRate, layout.sampleRate);
  const analyser = new FrameAnalyser(layout);
  const frames: Float64Array[] = [];
  const levels: number[] = [];
  for (let from = 0; from + layout.fftSize <= samples.length; from += 128) {
    const mfcc = new Float64Array(layout.mfccCount);
    levels.push(analyser.analyse(samples, from, null, mfcc));
    // From natural-log power to log amplitude, with the orthonormal DCT's scale.
    frames.push(mfcc.map((value) => (value / 2) * Math.sqrt(2 / melBands)));
  }
  return speechFrameIndices(levels, 35).map((index) => frames[index]!);
}

export function melCepstralDistortion(a: Audio, b: Audio): number {
  const x = melCepstra(a);
  const y = melCepstra(b);
  const scale = (10 / Math.LN10) * Math.SQRT2;
  const distance = (i: number, j: number) => {
    let sum = 0;
    for (let d = 0; d < layout.mfccCount; d += 1) sum += (x[i]![d]! - y[j]![d]!) ** 2;
    return scale * Math.sqrt(sum);
  };
  // Cost and path length together, so the mean is along the path that was chosen.
  const width = y.length + 1;
  const cost = new Float64Array((x.length + 1) * width).fill(Infinity);
  const steps = new Float64Array((x.length + 1) * width);
  cost[0] = 0;
  for (let i = 1; i <= x.length; i += 1) {
    for (let j = 1; j <= y.length; j += 1) {
      const here = i * width + j;
      const options = [(i - 1) * width + j - 1, (i - 1) * width + j, i * width + j - 1];
      let best = options[0]!;
      for (const option of options) if (cost[option]! < cost[best]!) best = option;
      cost[here] = cost[best]! + distance(i - 1, j - 1);
      steps[here] = steps[best]! + 1;
    }
  }
  const end = x.length * width + y.length;
  return cost[end]! / steps[end]!;
}
