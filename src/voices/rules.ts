// Enrollment rules, as the spec states them; the API's request schemas are built from these.

export const enrollmentModel = 'qwen-voice-enrollment';

export const targetModels = ['qwen3-tts-vc-realtime-2026-01-15', 'qwen3-tts-vc-realtime-2025-11-27', 'qwen3-tts-vc-2026-01-22'] as const;
export type TargetModel = (typeof targetModels)[number];

export const languages = ['zh', 'en', 'de', 'it', 'pt', 'es', 'ja', 'ko', 'fr', 'ru'] as const;
export type Language = (typeof languages)[number];

export const preferredNamePattern = /^[A-Za-z0-9_]{1,16}$/;

export const pageLimits = { min: 0, max: 1_000_000, defaultIndex: 0, defaultSize: 10 } as const;

/** How the speaker's consent was given. */
export const consentMethods = ['checkbox', 'spoken', 'attestation'] as const;

/** What a create must carry: nothing, any consent record, or spoken consent with its audio. */
export type ConsentRequirement = 'none' | 'any' | 'spoken';

/** What the studio asks a speaker to read aloud as spoken consent. */
export const suggestedConsentStatement = 'I agree that Timbre may make a copy of my voice and use it to speak new words.';
export type ConsentMethod = (typeof consentMethods)[number];

/** What is stored with a voice about its speaker's consent. */
export interface ConsentRecord {
  method: ConsentMethod;
  statement: string;
  givenBy: string | null;
  /** When the server recorded it (ms since epoch), and for which account. */
  recordedAt: number;
  accountId: string;
  /** Spoken consent with its audio: what was checked. The audio itself is not kept. */
  verification?: ConsentVerification;
}

export interface ConsentVerification {
  /** Cosine between the speaker encoder's embeddings of the consent audio and the reference. */
  speakerSimilarity: number;
  /** The least similarity accepted as the same speaker. */
  threshold: number;
  /** Word error rate of the statement against what the recognizer heard; null when not checked (no recognizer for the language). */
  statementWordErrorRate: number | null;
  /** sha256 of the consent audio as uploaded. */
  audioSha256: string;
}
