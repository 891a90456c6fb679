// What MoonshineTranscriber sends its model thread (the answer is the text heard).

export interface MoonshineFiles {
  encoder: string;
  decoder: string;
}

export interface MoonshineRequest {
  /** Mono 16 kHz speech. */
  samples: Float32Array;
}
