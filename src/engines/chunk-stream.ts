/**
 * Audio chunks pushed by a producer that runs on its own (a worker thread, a native call) and
 * read by one consumer as they arrive. Reading stops at once when `signal` aborts; stopping the
 * producer is the caller's business.
 */
export class ChunkStream {
  private readonly chunks: Float32Array[] = [];
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  get isEnded(): boolean {
    return this.ended;
  }

  push(chunk: Float32Array): void {
    this.chunks.push(chunk);
    this.notify();
  }

  /** No more chunks; with `failure`, the reader throws it once the chunks pushed before are read. */
  end(failure: Error | null = null): void {
    this.ended = true;
    this.failure = failure;
    this.notify();
  }

  private notify(): void {
    this.wake?.();
    this.wake = null;
  }

  async *read(signal?: AbortSignal): AsyncGenerator<Float32Array> {
    const onAbort = () => this.notify();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (signal?.aborted) return;
        // Each chunk is handed on in a turn of its own: a worker's messages are delivered in one
        // uninterrupted batch (Node drains at least 1000 of a port's messages per turn), so a
        // consumer woken inside that batch kept its stream going while every other stream's
        // port, the timers and the sockets waited. With two espeak threads busy, a realtime
        // session's second delta came 85-110 ms after its first, and players ran dry.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal?.aborted) return;
        const chunk = this.chunks.shift();
        if (chunk) {
          yield chunk;
          continue;
        }
        if (this.ended) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
