import type { Kysely } from 'kysely';

// Written with the schema builder only, so the same migration runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull().references('accounts.id'))
    .addColumn('key_hash', 'text', (col) => col.notNull().unique())
    .addColumn('key_prefix', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema
    .createTable('voices')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull().references('accounts.id'))
    .addColumn('preferred_name', 'text', (col) => col.notNull())
    .addColumn('target_model', 'text', (col) => col.notNull())
    .addColumn('language', 'text')
    .addColumn('reference_text', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('modified_at', 'bigint', (col) => col.notNull())
    .addColumn('last_used_at', 'bigint', (col) => col.notNull())
    .addColumn('speech_seconds', 'real', (col) => col.notNull())
    .addColumn('fallback_reason', 'text')
    .addColumn('original_blob', 'text', (col) => col.notNull())
    .addColumn('original_mediatype', 'text', (col) => col.notNull())
    .addColumn('reference_blob', 'text', (col) => col.notNull())
    .addColumn('reference_sample_rate', 'integer', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('voices_by_account_newest').on('voices').columns(['account_id', 'created_at', 'name']).execute();
  await db.schema.createIndex('voices_by_last_use').on('voices').column('last_used_at').execute();
  await db.schema
    .createTable('usage_ledger')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('count', 'integer', (col) => col.notNull())
    .addColumn('voice', 'text')
    .addColumn('at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('usage_by_account').on('usage_ledger').columns(['account_id', 'at']).execute();
}
