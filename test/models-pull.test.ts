import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { timbreBin } from './process.js';
import { writeSyntheticPocketTts } from './synthetic/pocket-tts.js';

// `timbre models pull` against a loopback server that serves a synthetic Pocket TTS release
// archive (.tar.bz2, as upstream publishes it), well or badly.
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'timbre-pull-'));
const archive = join(scratch, 'sherpa-onnx-pocket-tts-int8-2026-01-26.tar.bz2');
let bytes: Buffer;
let sha256 = '';
let origin: Server;
let url = '';
/** How the server answers: whole, cut off halfway, or from a Range. */
let mode: 'good' | 'truncate' = 'good';
const ranges: string[] = [];

function timbre(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [timbreBin, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

before(async () => {
  const folder = join(scratch, 'release');
  writeSyntheticPocketTts(join(folder, 'sherpa-onnx-pocket-tts-int8-2026-01-26'));
  await tar.c({ file: join(scratch, 'release.tar'), cwd: folder }, ['sherpa-onnx-pocket-tts-int8-2026-01-26']);
  bytes = execFileSync('bzip2', ['-c', join(scratch, 'release.tar')], { maxBuffer: 1 << 26 });
  sha256 = createHash('sha256').update(bytes).digest('hex');
  origin = createServer((request, response) => {
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range) {
      ranges.push(request.headers.range!);
      const start = Number(range[1]);
      response.writeHead(206, { 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
      response.end(bytes.subarray(start));
      return;
    }
    response.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/x-bzip2' });
    if (mode === 'truncate') {
      response.write(bytes.subarray(0, bytes.length >> 1), () => response.destroy());
      return;
    }
    response.end(bytes);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/${archive.split('/').at(-1)}`;
});
after(() => {
  origin.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('timbre models pull: pinned checksum, resume, clear failures', () => {
  it('refuses to install without a sha256 to check against', async () => {
    const modelsDir = mkdtempSync(join(scratch, 'models-'));
    const refused = await timbre(['models', 'pull', 'pocket-tts', '--url', url, '--models-dir', modelsDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no pinned sha256 for http:\/\/127\.0\.0\.1:\d+\/.*pass --sha256 <hex>/);
    assert.equal(existsSync(join(modelsDir, 'pocket-tts')), false);
  });

  it('deletes a download whose checksum does not match, and installs nothing', async () => {
    const modelsDir = mkdtempSync(join(scratch, 'models-'));
    const refused = await timbre(['models', 'pull', 'pocket-tts', '--url', url, '--sha256', '0'.repeat(64), '--models-dir', modelsDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`sha256 ${sha256} does not match the pinned 0{64}; the download was deleted`));
    assert.equal(existsSync(join(modelsDir, '.downloads', `${archive.split('/').at(-1)}.part`)), false);
    assert.equal(existsSync(join(modelsDir, 'pocket-tts')), false);
  });

  it('reports a cut transfer (exit 5), then resumes it with a Range request and installs', async () => {
    const modelsDir = mkdtempSync(join(scratch, 'models-'));
    mode = 'truncate';
    const cut = await timbre(['models', 'pull', 'pocket-tts', '--url', url, '--sha256', sha256, '--models-dir', modelsDir]);
    assert.equal(cut.code, 5, cut.stderr);
    assert.match(cut.stderr, /broke off at \d+ of \d+ bytes.*run the same command again to resume/);
    const partial = join(modelsDir, '.downloads', `${archive.split('/').at(-1)}.part`);
    const kept = statSync(partial).size;
    assert.ok(kept > 0 && kept < bytes.length, `${kept} of ${bytes.length} bytes kept`);

    mode = 'good';
    const resumed = await timbre(['models', 'pull', 'pocket-tts', '--url', url, '--sha256', sha256, '--models-dir', modelsDir]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(ranges, [`bytes=${kept}-`]);
    assert.match(resumed.stdout, /installed pocket-tts in .*\(7 files checked\)/);
    const manifest = JSON.parse(readFileSync(join(modelsDir, 'pocket-tts', 'timbre-model.json'), 'utf8')) as { source: string };
    assert.equal(manifest.source, url);
    assert.equal(existsSync(partial), false, 'the download is removed once installed');
    const listed = JSON.parse((await timbre(['models', 'list', '--models-dir', modelsDir, '--json'])).stdout) as { engines: { name: string; installed: boolean }[] };
    assert.equal(listed.engines.find((engine) => engine.name === 'pocket-tts')!.installed, true);
  });

  it('says the server cannot be reached (exit 5) and how to install offline', async () => {
    const modelsDir = mkdtempSync(join(scratch, 'models-'));
    const down = await timbre(['models', 'pull', 'pocket-tts', '--url', 'http://127.0.0.1:9/x.tar.bz2', '--sha256', sha256, '--models-dir', modelsDir]);
    assert.equal(down.code, 5);
    assert.match(down.stderr, /cannot reach 127\.0\.0\.1:9 .*offline\? Install from disk instead: timbre models add/);
  });

  it('installs from the archive on disk too (models add --from archive)', async () => {
    const modelsDir = mkdtempSync(join(scratch, 'models-'));
    writeFileSync(archive, bytes);
    const added = await timbre(['models', 'add', 'pocket-tts', '--from', archive, '--models-dir', modelsDir]);
    assert.equal(added.code, 0, added.stderr);
    assert.ok(existsSync(join(modelsDir, 'pocket-tts', 'lm_main.int8.onnx')));
  });
});
