import { spawn } from 'node:child_process';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { AudioRejected } from '../errors.js';
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

function toFloat32(chunks: Buffer[]): Float32Array {
  const bytes = Buffer.concat(chunks);
  // Copy into an aligned buffer: Buffer.concat may return a slice at an odd offset.
  const samples = new Float32Array(Math.floor(bytes.length / 4));
  new Uint8Array(samples.buffer).set(bytes.subarray(0, samples.length * 4));
  return samples;
}

/**
 * Decodes an upload file to mono float at each of `rates`, in one ffmpeg run with one output
 * pipe per rate (stdout, then fd 3, 4, ...). Network protocols are off, and time and length
 * are capped.
 */
export function decodeFile(path: string, rates: number[], limits: DecodeLimits): Promise<DecodedUpload> {
  const args = ['-nostdin', '-hide_banner', '-v', 'info', '-protocol_whitelist', 'file,pipe', '-i', path];
  rates.forEach((rate, index) => {
    args.push('-map', '0:a:0', '-t', String(limits.maxSeconds), '-ac', '1', '-ar', String(rate), '-f', 'f32le', index === 0 ? 'pipe:1' : `pipe:${index + 2}`);
  });
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', ...rates.slice(1).map(() => 'pipe' as const)];
  const child = spawn(ffmpegPath, args, { stdio });
  const outputs = rates.map(() => [] as Buffer[]);
  rates.forEach((_, index) => {
    const stream = child.stdio[index === 0 ? 1 : index + 2];
    stream?.on('data', (chunk: Buffer) => outputs[index]?.push(chunk));
  });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (log.length < 65536) log += chunk.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), limits.timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') {
        reject(new AudioRejected('undecodable', `decoding the audio took longer than ${limits.timeoutMs} ms`));
        return;
      }
      if (code !== 0) {
        reject(new AudioRejected('undecodable', 'the audio could not be decoded: it is not valid wav, mp3 or m4a audio'));
        return;
      }
      const byRate = new Map<number, Audio>();
      rates.forEach((rate, index) => byRate.set(rate, { samples: toFloat32(outputs[index] ?? []), sampleRate: rate }));
      const rateMatch = /Stream #0:\d+.*?: Audio: [^\n]*?, (\d+) Hz/.exec(log);
      resolve({ byRate, sourceSampleRate: rateMatch ? Number(rateMatch[1]) : null });
    });
  });
}
