// Speaker checks built on the speaker encoder: is the consent spoken by the reference's
// speaker, and does a reference hold one voice. Thresholds measured by `npm run bench:similarity`
// on the 120 LibriSpeech speakers in shared/ (figures in the README).
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { Transcriber } from '../audio/asr/transcriber.js';
import type { FoundSpeech, ReferenceIntake } from '../audio/intake.js';
import type { EmbedOptions, SpeakerAnalysis, SpeakerEncoder } from '../audio/speaker/encoder.js';
import { cosine, meanDirection } from '../audio/speaker/frontend.js';
import { AudioRejected, InvalidField } from '../errors.js';
import type { ConsentVerification, Language } from './rules.js';
import { matchSpokenText, percentOfWords, textCheckThresholds, truncate } from './text-check.js';

export const speakerThresholds = {
  /**
   * Same speaker at or above this cosine: the equal-error-rate point of same-speaker trials (two
   * parts of one recording) against different-speaker trials, 0.864 (EER under 0.1 %; 0.857 when
   * the upload VAD read 32 ms windows), rounded down.
   */
  sameSpeaker: 0.85,
  /**
   * One-voice check: a lowest segment cosine below this is two voices, refused. One speaker's
   * recording scores 0.74 at the lowest; two speakers joined score 0.51 at the median.
   */
  twoVoicesRefuseBelow: 0.65,
  /** Between this and the refusal, the voice is made with fallback_mode and a reason. */
  twoVoicesNoteBelow: 0.75,
} as const;

/**
 * The one-voice check lays 1.6 s partials back to back (half the work of Resemblyzer's 50 %
 * overlap: it runs on every create) and pools them in twos, 3.2 s of speech a segment.
 */
export const oneVoiceLayout = { partialsPerSecond: 0.625, partialsPerSegment: 2 } as const;

/**
 * The lowest cosine between two segments of one recording (segment embeddings: the mean of
 * consecutive partial embeddings). Near the same-speaker figure for one voice; far below it
 * when two people speak. 1 when there are too few partials for two segments.
 */
export function oneSpeakerSpread(partials: readonly Float32Array[]): number {
  const segments: Float32Array[] = [];
  const size = oneVoiceLayout.partialsPerSegment;
  for (let start = 0; start + size <= partials.length; start += size) segments.push(meanDirection(partials.slice(start, start + size)));
  let lowest = 1;
  for (let i = 0; i < segments.length; i += 1) for (let j = i + 1; j < segments.length; j += 1) lowest = Math.min(lowest, cosine(segments[i]!, segments[j]!));
  return lowest;
}

/**
 * The threshold where false rejections of `same` equal false acceptances of `different`
 * (scores: higher is more alike), and that rate. One sweep over the sorted scores.
 */
export function equalErrorRate(same: readonly number[], different: readonly number[]): { rate: number; threshold: number } {
  const ascending = (a: number, b: number) => a - b;
  const sameSorted = [...same].sort(ascending);
  const differentSorted = [...different].sort(ascending);
  let best = { gap: Infinity, rate: 1, threshold: 0 };
  // Scores below a candidate threshold: same ones are false rejections; different ones at or above it are false acceptances.
  let sameBelow = 0;
  let differentBelow = 0;
  for (const threshold of [...sameSorted, ...differentSorted].sort(ascending)) {
    while (sameBelow < sameSorted.length && sameSorted[sameBelow]! < threshold) sameBelow += 1;
    while (differentBelow < differentSorted.length && differentSorted[differentBelow]! < threshold) differentBelow += 1;
    const falseReject = sameBelow / sameSorted.length;
    const falseAccept = (differentSorted.length - differentBelow) / differentSorted.length;
    const gap = Math.abs(falseReject - falseAccept);
    if (gap < best.gap) best = { gap, rate: (falseReject + falseAccept) / 2, threshold };
  }
  return { rate: best.rate, threshold: best.threshold };
}

export type OneVoiceVerdict = { verdict: 'one' } | { verdict: 'doubtful' | 'two'; spread: number };

export function judgeOneVoice(analysis: SpeakerAnalysis): OneVoiceVerdict {
  const spread = oneSpeakerSpread(analysis.partials);
  if (spread < speakerThresholds.twoVoicesRefuseBelow) return { verdict: 'two', spread };
  if (spread < speakerThresholds.twoVoicesNoteBelow) return { verdict: 'doubtful', spread };
  return { verdict: 'one' };
}

/** What spoken consent brings: the statement and the audio of the speaker saying it. */
export interface SpokenConsent {
  statement: string;
  audioData: string;
}

/** What the speaker checks read of an upload: the whole of it at 16 kHz and where its speech is. */
export type UploadSpeech = Pick<FoundSpeech, 'upload16k' | 'speechSpans'>;

/**
 * The speaker analysis of an upload: Resemblyzer's preprocessing, its silences trimmed by the
 * spans the intake's VAD found (no second VAD pass on the request path).
 */
export function analyseUpload(encoder: SpeakerEncoder, upload: UploadSpeech, options: EmbedOptions = {}): Promise<SpeakerAnalysis> {
  return encoder.analyse(upload.upload16k, { ...options, speechSpans: upload.speechSpans });
}

export interface SpeakerVerdict {
  /** A fallback reason when the reference may hold two voices. */
  doubt: string | null;
  /** What was checked of spoken consent with audio. */
  verification?: ConsentVerification;
}

/**
 * The speaker checks of enrollment, where the speaker encoder is installed: one voice per
 * reference, and spoken consent from the reference's own speaker saying the statement.
 */
export class SpeakerChecks {
  constructor(
    private readonly encoder: SpeakerEncoder,
    private readonly intake: ReferenceIntake,
    private readonly transcriber: Transcriber | null,
  ) {}

  /**
   * Checks the upload's speech holds one voice (refusing two with AudioRejected) and, with
   * `consent`, that the consent is the same speaker saying the statement (refusing with
   * InvalidField naming the failed check). `scratchFile` receives the consent upload and is removed.
   */
  async check(upload: UploadSpeech, consent: SpokenConsent | null, language: Language | null, scratchFile: string): Promise<SpeakerVerdict> {
    const doubt = this.oneVoice(await analyseUpload(this.encoder, upload, oneVoiceLayout));
    if (consent === null) return { doubt };
    return { doubt, verification: await this.verifyConsent(await analyseUpload(this.encoder, upload), consent, language, scratchFile) };
  }

  private oneVoice(analysis: SpeakerAnalysis): string | null {
    const judged = judgeOneVoice(analysis);
    if (judged.verdict === 'one') return null;
    const figure = `its parts' voices agree only to ${judged.spread.toFixed(2)}, where one speaker's agree to ${speakerThresholds.twoVoicesNoteBelow} or more`;
    if (judged.verdict === 'two') throw new AudioRejected('two_voices', `the reference holds more than one speaker (${figure}); upload speech of one person only`);
    return `the reference may hold more than one speaker (${figure})`;
  }

  private async verifyConsent(reference: SpeakerAnalysis, consent: SpokenConsent, language: Language | null, scratchFile: string): Promise<ConsentVerification> {
    try {
      const spoken = await this.intake.read('input.consent.audio', consent.audioData, scratchFile).catch((error: unknown) => {
        // Say which upload could not be used: the reference was fine.
        throw error instanceof AudioRejected ? new InvalidField('input.consent.audio', `could not be used: ${error.message}`) : error;
      });
      const audioSha256 = createHash('sha256').update(await readFile(scratchFile)).digest('hex');
      const similarity = cosine(reference.embedding, (await analyseUpload(this.encoder, spoken)).embedding);
      if (similarity < speakerThresholds.sameSpeaker) {
        throw new InvalidField(
          'input.consent.audio',
          `failed the speaker check: the consent is not spoken by the reference's speaker (similarity ${similarity.toFixed(2)}, at least ${speakerThresholds.sameSpeaker} needed)`,
        );
      }
      const match = await matchSpokenText(consent.statement, language, spoken.speech16k, this.transcriber);
      if (match.verified && match.wordErrorRate > textCheckThresholds.refuseAbove) {
        throw new InvalidField(
          'input.consent.statement',
          `failed the statement check: it is not what the consent audio says (${percentOfWords(match.wordErrorRate)} of its words differ from what was heard: "${truncate(match.heard, 120)}")`,
        );
      }
      return { speakerSimilarity: Math.round(similarity * 1000) / 1000, threshold: speakerThresholds.sameSpeaker, statementWordErrorRate: match.verified ? Math.round(match.wordErrorRate * 1000) / 1000 : null, audioSha256 };
    } finally {
      await rm(scratchFile, { force: true });
    }
  }
}
