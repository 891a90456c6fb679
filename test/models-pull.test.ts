import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { packageRoot } from '../src/paths.js';
import { audioPath, startTestServer } from './helpers.js';
import { timbreBin } from './process.js';
import { pocketFiles, writeSyntheticPocketTts } from './synthetic/pocket-tts.js';

// `timbre models pull` against loopback servers that behave like each publisher: a GitHub-style
// release API (an asset `digest`, a download URL that redirects to a second host), a Hugging
// Face-style resolve endpoint (X-Linked-Etag for LFS files, the git blob sha1 as ETag for the
// others, a redirect to its file host) and a PyPI-style JSON API, well or badly. The catalog
// is pointed at them through TIMBRE_MODEL_SOURCES, as an operator would point it at a mirror.
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'timbre-pull-'));
const archiveName = 'sherpa-onnx-pocket-tts-int8-2026-01-26.tar.bz2';
const hfRepo = 'csukuangfj2/sherpa-onnx-pocket-tts-int8-2026-01-26';
const wheelName = 'Resemblyzer-0.1.4-py3-none-any.whl';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const gitBlobSha1 = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');

let archive: Buffer;
/** The Pocket TTS files one by one, as the Hugging Face mirror holds them. */
const looseFiles = new Map<string, Buffer>();
let wheel: Buffer;

/** How each publisher behaves in the current test. */
const behaviour = {
  githubApi: 'good' as 'good' | 'no-digest' | 'wrong-digest' | 'down' | 'rate-limited' | 'no-release',
  huggingFace: 'good' as 'good' | 'missing',
  pypiDigest: 'right' as 'right' | 'wrong',
  /** 'missing': the JSON API answers 404, as on mirrors that serve only the simple index. */
  pypiJson: 'good' as 'good' | 'missing',
  /** Cut the next transfer of the archive halfway. */
  cutNextTransfer: false,
};
const ranges: string[] = [];
const rateLimitReset = Math.floor(Date.now() / 1000) + 1800;

let api: Server;
let githubSite: Server;
let fileHost: Server;
const origin = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
/** An address nothing listens on: a publisher that cannot be reached. */
const nowhere = 'http://127.0.0.1:9';

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** The file host: whole files, Range requests, and one cut transfer on demand. */
function serveFile(request: IncomingMessage, response: ServerResponse, bytes: Buffer): void {
  const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
  if (range) {
    ranges.push(request.headers.range!);
    const start = Number(range[1]);
    response.writeHead(206, { 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
    response.end(bytes.subarray(start));
    return;
  }
  response.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
  if (behaviour.cutNextTransfer) {
    behaviour.cutNextTransfer = false;
    response.write(bytes.subarray(0, bytes.length >> 1), () => response.destroy());
    return;
  }
  response.end(bytes);
}

function apiAnswer(request: IncomingMessage, response: ServerResponse): void {
  const path = new URL(request.url!, 'http://x').pathname;
  if (path === '/repos/k2-fsa/sherpa-onnx/releases/tags/tts-models') {
    if (behaviour.githubApi === 'down') return json(response, 503, { message: 'Service Unavailable' });
    if (behaviour.githubApi === 'no-release') return json(response, 404, { message: 'Not Found' });
    if (behaviour.githubApi === 'rate-limited') {
      return json(response, 403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(rateLimitReset) });
    }
    const digest = { good: `sha256:${sha256(archive)}`, 'no-digest': null, 'wrong-digest': `sha256:${'ab'.repeat(32)}` }[behaviour.githubApi];
    return json(response, 200, {
      tag_name: 'tts-models',
      assets: [
        { name: 'some-other-model.tar.bz2', browser_download_url: `${origin(githubSite)}/k2-fsa/sherpa-onnx/releases/download/tts-models/some-other-model.tar.bz2`, size: 1, digest: null },
        { name: archiveName, browser_download_url: `${origin(githubSite)}/k2-fsa/sherpa-onnx/releases/download/tts-models/${archiveName}`, size: archive.length, digest },
      ],
    });
  }
  const resolve = new RegExp(`^/${hfRepo}/resolve/main/(.+)$`).exec(path);
  if (resolve) {
    const bytes = looseFiles.get(resolve[1]!);
    if (!bytes || behaviour.huggingFace === 'missing') return json(response, 404, { error: 'Entry not found' });
    if (resolve[1]!.endsWith('.onnx')) {
      response.writeHead(302, { location: `${origin(fileHost)}/lfs/${resolve[1]}`, 'x-linked-etag': `"${sha256(bytes)}"`, 'x-linked-size': String(bytes.length), etag: `"${gitBlobSha1(Buffer.from('pointer'))}"` });
      response.end();
      return;
    }
    response.writeHead(200, { etag: `"${gitBlobSha1(bytes)}"`, 'content-length': bytes.length });
    response.end(request.method === 'HEAD' ? undefined : bytes);
    return;
  }
  if (path === '/simple/resemblyzer/') {
    if (request.headers.accept !== 'application/vnd.pypi.simple.v1+json') return json(response, 406, { message: 'ask for the JSON form' });
    return json(response, 200, {
      name: 'resemblyzer',
      files: [{ filename: wheelName, url: `${origin(fileHost)}/packages/${wheelName}`, size: wheel.length, hashes: { sha256: sha256(wheel) } }],
    });
  }
  if (path === '/pypi/resemblyzer/0.1.4/json') {
    if (behaviour.pypiJson === 'missing') return json(response, 404, { message: 'Not Found' });
    return json(response, 200, {
      info: { name: 'resemblyzer', version: '0.1.4' },
      urls: [{ filename: wheelName, url: `${origin(fileHost)}/packages/${wheelName}`, size: wheel.length, digests: { sha256: behaviour.pypiDigest === 'right' ? sha256(wheel) : 'cd'.repeat(32) } }],
    });
  }
  json(response, 404, { message: 'Not Found' });
}

async function listen(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

type Services = Partial<Record<'github-api' | 'github' | 'huggingface' | 'pypi', string>>;

function timbre(args: string[], services: Services = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const sources = { 'github-api': origin(api), github: origin(githubSite), huggingface: origin(api), pypi: origin(api), ...services };
  const env = { ...process.env, TIMBRE_MODEL_SOURCES: Object.entries(sources).map(([name, url]) => `${name}=${url}`).join(',') };
  return run(process.execPath, [timbreBin, ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

interface Manifest {
  source: string;
  files: Record<string, { sha256: string }>;
  downloads: { file: string; url: string; sha256: string; vouchedBy: string }[];
}
const manifestOf = (modelsDir: string, name: string) => JSON.parse(readFileSync(join(modelsDir, name, 'timbre-model.json'), 'utf8')) as Manifest;
const freshModels = () => mkdtempSync(join(scratch, 'models-'));

before(async () => {
  const folder = join(scratch, 'release');
  const bundle = join(folder, 'sherpa-onnx-pocket-tts-int8-2026-01-26');
  writeSyntheticPocketTts(bundle);
  for (const name of Object.values(pocketFiles)) looseFiles.set(name, readFileSync(join(bundle, name)));
  await tar.c({ file: join(scratch, 'release.tar'), cwd: folder }, ['sherpa-onnx-pocket-tts-int8-2026-01-26']);
  archive = execFileSync('bzip2', ['-c', join(scratch, 'release.tar')], { maxBuffer: 1 << 26 });
  wheel = readFileSync(audioPath(wheelName));
  fileHost = await listen((request, response) => {
    const path = new URL(request.url!, 'http://x').pathname;
    if (path === `/assets/${archiveName}`) return serveFile(request, response, archive);
    if (path === `/packages/${wheelName}`) return serveFile(request, response, wheel);
    const lfs = /^\/lfs\/(.+)$/.exec(path);
    if (lfs && looseFiles.has(lfs[1]!)) return serveFile(request, response, looseFiles.get(lfs[1]!)!);
    response.writeHead(404).end();
  });
  // As github.com does: a release download redirects to another host that holds the bytes.
  githubSite = await listen((request, response) => {
    if (request.url === `/k2-fsa/sherpa-onnx/releases/download/tts-models/${archiveName}`) {
      response.writeHead(302, { location: `${origin(fileHost)}/assets/${archiveName}` });
      response.end();
      return;
    }
    response.writeHead(404).end();
  });
  api = await listen(apiAnswer);
});
beforeEach(() => {
  Object.assign(behaviour, { githubApi: 'good', huggingFace: 'good', pypiDigest: 'right', pypiJson: 'good', cutNextTransfer: false });
  ranges.length = 0;
});
after(() => {
  for (const server of [api, githubSite, fileHost]) server.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('timbre models pull: verified against the digest each publisher states', () => {
  it('GitHub release: checks the archive against the release API digest, through the redirect, and records who vouched', async () => {
    const modelsDir = freshModels();
    const pulled = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stderr, /from GitHub release k2-fsa\/sherpa-onnx tts-models \(\d+\.\d MB\)/);
    assert.doesNotMatch(pulled.stderr, /--sha256/);
    const manifest = manifestOf(modelsDir, 'pocket-tts');
    assert.equal(manifest.source, 'GitHub release k2-fsa/sherpa-onnx tts-models');
    assert.deepEqual(manifest.downloads, [
      {
        file: archiveName,
        url: `${origin(githubSite)}/k2-fsa/sherpa-onnx/releases/download/tts-models/${archiveName}`,
        sha256: sha256(archive),
        vouchedBy: `${new URL(origin(api)).host} release API (k2-fsa/sherpa-onnx tts-models)`,
      },
    ]);
    assert.equal(manifest.files['lm_main.int8.onnx']!.sha256, sha256(looseFiles.get('lm_main.int8.onnx')!));
    const listed = await timbre(['models', 'list', '--models-dir', modelsDir]);
    assert.match(listed.stdout, /pocket-tts .*GitHub release k2-fsa\/sherpa-onnx tts-models +127\.0\.0\.1:\d+ release API/);
    assert.deepEqual(readdirSync(join(modelsDir, '.downloads')), [], 'the download is removed once installed');
  });

  it('deletes a download that does not match the stated digest, names both hashes, and installs nothing', async () => {
    const modelsDir = freshModels();
    behaviour.githubApi = 'wrong-digest';
    const refused = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`${archiveName}: its sha256 is ${sha256(archive)}, but 127\\.0\\.0\\.1:\\d+ release API \\(k2-fsa/sherpa-onnx tts-models\\) states ${'ab'.repeat(32)}; the download was deleted`));
    assert.equal(existsSync(join(modelsDir, '.downloads', `${archiveName}.part`)), false);
    assert.equal(existsSync(join(modelsDir, 'pocket-tts')), false);
  });

  it('falls back to the next source in order when the release API states no digest, and says which one served', async () => {
    const modelsDir = freshModels();
    behaviour.githubApi = 'no-digest';
    const pulled = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stderr, new RegExp(`from Hugging Face ${hfRepo}@main`));
    const manifest = manifestOf(modelsDir, 'pocket-tts');
    assert.equal(manifest.source, `Hugging Face ${hfRepo}@main`);
    const vouched = Object.fromEntries(manifest.downloads.map((record) => [record.file, record.vouchedBy]));
    assert.match(vouched['lm_main.int8.onnx']!, /^127\.0\.0\.1:\d+ X-Linked-Etag \(LFS sha256 of .*\/lm_main\.int8\.onnx\)$/);
    assert.match(vouched['vocab.json']!, /^127\.0\.0\.1:\d+ ETag \(git blob sha1 of .*\/vocab\.json\)$/);
    for (const record of manifest.downloads) assert.equal(record.sha256, sha256(looseFiles.get(record.file)!));
    assert.equal(Object.keys(manifest.files).length, 7);
  });

  it('refuses (exit 1) when no source states a digest, saying why, and never downloads an unverified file', async () => {
    const modelsDir = freshModels();
    behaviour.githubApi = 'no-digest';
    behaviour.huggingFace = 'missing';
    const refused = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`GitHub release k2-fsa/sherpa-onnx tts-models states no digest for ${archiveName}; 127\\.0\\.0\\.1:\\d+ answered HTTP 404 for ${hfRepo}/lm_flow\\.int8\\.onnx; pass --sha256 <hex> from a source you trust, or install from disk instead: timbre models add pocket-tts --from`));
    assert.equal(existsSync(join(modelsDir, '.downloads', archiveName)), false);
    assert.equal(existsSync(join(modelsDir, 'pocket-tts')), false);
  });

  it('with the release API down and the file host up: exit 5 saying so; with --sha256 it downloads from the file host', async () => {
    const modelsDir = freshModels();
    behaviour.githubApi = 'down';
    const down = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir], { huggingface: nowhere });
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, new RegExp(`127\\.0\\.0\\.1:\\d+ answered HTTP 503 for the release k2-fsa/sherpa-onnx tts-models, so nothing vouches for ${archiveName}; cannot reach 127\\.0\\.0\\.1:9`));
    assert.equal(existsSync(join(modelsDir, '.downloads', archiveName)), false);

    const trusted = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir, '--sha256', sha256(archive)], { huggingface: nowhere });
    assert.equal(trusted.code, 0, trusted.stderr);
    const [record] = manifestOf(modelsDir, 'pocket-tts').downloads;
    assert.equal(record!.url, `${origin(githubSite)}/k2-fsa/sherpa-onnx/releases/download/tts-models/${archiveName}`);
    assert.equal(record!.vouchedBy, '--sha256 given to models pull');
  });

  it('says when the API rate-limits this machine, with the reset time', async () => {
    const modelsDir = freshModels();
    behaviour.githubApi = 'rate-limited';
    const limited = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir], { huggingface: nowhere });
    assert.equal(limited.code, 5, limited.stderr);
    const reset = new Date(rateLimitReset * 1000).toISOString();
    assert.match(limited.stderr, new RegExp(`127\\.0\\.0\\.1:\\d+ is rate-limiting this machine's requests until ${reset.replace(/[.]/g, '\\.')} \\(in (29|30) min\\); run the same command again after that`));
  });

  it('reports a cut transfer (exit 5), then resumes it with a Range request through the redirect and installs', async () => {
    const modelsDir = freshModels();
    behaviour.cutNextTransfer = true;
    const cut = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir], { huggingface: nowhere });
    assert.equal(cut.code, 5, cut.stderr);
    assert.match(cut.stderr, /broke off at \d+ of \d+ bytes.*run the same command again to resume/);
    const partial = join(modelsDir, '.downloads', `${archiveName}.part`);
    const kept = statSync(partial).size;
    assert.ok(kept > 0 && kept < archive.length, `${kept} of ${archive.length} bytes kept`);

    const resumed = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir], { huggingface: nowhere });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(ranges, [`bytes=${kept}-`]);
    assert.match(resumed.stdout, /installed pocket-tts in .*\(7 files checked\)/);
    assert.equal(existsSync(partial), false);
  });

  it('PyPI: the JSON API names the file; this build\'s pinned sha256 wins over the digest it states', async () => {
    const stated = freshModels();
    const pulled = await timbre(['models', 'pull', 'speaker-encoder', '--models-dir', stated]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stderr, /from PyPI resemblyzer 0\.1\.4 \(15\.7 MB\)/);
    const [record] = manifestOf(stated, 'speaker-encoder').downloads;
    assert.equal(record!.url, `${origin(fileHost)}/packages/${wheelName}`);
    assert.equal(record!.vouchedBy, 'the sha256 pinned in this build of Timbre');

    behaviour.pypiDigest = 'wrong';
    const pinnedWins = await timbre(['models', 'pull', 'speaker-encoder', '--models-dir', freshModels()]);
    assert.equal(pinnedWins.code, 0, pinnedWins.stderr);
  });

  it('PyPI: where the JSON API answers 404, the simple index (PEP 691) names the file', async () => {
    behaviour.pypiJson = 'missing';
    const modelsDir = freshModels();
    const pulled = await timbre(['models', 'pull', 'speaker-encoder', '--models-dir', modelsDir]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(manifestOf(modelsDir, 'speaker-encoder').downloads[0]!.url, `${origin(fileHost)}/packages/${wheelName}`);
  });

  it('a mirror of the operator\'s own (--url) needs --sha256 when nothing pins the file', async () => {
    const modelsDir = freshModels();
    const url = `${origin(fileHost)}/assets/${archiveName}`;
    const refused = await timbre(['models', 'pull', 'pocket-tts', '--url', url, '--models-dir', modelsDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /states no digest for sherpa-onnx-pocket-tts-int8-2026-01-26\.tar\.bz2; pass --sha256 <hex>/);
    const pulled = await timbre(['models', 'pull', 'pocket-tts', '--url', url, '--sha256', sha256(archive), '--models-dir', modelsDir]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(manifestOf(modelsDir, 'pocket-tts').source, url);
  });

  it('installs from the archive on disk too (models add --from archive), and the list says so', async () => {
    const modelsDir = freshModels();
    const onDisk = join(scratch, archiveName);
    writeFileSync(onDisk, archive);
    const added = await timbre(['models', 'add', 'pocket-tts', '--from', onDisk, '--models-dir', modelsDir]);
    assert.equal(added.code, 0, added.stderr);
    assert.ok(existsSync(join(modelsDir, 'pocket-tts', 'lm_main.int8.onnx')));
    const listed = await timbre(['models', 'list', '--models-dir', modelsDir]);
    assert.match(listed.stdout, /pocket-tts .*installed from disk \(models add\)/);
  });

  it('refuses a malformed TIMBRE_MODEL_SOURCES, naming the services', async () => {
    const refused = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', freshModels()], { 'github-api': 'not-a-url' });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /TIMBRE_MODEL_SOURCES.*service one of github-api, github, huggingface, pypi/);
  });
});

describe("the README's three commands: pull, start, create and say", () => {
  it('speaks a cloned voice through the Pocket TTS it pulled', async () => {
    const modelsDir = freshModels();
    // The package's own models (Silero VAD, the recognizer) sit beside what is pulled, as in models/.
    const packageModels = join(packageRoot, 'models');
    for (const file of readdirSync(packageModels).filter((name) => name.endsWith('.onnx'))) symlinkSync(join(packageModels, file), join(modelsDir, file));
    const pulled = await timbre(['models', 'pull', 'pocket-tts', '--models-dir', modelsDir]);
    assert.equal(pulled.code, 0, pulled.stderr);
    const server = await startTestServer({ TIMBRE_MODELS_DIR: modelsDir, TIMBRE_NEURAL_THREADS: '1' });
    try {
      const client = { TIMBRE_URL: server.url, TIMBRE_API_KEY: server.key };
      const cli = (args: string[]) =>
        run(process.execPath, [timbreBin, ...args], { env: { ...process.env, ...client } }).then(
          ({ stdout }) => stdout,
          (error: { stderr: string }) => assert.fail(error.stderr),
        );
      const voice = (await cli(['voices', 'create', '--file', audioPath('human-en.wav'), '--name', 'me'])).trim();
      const output = join(scratch, 'hello.wav');
      const said = JSON.parse(await cli(['say', '--json', '--voice', voice, '-o', output, 'Hello, in my own voice.'])) as { engine: string; bytes: number };
      assert.equal(said.engine, 'pocket-tts');
      assert.ok(said.bytes > 24_000, `${said.bytes} bytes of speech`);
    } finally {
      await server.stop();
    }
  });
});

describe('timbre models pull on a machine without internet', () => {
  it('exits 5 naming the hosts it could not reach and models add --from, without asking for --sha256', async (context) => {
    const reachable = await fetch('https://api.github.com', { method: 'HEAD', signal: AbortSignal.timeout(5000) }).then(
      () => true,
      () => false,
    );
    if (reachable) return context.skip('this machine reaches api.github.com');
    const modelsDir = freshModels();
    const { TIMBRE_MODEL_SOURCES: _, ...env } = process.env;
    const down = await run(process.execPath, [timbreBin, 'models', 'pull', 'pocket-tts', '--models-dir', modelsDir], { env }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(down.code, 5, down.stderr);
    assert.equal(down.stderr.trim().split('\n').length, 1, down.stderr);
    assert.match(down.stderr, /^\s*timbre: cannot reach api\.github\.com nor huggingface\.co: is this host offline\? Install from disk instead: timbre models add pocket-tts --from <folder or archive>\n$/);
    assert.doesNotMatch(down.stderr, /--sha256/);
  });
});
