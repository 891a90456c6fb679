import { writeFile } from 'node:fs/promises';
import { decodeFile } from './ffmpeg.js';
import { fetchAudioUrl, type FetchPolicy } from './fetch-url.js';
import { prepareReference, referenceLimits, speechPieces, type PreparedReference } from './reference.js';
import { anyOutputMediatypes, parseAudioData } from './source.js';
import type { Audio } from './types.js';
import { vadSampleRate, type SpeechFinder, type SpeechSpan } from './vad.js';

/** Rate of stored references: what the neural engines take, and enough for any output. */
export const referenceSampleRate = 24000;

export interface IntakeOptions {
  fetchPolicy: FetchPolicy;
  decodeTimeoutMs: number;
}

export interface IntakeResult extends PreparedReference {
  /** The mediatype of the upload as sent (data URL) or served (URL). */
  originalMediatype: string;
  /** All the speech of the upload at 16 kHz, in pieces of at most 20 s, for the text check. */
  speech16k: Float32Array[];
  /** The whole upload at 16 kHz, and where Silero found speech in it (for the speaker encoder). */
  upload16k: Audio;
  speechSpans: SpeechSpan[];
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

  /** Writes the original upload to `originalFile` (the caller keeps or removes it). */
  async read(field: string, data: string, originalFile: string): Promise<IntakeResult> {
    const { bytes, mediatype: originalMediatype } = await this.bytesOf(field, data);
    await writeFile(originalFile, bytes, { mode: 0o600 });
    // A little past the limit, so "longer than the limit" is visible in the decoded length.
    const decoded = await decodeFile(originalFile, [referenceSampleRate, vadSampleRate], {
      maxSeconds: referenceLimits.maxSourceSeconds + 0.5,
      timeoutMs: this.options.decodeTimeoutMs,
    });
    const full = decoded.byRate.get(referenceSampleRate)!;
    const at16k = decoded.byRate.get(vadSampleRate)!;
    const spans = await this.detector.detect(at16k);
    const prepared = prepareReference(full, spans, decoded.sourceSampleRate);
    return { ...prepared, originalMediatype, speech16k: speechPieces(at16k, spans, referenceLimits.maxReferenceSeconds), upload16k: at16k, speechSpans: spans };
  }
}
