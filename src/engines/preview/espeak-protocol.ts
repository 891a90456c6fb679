import type { VoiceStats } from '../../audio/analysis.js';

/** Messages between the preview engine and its espeak-ng worker threads. */

export interface EspeakSettings {
  /** espeak-ng voice with variant, e.g. "en-us+m3". */
  voice: string;
  wordsPerMinute: number;
  pitch: number;
  range: number;
  /** Peaking EQ: gain in dB at each octave band centre. */
  eqGainsDb: number[];
  /** Linear gain applied last. */
  gain: number;
  /** Multiplies every formant frequency of the variant: vocal-tract length (1 = unchanged). */
  formantScale: number;
}

export type ToWorker =
  | { type: 'synthesize'; job: number; text: string; settings: EspeakSettings }
  | { type: 'analyse'; job: number; samples: Float32Array; sampleRate: number };

export type FromWorker =
  | { type: 'ready'; sampleRate: number }
  | { type: 'chunk'; job: number; samples: Float32Array }
  | { type: 'done'; job: number }
  | { type: 'analysed'; job: number; stats: VoiceStats }
  | { type: 'failed'; job: number; message: string };
