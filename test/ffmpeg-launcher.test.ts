import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeFile, decodeFolder, ffmpegPath } from '../src/audio/ffmpeg.js';
import { launcher } from '../src/audio/launcher.js';
import { AudioRejected } from '../src/errors.js';
import { audioPath } from './helpers.js';

// Uploads are decoded by an ffmpeg that a small helper process starts (launcher.ts): the same
// samples as ffmpeg run from here, no decoded audio left behind, and a helper that dies is
// replaced without failing more than the decodes it held.

/** ffmpeg run from this process, its output piped back: what the launcher's decode must equal. */
function decodeHere(file: string, rate: number): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-nostdin', '-v', 'error', '-i', file, '-ac', '1', '-ar', String(rate), '-f', 'f32le', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}`));
      const bytes = Buffer.concat(chunks);
      resolve(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length - (bytes.length % 4))));
    });
  });
}

const limits = { maxSeconds: 60.5, timeoutMs: 20_000 };

describe('decoding uploads through the launcher process', () => {
  it('gives the samples ffmpeg gives when run from the server, at each rate, and leaves no decoded file behind', async () => {
    for (const file of ['low.wav', 'low.mp3', 'low.m4a', 'human-fr.wav']) {
      const decoded = await decodeFile(audioPath(file), [24000, 16000], limits);
      for (const rate of [24000, 16000]) {
        const got = decoded.byRate.get(rate)!;
        assert.equal(got.sampleRate, rate);
        assert.ok(got.samples.length > rate, `${file} at ${rate} Hz: ${got.samples.length} samples`);
        assert.deepEqual(got.samples, await decodeHere(audioPath(file), rate), `${file} at ${rate} Hz`);
      }
      assert.ok(decoded.sourceSampleRate !== null && decoded.sourceSampleRate > 0, `${file}: source rate read from ffmpeg's log`);
    }
    assert.notEqual(launcher.pid, undefined);
    assert.notEqual(launcher.pid, process.pid);
    assert.deepEqual(await readdir(await decodeFolder()), []);
  });

  it('refuses what ffmpeg cannot decode, and audio that takes longer than the limit, leaving nothing behind', async () => {
    const notAudio = join(tmpdir(), `timbre-not-audio-${process.pid}.wav`);
    await writeFile(notAudio, 'RIFF....WAVEfmt this is not audio at all');
    try {
      await assert.rejects(decodeFile(notAudio, [16000], limits), (error: unknown) => error instanceof AudioRejected && /could not be decoded/.test(error.message));
    } finally {
      await rm(notAudio, { force: true });
    }
    await assert.rejects(decodeFile(audioPath('long.wav'), [24000, 16000], { maxSeconds: 60.5, timeoutMs: 1 }), (error: unknown) => error instanceof AudioRejected && /took longer than 1 ms/.test(error.message));
    assert.deepEqual(await readdir(await decodeFolder()), []);
  });

  it('replaces a launcher process that died: the decode it held fails, the next one works', async () => {
    await decodeFile(audioPath('short.wav'), [16000], limits);
    const first = launcher.pid!;
    const held = decodeFile(audioPath('long.wav'), [24000, 16000], limits);
    process.kill(first, 'SIGKILL');
    await assert.rejects(held, /the ffmpeg launcher process (exited|could not be reached)/);
    const after = await decodeFile(audioPath('low.wav'), [16000], limits);
    assert.ok(after.byRate.get(16000)!.samples.length > 16000);
    assert.notEqual(launcher.pid, first);
  });
});
