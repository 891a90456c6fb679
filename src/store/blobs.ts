import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** Named byte strings (uploads, prepared references). Keys are relative paths with '/'. */
export interface BlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Moves a finished temporary file (from `temporaryPath`) into the store under `key`. */
  adopt(key: string, temporaryFile: string): Promise<void>;
  get(key: string): Promise<Buffer>;
  delete(key: string): Promise<void>;
  list(): Promise<string[]>;
  /** A path for scratch files, on the same filesystem so `adopt` is a rename. */
  temporaryPath(): string;
  /** Removes unreferenced blobs and scratch files older than `olderThanMs`; returns how many. */
  sweep(isReferenced: (key: string) => boolean, olderThanMs: number, now: number): Promise<number>;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Files under one folder, written atomically: a temporary file is written and fsynced, then
 * renamed into place and the folder fsynced, so a crash leaves either the old state or the
 * whole new file, never a torn one.
 */
export class FileBlobStore implements BlobStore {
  private readonly blobDir: string;
  private readonly scratchDir: string;

  constructor(root: string) {
    this.blobDir = join(root, 'blobs');
    this.scratchDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.scratchDir, { recursive: true });
  }

  private pathOf(key: string): string {
    if (key.includes('..') || key.startsWith('/')) throw new Error(`invalid blob key ${key}`);
    return join(this.blobDir, ...key.split('/'));
  }

  temporaryPath(): string {
    return join(this.scratchDir, `${Date.now()}-${randomUUID()}`);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const scratch = this.temporaryPath();
    const handle = await open(scratch, 'wx', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.moveIntoPlace(key, scratch);
  }

  async adopt(key: string, temporaryFile: string): Promise<void> {
    await fsyncPath(temporaryFile);
    await this.moveIntoPlace(key, temporaryFile);
  }

  private async moveIntoPlace(key: string, scratch: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    await rename(scratch, target);
    await fsyncPath(dirname(target));
  }

  async get(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(path, { force: true });
    // Remove the voice's folder when it became empty; ignore when it still holds files.
    await rmdir(dirname(path)).catch(() => undefined);
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.blobDir, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(this.blobDir, join(entry.parentPath, entry.name)).split(sep).join('/'));
  }

  async sweep(isReferenced: (key: string) => boolean, olderThanMs: number, now: number): Promise<number> {
    let removed = 0;
    for (const key of await this.list()) {
      if (isReferenced(key)) continue;
      const info = await stat(this.pathOf(key)).catch(() => null);
      if (info && now - info.mtimeMs >= olderThanMs) {
        await this.delete(key);
        removed += 1;
      }
    }
    // A crash between mkdir and rename leaves an empty folder: remove those too.
    for (const entry of await readdir(this.blobDir, { recursive: true, withFileTypes: true })) {
      if (entry.isDirectory()) await rmdir(join(entry.parentPath, entry.name)).catch(() => undefined);
    }
    for (const name of await readdir(this.scratchDir)) {
      const path = join(this.scratchDir, name);
      const info = await stat(path).catch(() => null);
      if (info && now - info.mtimeMs >= olderThanMs) {
        await rm(path, { force: true, recursive: true });
        removed += 1;
      }
    }
    return removed;
  }
}
