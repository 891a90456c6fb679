import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeStream } from '../src/audio/encode.js';
import { decodeFile, decodeFolder, ffmpegPath } from '../src/audio/ffmpeg.js';
import { launcher } from '../src/audio/launcher.js';
import { AudioRejected } from '../src/errors.js';
import { audioPath } from './helpers.js';

// ffmpeg is started by a small helper process (launcher.ts). Uploads decoded through it give
// the samples ffmpeg run from here gives, and leave no decoded audio behind; encodes stream
// through it both ways under backpressure and end when their consumer stops; a helper that dies
// is replaced without failing more than the jobs it held.

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
    await assert.rejects(held, /the ffmpeg launcher process exited/);
    const after = await decodeFile(audioPath('low.wav'), [16000], limits);
    assert.ok(after.byRate.get(16000)!.samples.length > 16000);
    assert.notEqual(launcher.pid, first);
  });
});

const encodeRate = 24000;

/** 30 s of a deterministic signal (three partials and a little noise), in 0.2 s chunks. */
function testSignal(): Float32Array {
  const samples = new Float32Array(30 * encodeRate);
  let seed = 12345;
  for (let i = 0; i < samples.length; i += 1) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const t = i / encodeRate;
    samples[i] = 0.3 * Math.sin(2 * Math.PI * 220 * t) + 0.2 * Math.sin(2 * Math.PI * 1330 * t) + 0.1 * Math.sin(2 * Math.PI * 5100 * t) + 0.05 * (seed / 2147483648 - 0.5);
  }
  return samples;
}

async function* inChunks(samples: Float32Array, chunkSamples = encodeRate / 5): AsyncGenerator<Float32Array> {
  for (let start = 0; start < samples.length; start += chunkSamples) yield samples.subarray(start, start + chunkSamples);
}

describe('encoding through the launcher process', () => {
  it('relays every byte both ways while its consumer lags behind: 30 s to FLAC decodes back to the input', { timeout: 60_000 }, async () => {
    const input = testSignal();
    const parts: Buffer[] = [];
    for await (const part of encodeStream(inChunks(input), encodeRate, { format: 'flac', sampleRate: encodeRate })) {
      parts.push(part);
      // A slow consumer, so the helper is told to stop reading ffmpeg's output and to go on.
      if (parts.length < 40) await sleep(5);
    }
    const flac = join(tmpdir(), `timbre-relay-${process.pid}.flac`);
    await writeFile(flac, Buffer.concat(parts));
    try {
      const decoded = (await decodeFile(flac, [encodeRate], limits)).byRate.get(encodeRate)!.samples;
      assert.equal(decoded.length, input.length);
      let worst = 0;
      for (let i = 0; i < input.length; i += 1) worst = Math.max(worst, Math.abs(decoded[i]! - input[i]!));
      assert.ok(worst <= 1.5 / 32768, `largest difference ${worst} (16-bit FLAC)`);
    } finally {
      await rm(flac, { force: true });
    }
  });

  it('ends the command when the consumer stops early or aborts, and encodes again after', { timeout: 60_000 }, async () => {
    const input = testSignal();
    for await (const part of encodeStream(inChunks(input), encodeRate, { format: 'mp3', sampleRate: encodeRate })) {
      assert.ok(part.length > 0);
      break;
    }
    // Stopping after ffmpeg has finished, with its output waiting unread.
    for await (const part of encodeStream(inChunks(input.subarray(0, 3 * encodeRate)), encodeRate, { format: 'mp3', sampleRate: encodeRate })) {
      assert.ok(part.length > 0);
      await sleep(1000);
      break;
    }
    const abort = new AbortController();
    let received = 0;
    for await (const part of encodeStream(inChunks(input), encodeRate, { format: 'opus', sampleRate: encodeRate }, abort.signal)) {
      received += part.length;
      abort.abort();
    }
    assert.ok(received > 0);
    const parts: Buffer[] = [];
    for await (const part of encodeStream(inChunks(input.subarray(0, encodeRate)), encodeRate, { format: 'mp3', sampleRate: encodeRate })) parts.push(part);
    assert.ok(Buffer.concat(parts).length > 1000);
  });

  it('fails an encode whose launcher process dies, and encodes with the next one', { timeout: 60_000 }, async () => {
    async function* slowly(): AsyncGenerator<Float32Array> {
      for await (const chunk of inChunks(testSignal())) {
        yield chunk;
        await sleep(20);
      }
    }
    const encoding = (async () => {
      let first = true;
      for await (const _part of encodeStream(slowly(), encodeRate, { format: 'mp3', sampleRate: encodeRate })) {
        if (first) process.kill(launcher.pid!, 'SIGKILL');
        first = false;
      }
    })();
    await assert.rejects(encoding, /the ffmpeg launcher process exited/);
    const parts: Buffer[] = [];
    for await (const part of encodeStream(inChunks(testSignal().subarray(0, encodeRate)), encodeRate, { format: 'mp3', sampleRate: encodeRate })) parts.push(part);
    assert.ok(Buffer.concat(parts).length > 1000);
  });
});
