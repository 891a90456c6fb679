import type { Kysely } from 'kysely';

/**
 * Audio made by the non-streaming HTTP API, served from expiring signed links; and server
 * settings shared by every node (the link-signing secret).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('generated_audio')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('account_id', 'text', (column) => column.notNull())
    .addColumn('blob', 'text', (column) => column.notNull())
    .addColumn('created_at', 'bigint', (column) => column.notNull())
    .addColumn('expires_at', 'bigint', (column) => column.notNull())
    .execute();
  await db.schema.createIndex('generated_audio_expires_at').on('generated_audio').column('expires_at').execute();
  await db.schema
    .createTable('server_settings')
    .addColumn('name', 'text', (column) => column.primaryKey())
    .addColumn('value', 'text', (column) => column.notNull())
    .execute();
}
