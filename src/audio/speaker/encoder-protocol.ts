// Messages between SpeakerEncoder and its worker thread.

export type ToEncoder = {
  type: 'embed';
  job: number;
  /** Row-major [frameCount][fftSize]. */
  frames: Float32Array;
  frameCount: number;
  /** Row-major [partialCount][partialFrames]: frame index of each step. */
  partialFrames: Int32Array;
  partialCount: number;
};

export type FromEncoder =
  | { type: 'ready' }
  | { type: 'load-failed'; message: string }
  | { type: 'embedded'; job: number; partials: Float32Array; mel: Float32Array }
  | { type: 'failed'; job: number; message: string };
