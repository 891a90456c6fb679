import { writeFile } from 'node:fs/promises';
import { decodeFile } from './ffmpeg.js';
import { fetchAudioUrl, type FetchPolicy } from './fetch-url.js';
import { prepareReference, referenceLimits, refuseOverlong, speechPieces, type PreparedReference } from './reference.js';
import { anyOutputMediatypes, parseAudioData } from './source.js';
import type { Audio } from './types.js';
import { vadSampleRate, type SpeechFinder, type SpeechSpan } from './vad.js';

/** Rate of stored references: what the neural engines take, and enough for any output. */
export const referenceSampleRate = 24000;

export interface IntakeOptions {
  fetchPolicy: FetchPolicy;
  decodeTimeoutMs: number;
}

/** An upload decoded and its speech found: what the speaker checks read, before the reference is cut. */
export interface FoundSpeech {
  /** The mediatype of the upload as sent (data URL) or served (URL). */
  originalMediatype: string;
  /** The whole upload at the reference rate. */
  full: Audio;
  /** The source's own sample rate, where ffmpeg could tell it. */
  sourceSampleRate: number | null;
  /** The whole upload at 16 kHz, and where Silero found speech in it (for the speaker encoder). */
  upload16k: Audio;
  speechSpans: SpeechSpan[];
}

export interface IntakeResult extends PreparedReference, Omit<FoundSpeech, 'full' | 'sourceSampleRate'> {
  /** All the speech of the upload at 16 kHz, in pieces of at most 20 s, for the text check. */
  speech16k: Float32Array[];
}

/** From `audio.data` to a prepared reference: read or fetch, decode, find speech, trim. */
export class ReferenceIntake {
  constructor(
    private readonly detector: SpeechFinder,
    private readonly options: IntakeOptions,
  ) {}

  /** The bytes of `audio.data` (inline, or fetched under the URL policy) and their mediatype. */
  private async bytesOf(field: string, data: string, accepted?: Record<string, string>): Promise<{ bytes: Buffer; mediatype: string }> {
    const source = parseAudioData(field, data, accepted);
    if (source.kind === 'inline') return { bytes: source.bytes, mediatype: source.mediatype };
    const fetched = await fetchAudioUrl(source.url, this.options.fetchPolicy);
    return { bytes: fetched.bytes, mediatype: fetched.contentType?.split(';')[0]?.trim() || 'application/octet-stream' };
  }

  /** Any audio (for the watermark detector): read or fetch, decode to 16 kHz mono, at most `maxSeconds`. */
  async decode16k(field: string, data: string, scratchFile: string, maxSeconds: number): Promise<Float32Array> {
    const { bytes } = await this.bytesOf(field, data, anyOutputMediatypes);
    await writeFile(scratchFile, bytes, { mode: 0o600 });
    const decoded = await decodeFile(scratchFile, [vadSampleRate], { maxSeconds, timeoutMs: this.options.decodeTimeoutMs });
    return decoded.byRate.get(vadSampleRate)!.samples;
  }

  /** `find`, then `prepare`. */
  async read(field: string, data: string, originalFile: string): Promise<IntakeResult> {
    return this.prepare(await this.find(field, data, originalFile));
  }

  /**
   * Reads the upload, writes it to `originalFile` (the caller keeps or removes it), decodes it and
   * finds its speech. Apart from `prepare`, so the speaker checks can start on the upload before
   * the reference is cut (on the encoder's thread, while the cut runs here).
   */
  async find(field: string, data: string, originalFile: string): Promise<FoundSpeech> {
    const { bytes, mediatype: originalMediatype } = await this.bytesOf(field, data);
    await writeFile(originalFile, bytes, { mode: 0o600 });
    // A little past the limit, so "longer than the limit" is visible in the decoded length.
    const decoded = await decodeFile(originalFile, [referenceSampleRate, vadSampleRate], {
      maxSeconds: referenceLimits.maxSourceSeconds + 0.5,
      timeoutMs: this.options.decodeTimeoutMs,
    });
    const upload16k = decoded.byRate.get(vadSampleRate)!;
    // Before Silero and the speaker checks, which would read all of it for nothing.
    refuseOverlong(upload16k);
    const speechSpans = await this.detector.detect(upload16k);
    return { originalMediatype, full: decoded.byRate.get(referenceSampleRate)!, sourceSampleRate: decoded.sourceSampleRate, upload16k, speechSpans };
  }

  /** The stored reference cut from the found speech; refuses (AudioRejected) audio that cannot make a voice. */
  prepare(found: FoundSpeech): IntakeResult {
    const { full, sourceSampleRate, ...speech } = found;
    const prepared = prepareReference(full, speech.speechSpans, sourceSampleRate);
    return { ...prepared, ...speech, speech16k: speechPieces(speech.upload16k, speech.speechSpans, referenceLimits.maxReferenceSeconds) };
  }
}
