import type { Kysely } from 'kysely';

/**
 * Blobs (uploads, references, generated audio) inside the database, for PostgreSQL
 * deployments where every node must read what any node wrote. The embedded SQLite default
 * keeps its blobs as files and leaves this table empty.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('blobs')
    .addColumn('key', 'text', (column) => column.primaryKey())
    .addColumn('bytes', 'bytea', (column) => column.notNull())
    .addColumn('created_at', 'bigint', (column) => column.notNull())
    .execute();
}
