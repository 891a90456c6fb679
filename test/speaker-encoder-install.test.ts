// `timbre models pull|add|list speaker-encoder`: Resemblyzer's real wheel (fetched by the test
// setup), served from loopback as PyPI's file host would, or read from disk; bad inputs refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { packageRoot } from '../src/paths.js';
import { audioPath } from './helpers.js';
import { timbreBin } from './process.js';

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'timbre-encoder-install-'));
const wheelName = 'Resemblyzer-0.1.4-py3-none-any.whl';
const wheel = readFileSync(audioPath(wheelName));
const installedManifest = JSON.parse(readFileSync(join(packageRoot, 'models', 'speaker-encoder', 'timbre-model.json'), 'utf8')) as { files: Record<string, { sha256: string }> };
let origin: Server;
let url = '';

function timbre(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [timbreBin, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

const manifestOf = (modelsDir: string) => JSON.parse(readFileSync(join(modelsDir, 'speaker-encoder', 'timbre-model.json'), 'utf8')) as { source: string; files: Record<string, { sha256: string }> };

before(async () => {
  origin = createServer((request, response) => {
    const body = request.url?.endsWith('/damaged.whl') ? wheel.subarray(0, wheel.length >> 1) : wheel;
    response.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    response.end(body);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});
after(() => {
  origin.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('models pull speaker-encoder: the pinned wheel, converted to ONNX', () => {
  it('downloads the wheel, checks its pinned sha256, converts the checkpoint, and lists the encoder', async () => {
    const modelsDir = join(scratch, 'pulled');
    const pulled = await timbre(['models', 'pull', 'speaker-encoder', '--models-dir', modelsDir, '--url', `${url}/${wheelName}`, '--json']);
    assert.equal(pulled.code, 0, pulled.stderr);
    const manifest = manifestOf(modelsDir);
    assert.equal(manifest.files['pretrained.pt']!.sha256, '39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e');
    assert.equal(manifest.files['voice-encoder.onnx']!.sha256, installedManifest.files['voice-encoder.onnx']!.sha256, 'the conversion is deterministic');
    const listed = JSON.parse((await timbre(['models', 'list', '--models-dir', modelsDir, '--json'])).stdout) as { engines: { name: string; installed: boolean; serves: string[] }[] };
    const encoder = listed.engines.find((row) => row.name === 'speaker-encoder')!;
    assert.equal(encoder.installed, true);
    assert.deepEqual(encoder.serves, ['speaker similarity, consent verification']);
    assert.ok(listed.engines.filter((row) => row.name !== 'speaker-encoder' && row.name !== 'preview').every((row) => !row.installed), 'it is not an engine');
  });

  it('refuses a download whose sha256 is not the pinned one, and deletes it', async () => {
    const modelsDir = join(scratch, 'mismatch');
    const refused = await timbre(['models', 'pull', 'speaker-encoder', '--models-dir', modelsDir, '--url', `${url}/damaged.whl`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /damaged\.whl: its sha256 is [0-9a-f]{64}, but the sha256 pinned in this build of Timbre states 8f12eb2f[0-9a-f]{56}; the download was deleted/);
  });
});

describe('models add speaker-encoder --from: offline', () => {
  it('installs from the wheel on disk, and from the pretrained.pt inside it, to the same graph', async () => {
    const fromWheel = join(scratch, 'from-wheel');
    assert.equal((await timbre(['models', 'add', 'speaker-encoder', '--from', audioPath(wheelName), '--models-dir', fromWheel])).code, 0);
    const checkpoint = join(scratch, 'weights.pt');
    writeFileSync(checkpoint, unzipSync(wheel, { filter: (member) => member.name === 'resemblyzer/pretrained.pt' })['resemblyzer/pretrained.pt']!);
    const fromCheckpoint = join(scratch, 'from-pt');
    assert.equal((await timbre(['models', 'add', 'speaker-encoder', '--from', checkpoint, '--models-dir', fromCheckpoint])).code, 0);
    assert.equal(manifestOf(fromWheel).files['voice-encoder.onnx']!.sha256, installedManifest.files['voice-encoder.onnx']!.sha256);
    assert.equal(manifestOf(fromCheckpoint).files['voice-encoder.onnx']!.sha256, installedManifest.files['voice-encoder.onnx']!.sha256);
  });

  it('refuses what is not Resemblyzer\'s checkpoint, saying why', async () => {
    const notCheckpoint = join(scratch, 'notes.pt');
    writeFileSync(notCheckpoint, 'hello');
    const refused = await timbre(['models', 'add', 'speaker-encoder', '--from', notCheckpoint, '--models-dir', join(scratch, 'bad')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /pretrained\.pt cannot be converted: not a PyTorch checkpoint/);
    const truncated = join(scratch, 'cut.pt');
    const whole = unzipSync(wheel, { filter: (member) => member.name === 'resemblyzer/pretrained.pt' })['resemblyzer/pretrained.pt']!;
    writeFileSync(truncated, whole.subarray(0, whole.length - 1000));
    const cut = await timbre(['models', 'add', 'speaker-encoder', '--from', truncated, '--models-dir', join(scratch, 'cut')]);
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /cannot be converted: the checkpoint is truncated/);
    const damaged = join(scratch, 'damaged.whl');
    writeFileSync(damaged, wheel.subarray(0, 5000));
    const unreadable = await timbre(['models', 'add', 'speaker-encoder', '--from', damaged, '--models-dir', join(scratch, 'damaged')]);
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.stderr, /damaged\.whl could not be unpacked/);
  });
});
