// Installing neural models: from a folder or archive on disk (air-gapped hosts), or pulled
// from the first of the model's publishers that serves it, each file checked against the
// digest that the publisher (or this build, or the operator) vouches for, resuming partial
// downloads. Files are checked against the loader's contract before they replace an install.
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
import type { CatalogModel, ModelFile } from './catalog.js';
import { manifestPath, modelFolder, type DownloadRecord, type InstallManifest } from './installed.js';
import { ask, PublisherError, resolveSource, type Digest, type PublisherEndpoints, type ResolvedSource } from './publishers.js';

/** A model that cannot be installed, and why (missing file, wrong contract, bad checksum). */
export class InstallError extends Error {}

/** The download failed in a way that retrying later may fix (offline, server down, cut transfer). */
export class DownloadError extends Error {}

export interface Progress {
  (done: number, total: number | null, label: string): void;
}

async function sha256Of(path: string): Promise<string> {
  return (await digestsOf(path, 'sha256')).sha256;
}

/**
 * In one read of the file: its sha256 (what the manifest records) and its digest in
 * `algorithm` (what is checked). A git blob sha1 hashes the header `blob <size>\0`, then the bytes.
 */
async function digestsOf(path: string, algorithm: Digest['algorithm']): Promise<{ sha256: string; checked: string }> {
  const sha256 = createHash('sha256');
  const gitSha1 = algorithm === 'git-blob-sha1' ? createHash('sha1').update(`blob ${(await stat(path)).size}\0`) : null;
  for await (const chunk of createReadStream(path)) {
    sha256.update(chunk as Buffer);
    gitSha1?.update(chunk as Buffer);
  }
  const hex = sha256.digest('hex');
  return { sha256: hex, checked: gitSha1 ? gitSha1.digest('hex') : hex };
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
export async function installModel(model: CatalogModel, from: string, modelsDir: string, source = from, downloads?: DownloadRecord[]): Promise<InstallManifest> {
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
    const manifest: InstallManifest = { name: model.name, source, installedAt: new Date().toISOString(), files: {}, ...(downloads ? { downloads } : {}) };
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
 * Range); checks the whole file against `expected` before renaming it into place, and deletes
 * it if it does not match. Returns its sha256.
 */
export async function download(url: string, file: string, expected: Digest, progress: Progress): Promise<string> {
  const partial = `${file}.part`;
  const have = existsSync(partial) ? (await stat(partial)).size : 0;
  const response = await ask(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow' }, 30_000);
  const resumed = response.status === 206;
  if (!response.ok || !response.body) {
    throw new PublisherError(`${url} answered HTTP ${response.status}`, response.status >= 500 || response.status === 429 ? 'unavailable' : 'refused', new URL(url).host);
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? length + (resumed ? have : 0) : null;
  let done = resumed ? have : 0;
  const label = basename(new URL(url).pathname);
  const host = new URL(response.url || url).host;
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
    throw new PublisherError(`the transfer of ${label} broke off at ${done} of ${total ?? '?'} bytes (${(error as Error).message}); run the same command again to resume`, 'unavailable', host);
  }
  if (total !== null && done < total) throw new PublisherError(`the transfer of ${label} broke off at ${done} of ${total} bytes; run the same command again to resume`, 'unavailable', host);
  const { sha256, checked } = await digestsOf(partial, expected.algorithm);
  if (checked !== expected.hex.toLowerCase()) {
    await rm(partial, { force: true });
    const name = expected.algorithm === 'sha256' ? 'sha256' : 'git blob sha1';
    throw new InstallError(`${label}: its ${name} is ${checked}, but ${expected.vouchedBy} states ${expected.hex.toLowerCase()}; the download was deleted (a corrupted or substituted file)`);
  }
  await rename(partial, file);
  return sha256;
}

export interface PullOptions {
  modelsDir: string;
  /** Where each publisher's service is (TIMBRE_MODEL_SOURCES). */
  endpoints: PublisherEndpoints;
  /** Addresses to download from instead of the catalog's sources (a mirror of the operator's own). */
  urls?: string[];
  /** sha256 of each file in order, from a source the operator trusts; wins over every other digest. */
  sha256?: string[];
  progress: Progress;
  /** Reports which source is tried and which one served. */
  say: (line: string) => void;
}

/** The file names of a model's first source, in order. */
function primaryFileNames(model: CatalogModel): string[] {
  const [source] = model.sources;
  if (!source) return [];
  if (source.publisher === 'github') return source.assets.map((asset) => asset.name);
  if (source.publisher === 'huggingface') return source.files;
  return source.files.map((file) => file.name);
}

/** What a failed pull says: offline, retry later, or refused, with what to do about it. */
function pullFailure(model: CatalogModel, failures: PublisherError[]): Error {
  const offline = `install from disk instead: timbre models add ${model.name} --from <folder or archive>`;
  if (failures.every((failure) => failure.kind === 'unreachable')) {
    const hosts = [...new Set(failures.map((failure) => failure.host))];
    return new DownloadError(`cannot reach ${hosts.join(' nor ')}: is this host offline? ${offline[0]!.toUpperCase()}${offline.slice(1)}`);
  }
  const said = failures.map((failure) => failure.message).join('; ');
  const hint = failures.some((failure) => failure.nothingVouches) ? 'pass --sha256 <hex> from a source you trust, or ' : '';
  if (failures.some((failure) => failure.kind !== 'refused' && failure.kind !== 'unvouched')) return new DownloadError(`${said}; ${hint}${offline}`);
  return new InstallError(`${said}; ${hint}${offline}`);
}

/**
 * Downloads every file of `model` from the first of its sources that can serve it, each checked
 * against the operator's --sha256, else this build's pin, else the digest its publisher states
 * (no file without one is downloaded); then installs the set.
 */
export async function pullModel(model: CatalogModel, options: PullOptions): Promise<InstallManifest> {
  const cache = join(options.modelsDir, '.downloads');
  await mkdir(cache, { recursive: true });
  const failures: PublisherError[] = [];
  const trusted = options.sha256 ?? [];
  const candidates: (() => Promise<ResolvedSource>)[] = options.urls?.length
    ? [async () => ({ label: options.urls!.join(' + '), files: options.urls!.map((url) => ({ name: basename(new URL(url).pathname), url, size: null, digest: null })), unanswered: null })]
    : model.sources.map((source) => () => resolveSource(source, options.endpoints));
  for (const resolve of candidates) {
    let source: ResolvedSource;
    try {
      source = await resolve();
    } catch (error) {
      if (!(error instanceof PublisherError)) throw error;
      failures.push(error);
      continue;
    }
    const plan = source.files.map((file, index) => {
      // A mirror's file (--url) stands for the catalog's first source's file at its position.
      const pin = model.pinned[file.name] ?? (options.urls?.length ? model.pinned[primaryFileNames(model)[index] ?? ''] : undefined);
      const digest: Digest | null = trusted[index]
        ? { algorithm: 'sha256', hex: trusted[index]!.toLowerCase(), vouchedBy: '--sha256 given to models pull' }
        : pin
          ? { algorithm: 'sha256', hex: pin, vouchedBy: 'the sha256 pinned in this build of Timbre' }
          : file.digest;
      return { ...file, digest };
    });
    const unvouched = plan.find((file) => file.digest === null);
    if (unvouched) {
      failures.push(
        source.unanswered
          ? new PublisherError(`${source.unanswered.message}, so nothing vouches for ${unvouched.name}`, source.unanswered.kind, source.unanswered.host, true)
          : new PublisherError(`${source.label} states no digest for ${unvouched.name}`, 'unvouched', new URL(unvouched.url).host),
      );
      continue;
    }
    const size = plan.every((file) => file.size !== null) ? ` (${(plan.reduce((sum, file) => sum + file.size!, 0) / 1e6).toFixed(1)} MB)` : '';
    options.say(`from ${source.label}${size}`);
    try {
      return await fetchAndInstall(model, source, plan as (typeof plan[number] & { digest: Digest })[], cache, options);
    } catch (error) {
      if (!(error instanceof PublisherError)) throw error;
      failures.push(error);
    }
  }
  throw pullFailure(model, failures);
}

async function fetchAndInstall(
  model: CatalogModel,
  source: ResolvedSource,
  plan: { name: string; url: string; digest: Digest }[],
  cache: string,
  options: PullOptions,
): Promise<InstallManifest> {
  const gathered = await mkdtemp(join(options.modelsDir, `.${model.name}-pull-`));
  try {
    const records: DownloadRecord[] = [];
    for (const file of plan) {
      const path = join(cache, file.name);
      // A file a cut run finished already is not fetched again.
      const cached = existsSync(path) ? await digestsOf(path, file.digest.algorithm) : null;
      const sha256 = cached?.checked === file.digest.hex ? cached.sha256 : await download(file.url, path, file.digest, options.progress);
      records.push({ file: file.name, url: file.url, sha256, vouchedBy: file.digest.vouchedBy });
      if (archivePattern.test(path)) await extract(path, gathered);
      else await cp(path, join(gathered, file.name));
    }
    const manifest = await installModel(model, gathered, options.modelsDir, source.label, records);
    for (const file of plan) await rm(join(cache, file.name), { force: true });
    return manifest;
  } finally {
    await rm(gathered, { recursive: true, force: true });
  }
}
