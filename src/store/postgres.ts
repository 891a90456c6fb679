import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { migrateToLatest } from './migrations/index.js';

/**
 * Connects to the shared PostgreSQL database and applies pending migrations. Kysely's
 * migrator takes a lock in the database, so nodes starting together migrate once.
 */
export async function openPostgres(url: string, poolSize = 10): Promise<Kysely<Database>> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrateToLatest(db);
  return db;
}
