import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalog, type CatalogModel } from './catalog.js';

/** One file `models pull` downloaded: from where, its sha256, and who vouched for its digest. */
export interface DownloadRecord {
  file: string;
  url: string;
  sha256: string;
  vouchedBy: string;
}

/** Written by `timbre models pull/add` beside the files: where they came from and their hashes. */
export interface InstallManifest {
  name: string;
  source: string;
  installedAt: string;
  files: Record<string, { sha256: string; bytes: number }>;
  /** Set by `pull`: each download and what its check trusted. */
  downloads?: DownloadRecord[];
}

export function modelFolder(modelsDir: string, name: string): string {
  return join(modelsDir, name);
}

export function manifestPath(folder: string): string {
  return join(folder, 'timbre-model.json');
}

export interface InstalledModel {
  model: CatalogModel;
  folder: string;
  manifest: InstallManifest;
}

/** Catalog models with a complete install (manifest written last, so a half install is not one). */
export function installedModels(modelsDir: string, role?: CatalogModel['role']): InstalledModel[] {
  return catalog.flatMap((model) => {
    if (role && model.role !== role) return [];
    const folder = modelFolder(modelsDir, model.name);
    const path = manifestPath(folder);
    if (!existsSync(path)) return [];
    return [{ model, folder, manifest: JSON.parse(readFileSync(path, 'utf8')) as InstallManifest }];
  });
}
