import type { Transcriber } from '../src/audio/asr/transcriber.js';
import { resample } from '../src/audio/encode.js';
import type { Audio } from '../src/audio/types.js';
import { normaliseForComparison, wordErrorRate } from '../src/voices/text-check.js';

/**
 * Word error rate over all `texts` when `transcriber` hears each as `speak` says it, every
 * text `runs` times: errors over words, so longer texts weigh more. `heard` sees each
 * transcript (for diagnostics).
 */
export async function wordErrorRateOver(
  transcriber: Transcriber,
  texts: readonly string[],
  speak: (text: string) => Promise<Audio>,
  options: { runs?: number; heard?: (transcript: string) => void } = {},
): Promise<number> {
  let errors = 0;
  let words = 0;
  for (let run = 0; run < (options.runs ?? 1); run += 1) {
    for (const text of texts) {
      const heard = await transcriber.transcribe(await resample(await speak(text), 16000));
      options.heard?.(heard);
      const reference = normaliseForComparison(text);
      errors += wordErrorRate(reference, normaliseForComparison(heard)) * reference.length;
      words += reference.length;
    }
  }
  return errors / words;
}
