import type { Clock } from '../clock.js';
import type { Repository } from '../store/repository.js';
import type { VoiceService } from './enrollment.js';

export interface RetentionPolicy {
  maxUnusedMs: number;
  intervalMs: number;
}

const batchSize = 500;

/** Deletes voices unused (no create, no synthesis) for longer than the policy allows. */
export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly repository: Repository,
    private readonly voices: VoiceService,
    private readonly clock: Clock,
    private readonly policy: RetentionPolicy,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** One pass; returns how many voices it deleted. Concurrent calls share one pass. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    const cutoff = this.clock.now() - this.policy.maxUnusedMs;
    let deleted = 0;
    for (;;) {
      const stale = await this.repository.findVoicesUnusedSince(cutoff, batchSize);
      let deletedNow = 0;
      for (const voice of stale) {
        // Re-checked in the delete itself: a synthesis may have used the voice meanwhile.
        if (await this.repository.deleteVoiceIfUnusedSince(voice.name, cutoff)) {
          await this.voices.removeFiles(voice);
          deletedNow += 1;
        }
      }
      deleted += deletedNow;
      if (stale.length < batchSize || deletedNow === 0) return deleted;
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      this.runOnce().catch(this.onError);
    }, this.policy.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
