// Speaker checks built on the speaker encoder: is the consent spoken by the reference's
// speaker, and does a reference hold one voice. Thresholds measured by `npm run bench:similarity`
// on the 120 LibriSpeech speakers in shared/ (figures in the README).
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { Transcriber } from '../audio/asr/transcriber.js';
import type { ReferenceIntake } from '../audio/intake.js';
import type { SpeakerAnalysis, SpeakerEncoder } from '../audio/speaker/encoder.js';
import { cosine, meanDirection } from '../audio/speaker/frontend.js';
import type { Audio } from '../audio/types.js';
import { AudioRejected, InvalidField } from '../errors.js';
import type { ConsentVerification, Language } from './rules.js';
import { matchSpokenText, percentOfWords, textCheckThresholds, truncate } from './text-check.js';

export const speakerThresholds = {
  /**
   * Same speaker at or above this cosine: the equal-error-rate point of same-speaker trials
   * (two parts of one recording) against different-speaker trials.
   */
  sameSpeaker: 0.81,
  /**
   * One-voice check: a lowest segment cosine below this is two voices, refused. One speaker's
   * recording scores 0.76 at its 1st percentile; two speakers joined score 0.49 at the median.
   */
  twoVoicesRefuseBelow: 0.6,
  /** Between this and the refusal, the voice is made with fallback_mode and a reason. */
  twoVoicesNoteBelow: 0.7,
} as const;

/** 1.6 s partials (50 % overlap) pooled in threes: about 3.2 s of speech a segment. */
const partialsPerSegment = 3;

/**
 * The lowest cosine between two segments of one recording (segment embeddings: the mean of
 * consecutive partial embeddings). Near the same-speaker figure for one voice; far below it
 * when two people speak. 1 when there are too few partials for two segments.
 */
export function oneSpeakerSpread(partials: readonly Float32Array[]): number {
  const segments: Float32Array[] = [];
  for (let start = 0; start + partialsPerSegment <= partials.length; start += partialsPerSegment) segments.push(meanDirection(partials.slice(start, start + partialsPerSegment)));
  let lowest = 1;
  for (let i = 0; i < segments.length; i += 1) for (let j = i + 1; j < segments.length; j += 1) lowest = Math.min(lowest, cosine(segments[i]!, segments[j]!));
  return lowest;
}

/**
 * The threshold where false rejections of `same` equal false acceptances of `different`
 * (scores: higher is more alike), and that rate.
 */
export function equalErrorRate(same: readonly number[], different: readonly number[]): { rate: number; threshold: number } {
  let best = { gap: Infinity, rate: 1, threshold: 0 };
  for (const threshold of [...same, ...different].sort((a, b) => a - b)) {
    const falseReject = same.filter((score) => score < threshold).length / same.length;
    const falseAccept = different.filter((score) => score >= threshold).length / different.length;
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

  analyseReference(reference: Audio): Promise<SpeakerAnalysis> {
    return this.encoder.analyse(reference);
  }

  /** Refuses a reference that plainly holds two voices; returns a fallback reason for a doubtful one. */
  oneVoice(analysis: SpeakerAnalysis): string | null {
    const judged = judgeOneVoice(analysis);
    if (judged.verdict === 'one') return null;
    const figure = `its parts' voices agree only to ${judged.spread.toFixed(2)}, where one speaker's agree to ${speakerThresholds.twoVoicesNoteBelow} or more`;
    if (judged.verdict === 'two') throw new AudioRejected('two_voices', `the reference holds more than one speaker (${figure}); upload speech of one person only`);
    return `the reference may hold more than one speaker (${figure})`;
  }

  /**
   * Checks spoken consent against the reference: the same speaker (speaker encoder), and, where a
   * recognizer exists for the language, the statement is what was said. Throws InvalidField
   * naming the check that failed; `scratchFile` receives the upload and is removed.
   */
  async verifyConsent(reference: SpeakerAnalysis, consent: SpokenConsent, language: Language | null, scratchFile: string): Promise<ConsentVerification> {
    try {
      const spoken = await this.intake.read('input.consent.audio', consent.audioData, scratchFile);
      const audioSha256 = createHash('sha256').update(await readFile(scratchFile)).digest('hex');
      const similarity = cosine(reference.embedding, await this.encoder.embed(spoken.reference));
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
