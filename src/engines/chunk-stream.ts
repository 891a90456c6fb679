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
