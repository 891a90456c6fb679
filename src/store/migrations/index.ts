import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as initial from './001-initial.js';
import * as voicePrompt from './002-voice-prompt.js';
import * as generatedAudio from './003-generated-audio.js';
import * as consent from './004-consent.js';
import * as voiceAudit from './005-voice-audit.js';
import * as blobs from './006-blobs.js';

/** Numbered migrations, compiled in (no directory scan, so bundling and dist/ both work). */
export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { '001-initial': initial, '002-voice-prompt': voicePrompt, '003-generated-audio': generatedAudio, '004-consent': consent, '005-voice-audit': voiceAudit, '006-blobs': blobs };
  },
};

/** Applies pending migrations; on failure closes `db` and names the migration that failed. */
export async function migrateToLatest<T>(db: Kysely<T>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${String(error)}`);
  }
}
