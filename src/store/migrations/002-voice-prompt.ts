import type { Kysely } from 'kysely';

/** What the engine computed at enrollment, as JSON (its `engine` field names the engine). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('voices').addColumn('voice_prompt', 'text').execute();
}
