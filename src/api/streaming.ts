/**
 * Waits for the first item before anything is sent, so an error that comes before any audio
 * (a full queue, an unknown voice) still gets a proper HTTP status instead of a broken stream.
 */
export async function startedStream<T>(source: AsyncIterable<T>): Promise<AsyncGenerator<T>> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  return (async function* resumed() {
    try {
      if (first.done) return;
      yield first.value;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  })();
}
