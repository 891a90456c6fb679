// The one interface the rest of Timbre uses to keep state. The embedded default is SQLite;
// other backends implement the same interface.

export interface Account {
  id: string;
  name: string;
}

export interface ApiKeyRecord {
  id: string;
  accountName: string;
  keyPrefix: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface VoiceRecord {
  name: string;
  accountId: string;
  preferredName: string;
  targetModel: string;
  language: string | null;
  referenceText: string | null;
  createdAt: number;
  modifiedAt: number;
  lastUsedAt: number;
  speechSeconds: number;
  fallbackReason: string | null;
  originalBlob: string;
  originalMediatype: string;
  referenceBlob: string;
  referenceSampleRate: number;
  /** The engine's analysis of the reference, as JSON. */
  voicePrompt: string | null;
  /** The speaker's consent as JSON (ConsentRecord), or null when none was given. */
  consent: string | null;
}

export interface VoicePage {
  voices: VoiceRecord[];
  totalCount: number;
}

export interface GeneratedAudioRecord {
  id: string;
  accountId: string;
  blob: string;
  createdAt: number;
  expiresAt: number;
}

/** One entry of a voice's audit trail: kept after the voice is gone, without its audio. */
export interface VoiceAuditEntry {
  voice: string;
  event: 'created' | 'deleted' | 'expired';
  /** Who: an API key's prefix, or `retention` for the retention job. */
  actor: string;
  at: number;
  /** The consent the voice was made with (ConsentRecord JSON), or null. */
  consent: string | null;
}

export type InsertVoiceOutcome = { inserted: true } | { inserted: false; voiceCount: number };

export interface Repository {
  /** Returns the account with this name, creating it when absent. */
  ensureAccount(name: string, now: number): Promise<Account>;
  insertApiKey(key: { id: string; accountId: string; keyHash: string; keyPrefix: string; createdAt: number }): Promise<void>;
  /** The account owning an unrevoked key with this hash, or null. */
  findAccountByKeyHash(keyHash: string): Promise<Account | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Revokes the key whose id or prefix is given; false when none matched. */
  revokeApiKey(idOrPrefix: string, now: number): Promise<boolean>;
  countActiveApiKeys(): Promise<number>;

  countVoices(accountId: string): Promise<number>;
  /**
   * Inserts the voice and its usage entry in one transaction, only while the account holds
   * fewer than `quota` voices; the check and the insert are atomic. Its `created` audit entry
   * (by `actor`) is written in the same transaction.
   */
  insertVoiceWithinQuota(voice: VoiceRecord, quota: number, actor: string): Promise<InsertVoiceOutcome>;
  /** Newest first. */
  listVoices(accountId: string, offset: number, limit: number): Promise<VoicePage>;
  findVoice(accountId: string, name: string): Promise<VoiceRecord | null>;
  /** Deletes and returns the voice (with its `deleted` audit entry), or null when the account has no such voice. */
  deleteVoice(accountId: string, name: string, actor: string, at: number): Promise<VoiceRecord | null>;
  touchVoice(name: string, at: number): Promise<void>;
  updateVoicePrompt(name: string, voicePrompt: string): Promise<void>;
  /** Voices whose last use is before `cutoff`, oldest first, at most `limit`. */
  findVoicesUnusedSince(cutoff: number, limit: number): Promise<VoiceRecord[]>;
  /** Deletes the voice (with its `expired` audit entry) only if it is still unused since `cutoff`; true when deleted. */
  deleteVoiceIfUnusedSince(name: string, cutoff: number, at: number): Promise<boolean>;
  /** The account's audit trail, newest first. */
  listVoiceAudit(accountId: string, limit: number): Promise<VoiceAuditEntry[]>;
  /** Every blob key that some voice refers to. */
  referencedBlobKeys(): Promise<Set<string>>;
  usageTotal(accountId: string, kind: string): Promise<number>;
  recordUsage(entry: { accountId: string; kind: string; count: number; voice: string | null; at: number }): Promise<void>;

  insertGeneratedAudio(audio: GeneratedAudioRecord): Promise<void>;
  findGeneratedAudio(id: string): Promise<GeneratedAudioRecord | null>;
  /** Expired before `now`, oldest first, at most `limit`. */
  findExpiredGeneratedAudio(now: number, limit: number): Promise<GeneratedAudioRecord[]>;
  deleteGeneratedAudio(id: string): Promise<void>;

  /**
   * Runs `work` unless another node is running the same job (PostgreSQL advisory lock);
   * returns null when it skipped. SQLite has one node: it always runs.
   */
  runExclusive<T>(job: string, work: () => Promise<T>): Promise<T | null>;

  /** The value stored under `name`, storing `proposed` first if there is none (atomic: every node gets the same value). */
  settingOrInsert(name: string, proposed: string): Promise<string>;

  close(): Promise<void>;
}
