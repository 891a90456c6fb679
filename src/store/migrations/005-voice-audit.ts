import type { Kysely } from 'kysely';

/**
 * What happened to each voice (created, deleted, expired), who did it, and the consent it was
 * made with. Rows outlive their voice and hold no audio.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('voice_audit')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('account_id', 'text', (column) => column.notNull())
    .addColumn('voice', 'text', (column) => column.notNull())
    .addColumn('event', 'text', (column) => column.notNull())
    .addColumn('actor', 'text', (column) => column.notNull())
    .addColumn('at', 'bigint', (column) => column.notNull())
    .addColumn('consent', 'text')
    .execute();
  await db.schema.createIndex('voice_audit_account_at').on('voice_audit').columns(['account_id', 'at']).execute();
}
