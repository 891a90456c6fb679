import { rm } from 'node:fs/promises';
import type { ReferenceIntake } from '../audio/intake.js';
import { detectWatermarkOffThread, type WatermarkIdentity } from '../audio/watermark.js';
import { JobQueue } from '../engines/queue.js';
import type { BlobStore } from '../store/blobs.js';
import type { Account, Repository } from '../store/repository.js';

/** The longest audio the detector reads (a few seconds suffice; more only costs time). */
const maxDetectionSeconds = 60;

export interface ProvenanceVerdict {
  watermarked: boolean;
  /** Named only when the mark belongs to one of the caller's own voices (live or deleted). */
  voice: string | null;
  account: string | null;
  confidence: number;
}

/** Answers "did this installation make this audio, and from which of my voices?". */
export class ProvenanceService {
  constructor(
    private readonly repository: Repository,
    private readonly blobs: BlobStore,
    private readonly intake: ReferenceIntake,
    /** The installation's watermark key (bytes: the detection runs on its own thread). */
    private readonly key: Uint8Array,
    private readonly quota: number,
    /** Detections at once, and waiting; more are refused with Throttling. */
    private readonly queue = new JobQueue(1, 8),
  ) {}

  async detect(account: Account, field: string, data: string): Promise<ProvenanceVerdict> {
    const scratch = this.blobs.temporaryPath();
    let samples: Float32Array;
    try {
      samples = await this.intake.decode16k(field, data, scratch, maxDetectionSeconds);
    } finally {
      await rm(scratch, { force: true });
    }
    // The caller's voices, and those deleted since (the audit trail keeps their names).
    const [live, audit] = await Promise.all([this.repository.listVoices(account.id, 0, this.quota), this.repository.listVoiceAudit(account.id, 10 * this.quota)]);
    const names = new Set([...live.voices.map((voice) => voice.name), ...audit.map((entry) => entry.voice)]);
    const candidates: WatermarkIdentity[] = [...names].map((voiceName) => ({ accountId: account.id, voiceName }));
    const release = await this.queue.acquire();
    const found = await detectWatermarkOffThread(samples, this.key, candidates).finally(release);
    return {
      watermarked: found.watermarked,
      voice: found.identity?.voiceName ?? null,
      account: found.identity ? account.name : null,
      confidence: Number(found.confidence.toFixed(6)),
    };
  }
}
