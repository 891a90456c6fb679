// Installing neural models: from a folder or archive on disk (air-gapped hosts), or pulled
// from the upstream release by pinned URL and sha256, resuming partial downloads. Files are
// checked against the loader's contract before they replace an installed model.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { unzipSync } from 'fflate';
import * as tar from 'tar';
import unbzip2 from 'unbzip2-stream';
import { encoderGraphFromCheckpoint } from '../../audio/speaker/convert.js';
import { speakerEncoderFiles } from '../../audio/speaker/encoder.js';
import type { CatalogModel, Download, ModelFile } from './catalog.js';
import { manifestPath, modelFolder, type InstallManifest } from './installed.js';

/** A model that cannot be installed, and why (missing file, wrong contract, bad checksum). */
export class InstallError extends Error {}

/** The download failed in a way that retrying later may fix (offline, server down, cut transfer). */
export class DownloadError extends Error {}

export interface Progress {
  (done: number, total: number | null, label: string): void;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Every path under `root` whose name is `name` (files or folders), shallowest first. */
async function findAll(root: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const folder = queue.shift()!;
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.name === name) found.push(path);
      if (entry.isDirectory() && entry.name !== name) queue.push(path);
    }
  }
  return found;
}

const archivePattern = /\.(tar\.bz2|tbz2|tar\.gz|tgz|tar|whl|zip)$/i;

/** Unpacks a zip (a Python wheel) with fflate: every member under `into`, no path escaping it. */
async function unzip(archive: string, into: string): Promise<void> {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(await readFile(archive));
  } catch (error) {
    throw new InstallError(`${basename(archive)} could not be unpacked (${(error as Error).message}): a damaged or incomplete archive`);
  }
  for (const [name, bytes] of Object.entries(members)) {
    if (name.endsWith('/')) continue;
    const path = join(into, name);
    if (!path.startsWith(`${into}/`) || name.split('/').includes('..')) throw new InstallError(`${basename(archive)} holds a path outside itself (${name})`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
}

async function extract(archive: string, into: string): Promise<void> {
  const lower = archive.toLowerCase();
  if (lower.endsWith('.whl') || lower.endsWith('.zip')) return unzip(archive, into);
  const bzip2 = lower.endsWith('.tar.bz2') || lower.endsWith('.tbz2');
  if (!bzip2 && !lower.endsWith('.tar.gz') && !lower.endsWith('.tgz') && !lower.endsWith('.tar')) {
    throw new InstallError(`${basename(archive)} is not an archive Timbre can read (.tar.bz2, .tar.gz, .tar, .whl or .zip)`);
  }
  try {
    if (bzip2) await pipeline(createReadStream(archive), unbzip2(), tar.x({ cwd: into, strict: true }));
    else await tar.x({ file: archive, cwd: into, strict: true });
  } catch (error) {
    throw new InstallError(`${basename(archive)} could not be unpacked (${(error as Error).message}): a damaged or incomplete archive`);
  }
}

interface OnnxContract {
  inputs: number | 'matching-outputs';
  outputs?: number;
  /** Inputs before the state tensors, and outputs before the new states. */
  leading?: { inputs: number; outputs: number };
}

/** What sherpa-onnx's loaders read from each graph (positional inputs and outputs). */
const onnxContracts: Record<string, OnnxContract> = {
  'pocket-tts/textConditioner': { inputs: 1, outputs: 1 },
  'pocket-tts/encoder': { inputs: 1, outputs: 1 },
  'pocket-tts/lmMain': { inputs: 'matching-outputs', leading: { inputs: 2, outputs: 2 } },
  'pocket-tts/lmFlow': { inputs: 4, outputs: 1 },
  'pocket-tts/decoder': { inputs: 'matching-outputs', leading: { inputs: 1, outputs: 1 } },
  'zipvoice/encoder': { inputs: 4, outputs: 1 },
  'zipvoice/decoder': { inputs: 5, outputs: 1 },
  'zipvoice/vocoder': { inputs: 1, outputs: 3 },
};

async function checkOnnx(model: CatalogModel, file: ModelFile, path: string): Promise<void> {
  const { InferenceSession } = (await import('onnxruntime-node')).default;
  let session;
  try {
    session = await InferenceSession.create(path);
  } catch (error) {
    throw new InstallError(`${file.file} is not a loadable ONNX model: ${(error as Error).message.split('\n')[0]}`);
  }
  const contract = onnxContracts[`${model.name}/${file.role}`];
  const inputs = session.inputNames.length;
  const outputs = session.outputNames.length;
  await session.release();
  if (!contract) return;
  const problem =
    contract.inputs === 'matching-outputs'
      ? inputs - contract.leading!.inputs !== outputs - contract.leading!.outputs || inputs < contract.leading!.inputs
        ? `${inputs} inputs and ${outputs} outputs, where ${model.name} needs ${contract.leading!.inputs} + N state inputs and ${contract.leading!.outputs} + N state outputs`
        : null
      : inputs !== contract.inputs || (contract.outputs !== undefined && outputs !== contract.outputs)
        ? `${inputs} inputs and ${outputs} outputs, where ${model.name} needs ${contract.inputs} and ${contract.outputs ?? 'any'}`
        : null;
  if (problem) throw new InstallError(`${file.file} does not fit the ${model.name} loader: ${problem}`);
}

/**
 * Converts a PyTorch checkpoint into the ONNX graph Timbre runs, writes it into `staging`, and
 * checks that onnxruntime loads it. Returns the graph's file name.
 */
async function convertCheckpoint(model: CatalogModel, file: ModelFile, path: string, staging: string): Promise<string> {
  let graph: Uint8Array;
  try {
    graph = encoderGraphFromCheckpoint(await readFile(path), basename(path));
  } catch (error) {
    throw new InstallError(`${file.file} cannot be converted: ${(error as Error).message}`);
  }
  const graphFile = speakerEncoderFiles.graph;
  await writeFile(join(staging, graphFile), graph);
  await checkOnnx(model, { ...file, file: graphFile, kind: 'onnx' }, join(staging, graphFile));
  return graphFile;
}

async function checkFile(model: CatalogModel, file: ModelFile, path: string): Promise<void> {
  const info = await stat(path);
  if (file.kind === 'folder') {
    if (!info.isDirectory()) throw new InstallError(`${file.file} must be a folder`);
    return;
  }
  if (!info.isFile() || info.size === 0) throw new InstallError(`${file.file} is empty`);
  if (file.kind === 'onnx') await checkOnnx(model, file, path);
  if (file.kind === 'json') {
    try {
      JSON.parse(await readFile(path, 'utf8'));
    } catch {
      throw new InstallError(`${file.file} is not valid JSON`);
    }
  }
}

/**
 * Installs `model` from a folder (its files anywhere under it) or an archive: finds every
 * required file, checks it, copies the set into the models folder, writes the manifest last,
 * and only then replaces a previous install.
 */
export async function installModel(model: CatalogModel, from: string, modelsDir: string, source = from): Promise<InstallManifest> {
  if (!existsSync(from)) throw new InstallError(`${from} does not exist`);
  await mkdir(modelsDir, { recursive: true });
  const scratch = await mkdtemp(join(modelsDir, `.${model.name}-unpack-`));
  const staging = await mkdtemp(join(modelsDir, `.${model.name}-install-`));
  try {
    let root = from;
    if ((await stat(from)).isFile()) {
      // A model of one file may come as that file alone (a .pt checkpoint), under any name.
      if (!archivePattern.test(from) && model.files.length === 1) await cp(from, join(scratch, model.files[0]!.file));
      else await extract(from, scratch);
      root = scratch;
    }
    const manifest: InstallManifest = { name: model.name, source, installedAt: new Date().toISOString(), files: {} };
    const record = async (name: string, path: string) => {
      manifest.files[name] = { sha256: await sha256Of(path), bytes: (await stat(path)).size };
    };
    for (const file of model.files) {
      const [path] = await findAll(root, file.file);
      if (!path) throw new InstallError(`${model.name} needs ${file.file}, which is not in ${from}`);
      if (file.kind === 'torch-checkpoint') {
        // The checkpoint's hash says which weights were converted; only the graph is kept.
        await record(file.file, path);
        const graphFile = await convertCheckpoint(model, file, path, staging);
        await record(graphFile, join(staging, graphFile));
        continue;
      }
      await checkFile(model, file, path);
      await cp(path, join(staging, file.file), { recursive: true });
      if (file.kind !== 'folder') await record(file.file, path);
    }
    await writeFile(manifestPath(staging), `${JSON.stringify(manifest, null, 2)}\n`);
    const target = modelFolder(modelsDir, model.name);
    const previous = `${target}.previous-${process.pid}`;
    if (existsSync(target)) await rename(target, previous);
    await rename(staging, target);
    await rm(previous, { recursive: true, force: true });
    return manifest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

/** Counts bytes through a stream for the progress bar. */
function counting(onBytes: (count: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

/**
 * Downloads `url` to `file`, resuming from what an earlier attempt left in `file.part` (HTTP
 * Range); checks the sha256 of the whole file before renaming it into place.
 */
export async function download(url: string, file: string, sha256: string, progress: Progress, timeoutMs = 30_000): Promise<void> {
  const partial = `${file}.part`;
  const have = existsSync(partial) ? (await stat(partial)).size : 0;
  let response: Response;
  try {
    response = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    throw new DownloadError(`cannot reach ${new URL(url).host} (${cause}): is this host offline? Install from disk instead: timbre models add <name> --from <folder or archive>`);
  }
  const resumed = response.status === 206;
  if (!response.ok || !response.body) throw new DownloadError(`${url} answered HTTP ${response.status}`);
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? length + (resumed ? have : 0) : null;
  let done = resumed ? have : 0;
  const label = basename(new URL(url).pathname);
  progress(done, total, label);
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      counting((count) => {
        done += count;
        progress(done, total, label);
      }),
      createWriteStream(partial, { flags: resumed ? 'a' : 'w' }),
    );
  } catch (error) {
    throw new DownloadError(`the transfer of ${label} broke off at ${done} of ${total ?? '?'} bytes (${(error as Error).message}); run the same command again to resume`);
  }
  if (total !== null && done < total) throw new DownloadError(`the transfer of ${label} broke off at ${done} of ${total} bytes; run the same command again to resume`);
  const actual = await sha256Of(partial);
  if (actual !== sha256.toLowerCase()) {
    await rm(partial, { force: true });
    throw new InstallError(`${label}: sha256 ${actual} does not match the pinned ${sha256}; the download was deleted (a corrupted or substituted file)`);
  }
  await rename(partial, file);
}

export interface PullOptions {
  modelsDir: string;
  /** Overrides of the catalog's downloads (a mirror, or sha256 where the catalog has none), by index. */
  downloads?: Partial<Download>[];
  progress: Progress;
}

/** Downloads every asset of `model` (archive and single files), then installs the set. */
export async function pullModel(model: CatalogModel, options: PullOptions): Promise<InstallManifest> {
  const cache = join(options.modelsDir, '.downloads');
  await mkdir(cache, { recursive: true });
  const gathered = await mkdtemp(join(options.modelsDir, `.${model.name}-pull-`));
  const fetched: string[] = [];
  try {
    for (const [index, pinned] of model.downloads.entries()) {
      const asset = { ...pinned, ...options.downloads?.[index] };
      if (!asset.url) throw new InstallError(`no URL for download ${index + 1} of ${model.name}`);
      if (!asset.sha256) {
        throw new InstallError(
          `this build of Timbre has no pinned sha256 for ${asset.url}; pass --sha256 <hex> with the checksum from a source you trust (Timbre never installs an unverified download)`,
        );
      }
      const file = join(cache, basename(new URL(asset.url).pathname));
      if (!existsSync(file) || (await sha256Of(file)) !== asset.sha256.toLowerCase()) await download(asset.url, file, asset.sha256, options.progress);
      fetched.push(file);
      if (archivePattern.test(file)) await extract(file, gathered);
      else await cp(file, join(gathered, basename(file)));
    }
    const manifest = await installModel(model, gathered, options.modelsDir, model.downloads.map((pinned, index) => options.downloads?.[index]?.url ?? pinned.url).join(' + '));
    for (const file of fetched) await rm(file, { force: true });
    return manifest;
  } finally {
    await rm(gathered, { recursive: true, force: true });
  }
}
