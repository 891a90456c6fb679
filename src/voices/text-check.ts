import { distance } from 'fastest-levenshtein';
import toWords from 'number-to-words';
import type { Transcriber } from '../audio/asr/transcriber.js';
import { AudioRejected } from '../errors.js';
import type { Language } from './rules.js';

/**
 * Word error rate between the given `text` and what the recognizer heard, after
 * normalisation. Above `refuseAbove` the text is refused; between `noteAbove` and it the
 * voice is made and `fallback_reason` says the text only partly matches. Measured with
 * Moonshine-tiny on the test recordings: a human recording and its own script 0-2 %,
 * espeak-ng voices reading theirs 5-25 % (42 % where the recording stops mid-script), a
 * script read by someone else 95-125 %.
 */
export const textCheckThresholds = { noteAbove: 0.2, refuseAbove: 0.5 } as const;

/** Lower case, numbers spelled out, punctuation dropped: the words a listener would write. */
export function normaliseForComparison(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/(\d),(\d{3})/g, '$1$2')
    .replace(/\d+/g, (digits) => ` ${digits.length <= 15 ? toWords.toWords(Number(digits)) : digits} `)
    .replace(/[’']/g, '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
}

/**
 * Word-level edit distance over reference length. fastest-levenshtein compares strings by
 * UTF-16 unit, so each distinct word becomes one unit (skipping surrogates) and the
 * distance is taken on those.
 */
export function wordErrorRate(reference: string[], hypothesis: string[]): number {
  if (reference.length === 0) return hypothesis.length === 0 ? 0 : 1;
  const codes = new Map<string, string>();
  const encode = (words: string[]) =>
    words
      .map((word) => {
        let code = codes.get(word);
        if (code === undefined) {
          const unit = 0x100 + codes.size;
          code = String.fromCharCode(unit < 0xd800 ? unit : unit + 0x800);
          codes.set(word, code);
        }
        return code;
      })
      .join('');
  const referenceCodes = encode(reference);
  const hypothesisCodes = encode(hypothesis);
  return distance(referenceCodes, hypothesisCodes) / reference.length;
}

export interface TextCheckOutcome {
  /** Null when the text matched; otherwise why the voice is marked as made in fallback mode. */
  fallbackReason: string | null;
  wordErrorRate: number | null;
}

const latinScript = /^[\p{Script=Latin}\p{N}\p{P}\p{Zs}\p{S}\s]*$/u;

export type SpokenTextMatch = { verified: true; wordErrorRate: number; heard: string } | { verified: false; reason: string };

/**
 * How far `text` is from what the recognizer hears in the speech. English is checked by the
 * installed recognizer; a text with no `language` is checked as English when it is written in
 * Latin script; other languages cannot be checked, and the reason says so.
 */
export async function matchSpokenText(text: string, language: Language | null, speech16k: Float32Array[], transcriber: Transcriber | null): Promise<SpokenTextMatch> {
  const assumedLanguage = language ?? (latinScript.test(text) ? 'en' : null);
  if (assumedLanguage === null || transcriber === null || !transcriber.languages.includes(assumedLanguage)) {
    return { verified: false, reason: `no speech recognizer for ${assumedLanguage ?? 'this script'} is installed` };
  }
  const heard: string[] = [];
  for (const piece of speech16k) heard.push(await transcriber.transcribe(piece));
  const joined = heard.join(' ');
  return { verified: true, wordErrorRate: wordErrorRate(normaliseForComparison(text), normaliseForComparison(joined)), heard: joined };
}

export function percentOfWords(rate: number): string {
  return `${Math.round(Math.min(1, rate) * 100)} %`;
}

/**
 * Checks `text` against the speech of the upload (see matchSpokenText); the refusal says to
 * set `language` when the speech may be another language.
 */
export async function checkReferenceText(
  text: string,
  language: Language | null,
  speech16k: Float32Array[],
  transcriber: Transcriber | null,
): Promise<TextCheckOutcome> {
  const match = await matchSpokenText(text, language, speech16k, transcriber);
  if (!match.verified) return { fallbackReason: `text not verified: ${match.reason}`, wordErrorRate: null };
  const rate = match.wordErrorRate;
  const percent = percentOfWords(rate);
  if (rate > textCheckThresholds.refuseAbove) {
    const hint = language === null ? '; if the speech is not English, set `language`' : '';
    throw new AudioRejected(
      'text_mismatch',
      `the text does not match the speech: ${percent} of its words differ from what was heard ("${truncate(match.heard, 120)}")${hint}`,
    );
  }
  if (rate > textCheckThresholds.noteAbove) {
    return { fallbackReason: `the text only partly matches the speech (${percent} of words differ)`, wordErrorRate: rate };
  }
  return { fallbackReason: null, wordErrorRate: rate };
}

export function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
