// Typed errors thrown below the API. src/api/errors.ts maps each class to a wire code and
// HTTP status in one table; nothing else builds an error body.

export abstract class TimbreError extends Error {
  override readonly name: string = this.constructor.name;
}

/** A request field is missing or outside its rules. `field` names it as the client sent it. */
export class InvalidField extends TimbreError {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field} ${detail}`);
  }
}

/** The audio could not be used as a voice reference; `reason` is the short kind. */
export class AudioRejected extends TimbreError {
  constructor(
    readonly reason: 'undecodable' | 'silent' | 'too_little_speech' | 'too_long' | 'clipped' | 'text_mismatch' | 'language_mismatch' | 'two_voices',
    detail: string,
  ) {
    super(detail);
  }
}

/** An audio URL that is malformed, not allowed, or could not be fetched. */
export class UrlRejected extends TimbreError {}

/** Something larger than a limit: an encoded upload, a download, a body. */
export class TooLarge extends TimbreError {}

export class QuotaExceeded extends TimbreError {
  constructor(
    readonly quota: number,
    readonly voiceCount: number,
  ) {
    super(`voice quota reached: the account holds ${voiceCount} of ${quota} voices; delete a voice before creating another`);
  }
}

export class ConsentRequired extends TimbreError {
  constructor(spoken = false) {
    super(
      spoken
        ? 'this server requires spoken consent with every voice: send input.consent {method: "spoken", statement, audio: a data URL of the speaker saying the statement}'
        : 'this server requires the speaker\'s consent with every voice: send input.consent {method: checkbox | spoken | attestation, statement, given_by}',
    );
  }
}

/** The engine serving the voice's model needs what the reference says, and nothing could tell it. */
export class TranscriptRequired extends TimbreError {
  constructor(
    readonly engine: string,
    language: string | null,
  ) {
    super(
      `the target model is served by ${engine}, which needs the transcript of the reference: send input.text with what is said in it` +
        (language && language !== 'en' ? ` (no speech recognizer is installed for language ${language})` : ' (no speech recognizer could transcribe it)'),
    );
  }
}

/** Absent, or owned by another account: callers must not be able to tell which. */
export class VoiceNotFound extends TimbreError {
  constructor(readonly voice: string) {
    super(`voice ${JSON.stringify(voice)} does not exist in this account`);
  }
}

export class Unauthenticated extends TimbreError {}

/** The synthesis queue is full; the client should retry later. */
export class EngineBusy extends TimbreError {}

/** The voice's prompt is still being prepared (a create moments ago, under load); retrying soon finds it ready. */
export class VoicePreparing extends TimbreError {
  readonly retryAfterSeconds = 1;
  constructor(
    readonly voice: string,
    waitedMs: number,
  ) {
    super(`voice ${JSON.stringify(voice)} is still being prepared from its reference (waited ${(waitedMs / 1000).toFixed(1)} s); retry in a moment`);
  }
}

/** The API key has used its requests for this minute. */
export class RateLimited extends TimbreError {
  constructor(readonly retryAfterSeconds: number) {
    super(`rate limit reached for this API key; retry in ${retryAfterSeconds} s`);
  }
}

/** The request's `model` is not the one the voice was made for. */
export class ModelMismatch extends TimbreError {
  constructor(
    readonly voice: string,
    readonly voiceModel: string,
    readonly requestedModel: string,
  ) {
    super(`voice ${JSON.stringify(voice)} was created for target_model ${voiceModel}; it cannot be used with model ${requestedModel}`);
  }
}

/** A generated-audio link that is malformed, forged, expired, or whose file is gone. */
export class LinkRejected extends TimbreError {
  constructor(readonly reason: 'invalid' | 'expired' | 'gone') {
    super(
      reason === 'expired'
        ? 'this audio link has expired (links are valid for 24 hours); synthesize the text again'
        : reason === 'gone'
          ? 'this audio no longer exists'
          : 'this audio link is not valid: its signature does not match',
    );
  }
}
