import type { Kysely } from 'kysely';

/** The speaker's consent as given at create (JSON: method, statement, who, when, account). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('voices').addColumn('consent', 'text').execute();
}
