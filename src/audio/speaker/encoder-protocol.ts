// What SpeakerEncoder sends its model thread, and the answer.

export interface EncoderRequest {
  /** Row-major [frameCount][fftSize]. */
  frames: Float32Array;
  frameCount: number;
  /** Row-major [partialCount][partialFrames]: frame index of each step. */
  partialFrames: Int32Array;
  partialCount: number;
}

export interface EncoderResult {
  /** Row-major [partialCount][256]. */
  partials: Float32Array;
  /** Row-major [frameCount][40]. */
  mel: Float32Array;
}
