// Greedy decoding of a small recognizer can fall into a loop ("to the channel to the
// channel ..."), on synthetic speech most of all. Whisper's answer is a compression-ratio
// check and a re-decode at a higher temperature; ours is to see the loop as it starts and
// hear the audio again in shorter pieces. No tokenizer library offers this, so it is here.

/** Fewer tokens than this in a repeated run are speech ("no, no, no"), not a loop. */
const minimumRunTokens = 8;
/** At least this many copies of a block make a loop. */
const minimumCopies = 3;
/** Longest block looked for: about a sentence. */
const longestBlock = 40;

/**
 * Where the loop at the end of `tokens` begins, if they end in one: the index of its first
 * copy's first token, and the block's length. A loop is a block of 1-40 tokens repeated at
 * least three times in a row, and at least 8 tokens in all.
 */
export function loopAtEnd(tokens: readonly number[]): { start: number; block: number } | null {
  for (let block = 1; block <= longestBlock; block += 1) {
    if (tokens.length < block * minimumCopies) break;
    let copies = 1;
    const end = tokens.length;
    while (end - (copies + 1) * block >= 0 && sameBlock(tokens, end - block, end - (copies + 1) * block, block)) copies += 1;
    if (copies >= minimumCopies && copies * block >= minimumRunTokens) return { start: end - copies * block, block };
  }
  return null;
}

function sameBlock(tokens: readonly number[], first: number, second: number, length: number): boolean {
  for (let offset = 0; offset < length; offset += 1) {
    if (tokens[first + offset] !== tokens[second + offset]) return false;
  }
  return true;
}
