/** Audio inside the process: mono float samples in [-1, 1] at a sample rate. */
export interface Audio {
  samples: Float32Array;
  sampleRate: number;
}

export function durationSeconds(audio: Audio): number {
  return audio.samples.length / audio.sampleRate;
}
