import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { BlobStore } from './blobs.js';
import type { Database } from './schema.js';

/**
 * Blobs in the shared database, so any node serves any voice and any audio link. Scratch
 * files (uploads being decoded) stay on the node's local disk.
 */
export class DatabaseBlobStore implements BlobStore {
  private readonly scratchDir: string;

  constructor(
    private readonly db: Kysely<Database>,
    localRoot: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.scratchDir = join(localRoot, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.scratchDir, { recursive: true });
  }

  temporaryPath(): string {
    return join(this.scratchDir, `${Date.now()}-${randomUUID()}`);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const row = { key, bytes: Buffer.from(bytes), created_at: this.clock() };
    await this.db.insertInto('blobs').values(row).onConflict((conflict) => conflict.column('key').doUpdateSet({ bytes: row.bytes, created_at: row.created_at })).execute();
  }

  async adopt(key: string, temporaryFile: string): Promise<void> {
    await this.put(key, await readFile(temporaryFile));
    await rm(temporaryFile, { force: true });
  }

  async get(key: string): Promise<Buffer> {
    const row = await this.db.selectFrom('blobs').select('bytes').where('key', '=', key).executeTakeFirst();
    if (!row) throw Object.assign(new Error(`blob ${key} does not exist`), { code: 'ENOENT' });
    return row.bytes;
  }

  async delete(key: string): Promise<void> {
    await this.db.deleteFrom('blobs').where('key', '=', key).execute();
  }

  async list(): Promise<string[]> {
    return (await this.db.selectFrom('blobs').select('key').execute()).map((row) => row.key);
  }

  /** Unreferenced blobs older than `olderThanMs` (other nodes may be mid-create), and old scratch files. */
  async sweep(isReferenced: (key: string) => boolean, olderThanMs: number, now: number): Promise<number> {
    const cutoff = now - olderThanMs;
    const candidates = await this.db.selectFrom('blobs').select('key').where('created_at', '<', cutoff).execute();
    let removed = 0;
    for (const { key } of candidates) {
      if (isReferenced(key)) continue;
      await this.db.deleteFrom('blobs').where('key', '=', key).where('created_at', '<', cutoff).execute();
      removed += 1;
    }
    for (const name of await readdir(this.scratchDir)) {
      const path = join(this.scratchDir, name);
      if ((await stat(path)).mtimeMs < cutoff) {
        await rm(path, { force: true });
        removed += 1;
      }
    }
    return removed;
  }
}
