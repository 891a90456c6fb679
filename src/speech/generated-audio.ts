import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import { LinkRejected } from '../errors.js';
import { PeriodicTask } from '../periodic.js';
import type { BlobStore } from '../store/blobs.js';
import type { Account, Repository } from '../store/repository.js';

export interface KeptAudio {
  id: string;
  /** Unix seconds. */
  expiresAt: number;
  /** Path and query of the signed link, to be put after the server's base URL. */
  link: string;
}

const secretSetting = 'audio-link-secret';
const batchSize = 500;

/**
 * WAV files made by the non-streaming API, kept for a while and served from signed links
 * (HMAC-SHA256 of id and expiry with a secret shared through the database, so any node can
 * check a link another node signed). Expired files are deleted by a periodic pass.
 */
export class GeneratedAudioStore {
  private readonly sweeper: PeriodicTask<number>;

  private constructor(
    private readonly repository: Repository,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    private readonly secret: Buffer,
    private readonly lifetimeMs: number,
    sweepIntervalMs: number,
    onError: (error: unknown) => void,
  ) {
    this.sweeper = new PeriodicTask(() => this.sweepExpired(), sweepIntervalMs, onError);
  }

  static async open(
    repository: Repository,
    blobs: BlobStore,
    clock: Clock,
    options: { lifetimeMs: number; sweepIntervalMs: number; onError: (error: unknown) => void },
  ): Promise<GeneratedAudioStore> {
    const secret = await repository.settingOrInsert(secretSetting, randomBytes(32).toString('base64url'));
    return new GeneratedAudioStore(repository, blobs, clock, Buffer.from(secret, 'base64url'), options.lifetimeMs, options.sweepIntervalMs, options.onError);
  }

  private sign(id: string, expiresAt: number): string {
    return createHmac('sha256', this.secret).update(`${id}.${expiresAt}`).digest('base64url');
  }

  async keep(account: Account, wav: Uint8Array): Promise<KeptAudio> {
    const id = `audio_${randomUUID().replaceAll('-', '')}`;
    const now = this.clock.now();
    const expiresAtMs = now + this.lifetimeMs;
    const expiresAt = Math.floor(expiresAtMs / 1000);
    const blob = `generated/${id}.wav`;
    await this.blobs.put(blob, wav);
    await this.repository.insertGeneratedAudio({ id, accountId: account.id, blob, createdAt: now, expiresAt: expiresAtMs });
    return { id, expiresAt, link: `/api/v1/audio/${id}.wav?expires=${expiresAt}&signature=${this.sign(id, expiresAt)}` };
  }

  /** The WAV behind a link, when its signature is right and it has not expired. */
  async read(id: string, expires: string, signature: string): Promise<Buffer> {
    const expiresAt = Number(expires);
    const expected = Buffer.from(this.sign(id, expiresAt));
    const given = Buffer.from(signature);
    if (!Number.isInteger(expiresAt) || given.length !== expected.length || !timingSafeEqual(given, expected)) throw new LinkRejected('invalid');
    if (this.clock.now() >= expiresAt * 1000) throw new LinkRejected('expired');
    const record = await this.repository.findGeneratedAudio(id);
    if (!record) throw new LinkRejected('gone');
    return this.blobs.get(record.blob);
  }

  /** Deletes expired audio; returns how many files went. One node at a time does it. */
  async sweepExpired(): Promise<number> {
    return (await this.repository.runExclusive('generated-audio-sweep', () => this.sweepExpiredNow())) ?? 0;
  }

  private async sweepExpiredNow(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const expired = await this.repository.findExpiredGeneratedAudio(this.clock.now(), batchSize);
      for (const audio of expired) {
        // Row first: a crash between the two leaves an orphan file, which the start-up sweep removes.
        await this.repository.deleteGeneratedAudio(audio.id);
        await this.blobs.delete(audio.blob);
      }
      deleted += expired.length;
      if (expired.length < batchSize) return deleted;
    }
  }

  start(): void {
    this.sweeper.start();
  }

  stop(): Promise<void> {
    return this.sweeper.stop();
  }
}
