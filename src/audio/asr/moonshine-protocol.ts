// Messages between MoonshineTranscriber and its worker thread.

export interface MoonshineFiles {
  encoder: string;
  decoder: string;
}

export type ToMoonshine = { type: 'transcribe'; job: number; samples: Float32Array };

export type FromMoonshine =
  | { type: 'ready' }
  | { type: 'load-failed'; message: string }
  | { type: 'transcribed'; job: number; text: string }
  | { type: 'failed'; job: number; message: string };
