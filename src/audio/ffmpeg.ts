import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { AudioRejected } from '../errors.js';
import { launcher } from './launcher.js';
import type { Audio } from './types.js';

/** The static ffmpeg shipped inside the npm package: no system install needed. */
export const ffmpegPath: string = ffmpegInstaller.path;

export interface DecodeLimits {
  /** Decoding stops here; a result this long means the source was at least this long. */
  maxSeconds: number;
  timeoutMs: number;
}

export interface DecodedUpload {
  /** The whole upload, mono, at each requested rate. */
  byRate: Map<number, Audio>;
  /** The source's own sample rate as ffmpeg reported it, when it did. */
  sourceSampleRate: number | null;
}

function toFloat32(bytes: Buffer): Float32Array {
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
  // Copy into an aligned buffer: a small Buffer may sit at an odd offset of its pool.
  const samples = new Float32Array(Math.floor(bytes.length / 4));
  new Uint8Array(samples.buffer).set(bytes.subarray(0, samples.length * 4));
  return samples;
}

/** A folder only this process's user can read (mode 0700), for decoded audio: made once, removed as the process exits. */
let privateFolder: Promise<string> | null = null;
export function decodeFolder(): Promise<string> {
  privateFolder ??= mkdtemp(join(tmpdir(), 'timbre-decode-')).then((folder) => {
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
    return folder;
  });
  return privateFolder;
}

/**
 * Decodes an upload file to mono float at each of `rates`, in one ffmpeg run with one output
 * file per rate (in a private temporary folder, removed once read: pages in the cache, never
 * written out). ffmpeg is started by the launcher process (see launcher.ts). Network
 * protocols are off, and time and length are capped.
 */
export async function decodeFile(path: string, rates: number[], limits: DecodeLimits): Promise<DecodedUpload> {
  const stem = join(await decodeFolder(), randomUUID());
  const outputs = rates.map((rate) => `${stem}-${rate}.f32`);
  const args = ['-nostdin', '-hide_banner', '-v', 'info', '-protocol_whitelist', 'file,pipe', '-i', path];
  rates.forEach((rate, index) => {
    args.push('-map', '0:a:0', '-t', String(limits.maxSeconds), '-ac', '1', '-ar', String(rate), '-f', 'f32le', '-y', outputs[index]!);
  });
  try {
    const { code, signal, log } = await launcher.run(ffmpegPath, args, limits.timeoutMs);
    if (signal === 'SIGKILL') throw new AudioRejected('undecodable', `decoding the audio took longer than ${limits.timeoutMs} ms`);
    if (code !== 0) throw new AudioRejected('undecodable', 'the audio could not be decoded: it is not valid wav, mp3 or m4a audio');
    const decoded = await Promise.all(outputs.map((output) => readFile(output)));
    const byRate = new Map<number, Audio>();
    rates.forEach((rate, index) => byRate.set(rate, { samples: toFloat32(decoded[index]!), sampleRate: rate }));
    const rateMatch = /Stream #0:\d+.*?: Audio: [^\n]*?, (\d+) Hz/.exec(log);
    return { byRate, sourceSampleRate: rateMatch ? Number(rateMatch[1]) : null };
  } finally {
    await Promise.all(outputs.map((output) => rm(output, { force: true })));
  }
}
