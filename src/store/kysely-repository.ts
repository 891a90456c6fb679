import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, GeneratedAudioTable, VoicesTable } from './schema.js';
import type { Account, ApiKeyRecord, GeneratedAudioRecord, InsertVoiceOutcome, Repository, VoiceAuditEntry, VoicePage, VoiceRecord } from './repository.js';

function auditVoice(db: Kysely<Database>, accountId: string, voice: string, event: VoiceAuditEntry['event'], actor: string, at: number, consent: string | null): Promise<unknown> {
  return db.insertInto('voice_audit').values({ id: randomUUID(), account_id: accountId, voice, event, actor, at, consent }).execute();
}

/** What goes with every stored voice, in its transaction: a usage entry and a `created` audit entry. */
async function recordCreate(db: Kysely<Database>, voice: VoiceRecord, actor: string): Promise<void> {
  await db
    .insertInto('usage_ledger')
    .values({ id: randomUUID(), account_id: voice.accountId, kind: 'voice.create', count: 1, voice: voice.name, at: voice.createdAt })
    .execute();
  await auditVoice(db, voice.accountId, voice.name, 'created', actor, voice.createdAt, voice.consent);
}

function toVoiceRecord(row: Selectable<VoicesTable>): VoiceRecord {
  return {
    name: row.name,
    accountId: row.account_id,
    preferredName: row.preferred_name,
    targetModel: row.target_model,
    language: row.language,
    referenceText: row.reference_text,
    createdAt: Number(row.created_at),
    modifiedAt: Number(row.modified_at),
    lastUsedAt: Number(row.last_used_at),
    speechSeconds: Number(row.speech_seconds),
    fallbackReason: row.fallback_reason,
    originalBlob: row.original_blob,
    originalMediatype: row.original_mediatype,
    referenceBlob: row.reference_blob,
    referenceSampleRate: Number(row.reference_sample_rate),
    voicePrompt: row.voice_prompt,
    consent: row.consent,
  };
}

function toVoiceRow(voice: VoiceRecord): VoicesTable {
  return {
    name: voice.name,
    account_id: voice.accountId,
    preferred_name: voice.preferredName,
    target_model: voice.targetModel,
    language: voice.language,
    reference_text: voice.referenceText,
    created_at: voice.createdAt,
    modified_at: voice.modifiedAt,
    last_used_at: voice.lastUsedAt,
    speech_seconds: voice.speechSeconds,
    fallback_reason: voice.fallbackReason,
    original_blob: voice.originalBlob,
    original_mediatype: voice.originalMediatype,
    reference_blob: voice.referenceBlob,
    reference_sample_rate: voice.referenceSampleRate,
    voice_prompt: voice.voicePrompt,
    consent: voice.consent,
  };
}

/** The repository over any Kysely dialect; SQL that differs by dialect is kept out of here. */
export class KyselyRepository implements Repository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres' = 'sqlite',
  ) {}

  /** The Kysely instance, for stores that share the database (blobs on PostgreSQL). */
  get database(): Kysely<Database> {
    return this.db;
  }

  async runExclusive<T>(job: string, work: () => Promise<T>): Promise<T | null> {
    if (this.dialect === 'sqlite') return work();
    // A session-level advisory lock on one pooled connection: the job's own queries run on
    // others, and a node that finds the lock taken skips this pass.
    return this.db.connection().execute(async (connection) => {
      const key = sql<number>`hashtext(${`timbre:${job}`})`;
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}) as locked`.execute(connection);
      if (!rows[0]?.locked) return null;
      try {
        return await work();
      } finally {
        await sql`select pg_advisory_unlock(${key})`.execute(connection);
      }
    });
  }

  async ensureAccount(name: string, now: number): Promise<Account> {
    await this.db
      .insertInto('accounts')
      .values({ id: randomUUID(), name, created_at: now })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .execute();
    const row = await this.db.selectFrom('accounts').select(['id', 'name']).where('name', '=', name).executeTakeFirstOrThrow();
    return row;
  }

  async insertApiKey(key: { id: string; accountId: string; keyHash: string; keyPrefix: string; createdAt: number }): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({ id: key.id, account_id: key.accountId, key_hash: key.keyHash, key_prefix: key.keyPrefix, created_at: key.createdAt, revoked_at: null })
      .execute();
  }

  async findAccountByKeyHash(keyHash: string): Promise<Account | null> {
    const row = await this.db
      .selectFrom('api_keys')
      .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
      .select(['accounts.id as id', 'accounts.name as name'])
      .where('api_keys.key_hash', '=', keyHash)
      .where('api_keys.revoked_at', 'is', null)
      .executeTakeFirst();
    return row ?? null;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
      .select(['api_keys.id as id', 'accounts.name as accountName', 'api_keys.key_prefix as keyPrefix', 'api_keys.created_at as createdAt', 'api_keys.revoked_at as revokedAt'])
      .orderBy('api_keys.created_at')
      .execute();
    return rows.map((row) => ({ ...row, createdAt: Number(row.createdAt), revokedAt: row.revokedAt === null ? null : Number(row.revokedAt) }));
  }

  async revokeApiKey(idOrPrefix: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: now })
      .where((eb) => eb.or([eb('id', '=', idOrPrefix), eb('key_prefix', '=', idOrPrefix)]))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async countActiveApiKeys(): Promise<number> {
    const row = await this.db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('revoked_at', 'is', null).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async countVoices(accountId: string): Promise<number> {
    const row = await this.db.selectFrom('voices').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insertVoiceWithinQuota(voice: VoiceRecord, quota: number, actor: string): Promise<InsertVoiceOutcome> {
    if (this.dialect === 'postgres') return this.insertVoiceWithinQuotaLocked(voice, quota, actor);
    return this.db.transaction().execute(async (trx) => {
      // One INSERT ... SELECT ... WHERE count < quota: the check and the write are a single
      // statement, so two writers (even two processes on one SQLite file) cannot both pass it.
      const row = toVoiceRow(voice);
      const result = await trx
        .insertInto('voices')
        .columns(Object.keys(row) as (keyof VoicesTable)[])
        .expression(
          trx
            .selectNoFrom(Object.entries(row).map(([column, value]) => sql`${value}`.as(column)))
            .where(
              (eb) => eb.selectFrom('voices').select((inner) => inner.fn.countAll<number>().as('n')).where('account_id', '=', voice.accountId),
              '<',
              quota,
            ),
        )
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) {
        const count = await trx.selectFrom('voices').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', voice.accountId).executeTakeFirstOrThrow();
        return { inserted: false as const, voiceCount: Number(count.n) };
      }
      await recordCreate(trx, voice, actor);
      return { inserted: true as const };
    });
  }

  /**
   * PostgreSQL: the account's row is locked for the transaction, so creates for one account
   * on any number of nodes count and insert one at a time.
   */
  private async insertVoiceWithinQuotaLocked(voice: VoiceRecord, quota: number, actor: string): Promise<InsertVoiceOutcome> {
    return this.db.transaction().execute(async (trx) => {
      await trx.selectFrom('accounts').select('id').where('id', '=', voice.accountId).forUpdate().executeTakeFirst();
      const count = await trx.selectFrom('voices').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', voice.accountId).executeTakeFirstOrThrow();
      if (Number(count.n) >= quota) return { inserted: false as const, voiceCount: Number(count.n) };
      await trx.insertInto('voices').values(toVoiceRow(voice)).execute();
      await recordCreate(trx, voice, actor);
      return { inserted: true as const };
    });
  }

  async listVoices(accountId: string, offset: number, limit: number): Promise<VoicePage> {
    const [rows, total] = await Promise.all([
      limit === 0
        ? Promise.resolve([])
        : this.db
            .selectFrom('voices')
            .selectAll()
            .where('account_id', '=', accountId)
            .orderBy('created_at', 'desc')
            .orderBy('name', 'desc')
            .limit(limit)
            .offset(offset)
            .execute(),
      this.countVoices(accountId),
    ]);
    return { voices: rows.map(toVoiceRecord), totalCount: total };
  }

  async findVoice(accountId: string, name: string): Promise<VoiceRecord | null> {
    const row = await this.db.selectFrom('voices').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return row ? toVoiceRecord(row) : null;
  }

  async deleteVoice(accountId: string, name: string, actor: string, at: number): Promise<VoiceRecord | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.deleteFrom('voices').where('account_id', '=', accountId).where('name', '=', name).returningAll().executeTakeFirst();
      if (!row) return null;
      await auditVoice(trx, accountId, name, 'deleted', actor, at, row.consent);
      return toVoiceRecord(row);
    });
  }

  async touchVoice(name: string, at: number): Promise<void> {
    await this.db.updateTable('voices').set({ last_used_at: at }).where('name', '=', name).where('last_used_at', '<', at).execute();
  }

  async updateVoicePrompt(name: string, voicePrompt: string): Promise<void> {
    await this.db.updateTable('voices').set({ voice_prompt: voicePrompt }).where('name', '=', name).execute();
  }

  async findVoicesUnusedSince(cutoff: number, limit: number): Promise<VoiceRecord[]> {
    const rows = await this.db.selectFrom('voices').selectAll().where('last_used_at', '<', cutoff).orderBy('last_used_at').limit(limit).execute();
    return rows.map(toVoiceRecord);
  }

  async deleteVoiceIfUnusedSince(name: string, cutoff: number, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.deleteFrom('voices').where('name', '=', name).where('last_used_at', '<', cutoff).returningAll().executeTakeFirst();
      if (!row) return false;
      await auditVoice(trx, row.account_id, name, 'expired', 'retention', at, row.consent);
      return true;
    });
  }

  async listVoiceAudit(accountId: string, limit: number): Promise<VoiceAuditEntry[]> {
    const rows = await this.db.selectFrom('voice_audit').selectAll().where('account_id', '=', accountId).orderBy('at', 'desc').orderBy('id').limit(limit).execute();
    return rows.map((row) => ({ voice: row.voice, event: row.event as VoiceAuditEntry['event'], actor: row.actor, at: Number(row.at), consent: row.consent }));
  }

  async referencedBlobKeys(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('voices').select(['original_blob', 'reference_blob']).execute();
    const generated = await this.db.selectFrom('generated_audio').select('blob').execute();
    return new Set([...rows.flatMap((row) => [row.original_blob, row.reference_blob]), ...generated.map((row) => row.blob)]);
  }

  async recordUsage(entry: { accountId: string; kind: string; count: number; voice: string | null; at: number }): Promise<void> {
    await this.db
      .insertInto('usage_ledger')
      .values({ id: randomUUID(), account_id: entry.accountId, kind: entry.kind, count: entry.count, voice: entry.voice, at: entry.at })
      .execute();
  }

  async insertGeneratedAudio(audio: GeneratedAudioRecord): Promise<void> {
    await this.db
      .insertInto('generated_audio')
      .values({ id: audio.id, account_id: audio.accountId, blob: audio.blob, created_at: audio.createdAt, expires_at: audio.expiresAt })
      .execute();
  }

  async findGeneratedAudio(id: string): Promise<GeneratedAudioRecord | null> {
    const row = await this.db.selectFrom('generated_audio').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toGeneratedAudio(row) : null;
  }

  async findExpiredGeneratedAudio(now: number, limit: number): Promise<GeneratedAudioRecord[]> {
    const rows = await this.db.selectFrom('generated_audio').selectAll().where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
    return rows.map(toGeneratedAudio);
  }

  async deleteGeneratedAudio(id: string): Promise<void> {
    await this.db.deleteFrom('generated_audio').where('id', '=', id).execute();
  }

  async settingOrInsert(name: string, proposed: string): Promise<string> {
    await this.db.insertInto('server_settings').values({ name, value: proposed }).onConflict((conflict) => conflict.column('name').doNothing()).execute();
    const row = await this.db.selectFrom('server_settings').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    return row.value;
  }

  async usageTotal(accountId: string, kind: string): Promise<number> {
    const row = await this.db
      .selectFrom('usage_ledger')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('count'), sql<number>`0`).as('total'))
      .where('account_id', '=', accountId)
      .where('kind', '=', kind)
      .executeTakeFirstOrThrow();
    return Number(row.total);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function toGeneratedAudio(row: Selectable<GeneratedAudioTable>): GeneratedAudioRecord {
  return { id: row.id, accountId: row.account_id, blob: row.blob, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) };
}
