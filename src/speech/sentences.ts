// Cuts text into sentences so long text streams sentence by sentence. Intl.Segmenter (ICU)
// finds the boundaries, CJK punctuation included; ICU's abbreviation suppressions are not
// available in V8, so a boundary after a known abbreviation or an initial is undone here.

const abbreviations = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'mt', 'vs', 'etc', 'e.g', 'i.e', 'no', 'vol', 'fig', 'inc', 'ltd', 'co', 'corp',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'approx', 'dept', 'est', 'gen', 'gov', 'sen', 'rep',
  'u.s', 'u.k', 'a.m', 'p.m', 'z.b', 'bzw', 'usw', 'sra', 'sr', 'mme', 'mlle',
]);

/** Sentences longer than this are cut at a comma or space, so no one piece delays audio long. */
export const maxSentenceCharacters = 220;

function endsWithAbbreviation(segment: string): boolean {
  const match = /(?:^|[\s(])([\p{L}.]+)\.\s*$/u.exec(segment);
  if (!match) return false;
  const word = match[1]!.toLowerCase();
  return abbreviations.has(word) || /^\p{Lu}$/u.test(match[1]!);
}

function cutLong(sentence: string): string[] {
  const pieces: string[] = [];
  let rest = sentence;
  while (rest.length > maxSentenceCharacters) {
    const window = rest.slice(0, maxSentenceCharacters);
    const at = Math.max(window.lastIndexOf(', '), window.lastIndexOf('; '), window.lastIndexOf('，'), window.lastIndexOf('、'), window.lastIndexOf('；'));
    const cut = at > maxSentenceCharacters / 3 ? at + 1 : window.lastIndexOf(' ') > maxSentenceCharacters / 3 ? window.lastIndexOf(' ') : maxSentenceCharacters;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut);
  }
  if (rest.trim().length > 0) pieces.push(rest.trim());
  return pieces;
}

/** The text's sentences in order, trimmed, none empty and none over `maxSentenceCharacters`. */
export function splitSentences(text: string, language: string | null = null): string[] {
  const segmenter = new Intl.Segmenter(language ?? 'en', { granularity: 'sentence' });
  const merged: string[] = [];
  let pending = '';
  for (const { segment } of segmenter.segment(text)) {
    pending += segment;
    if (endsWithAbbreviation(pending)) continue;
    merged.push(pending);
    pending = '';
  }
  if (pending) merged.push(pending);
  return merged
    .map((sentence) => sentence.trim())
    .filter((sentence) => /[\p{L}\p{N}]/u.test(sentence))
    .flatMap(cutLong);
}
