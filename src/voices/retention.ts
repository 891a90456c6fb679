import type { Clock } from '../clock.js';
import { PeriodicTask } from '../periodic.js';
import type { Repository } from '../store/repository.js';
import type { VoiceService } from './enrollment.js';

export interface RetentionPolicy {
  maxUnusedMs: number;
  intervalMs: number;
}

const batchSize = 500;

/** Deletes voices unused (no create, no synthesis) for longer than the policy allows. */
export class RetentionJob {
  private readonly task: PeriodicTask<number>;

  constructor(
    private readonly repository: Repository,
    private readonly voices: VoiceService,
    private readonly clock: Clock,
    private readonly policy: RetentionPolicy,
    onError: (error: unknown) => void,
  ) {
    // Safe on every node at once: one of them runs each pass, the others skip it.
    this.task = new PeriodicTask(async () => (await repository.runExclusive('retention', () => this.pass())) ?? 0, policy.intervalMs, onError);
  }

  /** One pass; returns how many voices it deleted. Concurrent calls share one pass. */
  runOnce(): Promise<number> {
    return this.task.runOnce();
  }

  private async pass(): Promise<number> {
    const cutoff = this.clock.now() - this.policy.maxUnusedMs;
    let deleted = 0;
    for (;;) {
      const stale = await this.repository.findVoicesUnusedSince(cutoff, batchSize);
      let deletedNow = 0;
      for (const voice of stale) {
        // Re-checked in the delete itself: a synthesis may have used the voice meanwhile.
        if (await this.repository.deleteVoiceIfUnusedSince(voice.name, cutoff, this.clock.now())) {
          await this.voices.removeFiles(voice);
          deletedNow += 1;
        }
      }
      deleted += deletedNow;
      if (stale.length < batchSize || deletedNow === 0) return deleted;
    }
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }
}
