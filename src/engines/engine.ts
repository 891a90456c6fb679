import type { Audio } from '../audio/types.js';

/** ISO 639-1 code of a language an engine speaks. */
export type LanguageCode = string;

/**
 * What an engine computed from a reference at enrollment; stored with the voice as JSON.
 * `version` is the engine's `promptVersion` when it was made (absent: 1).
 */
export type VoicePrompt = { engine: string; version?: number } & Record<string, unknown>;

export interface SynthesisOptions {
  language?: LanguageCode | null;
  /** 0.5-2.0; 1 is the voice's own pace. */
  speechRate?: number;
  /** 0.5-2.0; multiplies the voice's pitch. */
  pitchRate?: number;
  /** 0-100; 50 is the voice's own loudness. */
  volume?: number;
  signal?: AbortSignal;
}

/** A speech synthesizer that speaks in an enrolled voice. */
export interface Engine {
  readonly id: string;
  readonly sampleRate: number;
  readonly languages: readonly LanguageCode[];
  /**
   * Raised when what `prepareVoice` measures changes meaning; stored prompts of an older version
   * are prepared again from the stored reference the next time the voice speaks (absent: 1).
   */
  readonly promptVersion?: number;
  /** True when `prepareVoice` needs what the reference says (ZipVoice). */
  readonly needsTranscript?: boolean;
  /** Analyses a reference once, at enrollment, so synthesis never does. */
  prepareVoice(reference: Audio, transcript: string | null, language: LanguageCode | null): Promise<VoicePrompt>;
  /** Mono PCM chunks at `sampleRate`, the first as early as possible; stops when `signal` aborts. */
  synthesize(text: string, voice: VoicePrompt, options?: SynthesisOptions): AsyncIterable<Float32Array>;
  /** Jobs running and waiting in the engine's queue. */
  queueDepth(): { running: number; waiting: number };
  /** Resolves once the engine is warmed up (models loaded, tables measured); synthesis waits for it anyway. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
