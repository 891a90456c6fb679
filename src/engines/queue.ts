import { EngineBusy } from '../errors.js';

/** Caps concurrent jobs; at most `maxWaiting` more wait, and the rest are refused at once. */
export class JobQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  /** Jobs running and waiting now (for metrics). */
  depth(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** A release function when a slot is free now (taking it), else null; never waits. */
  tryAcquire(): (() => void) | null {
    if (this.running >= this.concurrency) return null;
    this.running += 1;
    return this.releaser();
  }

  /** Resolves with a release function once a slot is free; throws EngineBusy when full. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.running < this.concurrency) {
      this.running += 1;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new EngineBusy(`the synthesis queue is full (${this.running} running, ${this.waiting.length} waiting); retry shortly`);
    }
    // A released slot is handed straight to the next waiter, so `running` stays as it is.
    await new Promise<void>((resolve, reject) => {
      const start = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(start);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(start);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    };
  }
}
