// What MoonshineTranscriber sends its model thread, and what the thread answers.

export interface MoonshineFiles {
  encoder: string;
  decoder: string;
}

export interface MoonshineRequest {
  /** Mono 16 kHz speech. */
  samples: Float32Array;
}

export interface MoonshineHeard {
  text: string;
  /** Decoding fell into a loop and stopped; `text` keeps one copy of the repeated block. */
  looped: boolean;
}
