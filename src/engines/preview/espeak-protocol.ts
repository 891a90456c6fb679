import type { VoiceStats } from '../../audio/analysis.js';
import type { SpectralCorrection } from './spectral-correction.js';

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
  /**
   * Multiply the variant's formant frequencies: F1, F2, and F3 with every formant above it
   * (1 = unchanged). The vocal tract's length and shape.
   */
  formantScales: [number, number, number];
  /** The voice's spectral correction toward its reference; when set, it replaces the EQ. */
  correction?: SpectralCorrection | null;
}

export type ToWorker =
  | { type: 'synthesize'; job: number; text: string; settings: EspeakSettings }
  | { type: 'analyse'; job: number; samples: Float32Array; sampleRate: number }
  /** Reads each sentence at `settings` and keeps nothing: a rehearsal for the JIT, answered by `rehearsed`. */
  | { type: 'rehearse'; job: number; sentences: string[]; settings: EspeakSettings }
  /**
   * Reads `text` at `settings` once: the correction toward the reference is measured on the
   * part that says its first `correctedLength` characters (whole sentences), and how the
   * correction moves the syllable rate on all of it. Answered by `corrected`, with the syllable
   * rate of the whole reading, uncorrected.
   */
  | { type: 'correct'; job: number; reference: Float32Array; sampleRate: number; text: string; correctedLength: number; settings: EspeakSettings };

export type FromWorker =
  | { type: 'ready'; sampleRate: number }
  | { type: 'chunk'; job: number; samples: Float32Array }
  | { type: 'done'; job: number }
  | { type: 'analysed'; job: number; stats: VoiceStats }
  | { type: 'corrected'; job: number; correction: SpectralCorrection | null; syllableRate: number }
  | { type: 'rehearsed'; job: number }
  | { type: 'failed'; job: number; message: string };
