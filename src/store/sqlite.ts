import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { migrateToLatest } from './migrations/index.js';

/** Opens (creating if needed) the embedded SQLite database and applies pending migrations. */
export async function openSqlite(path: string): Promise<Kysely<Database>> {
  mkdirSync(dirname(path), { recursive: true });
  const connection = new SqliteDatabase(path);
  connection.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before the API acknowledges it, also across power loss.
  connection.pragma('synchronous = FULL');
  // The CLI and the server may write to the same file at once.
  connection.pragma('busy_timeout = 5000');
  connection.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
  await migrateToLatest(db);
  return db;
}
