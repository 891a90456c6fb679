import { ffmpegPath } from './ffmpeg.js';
import { launcher } from './launcher.js';
import { streamResampler } from './resampler.js';
import type { Audio } from './types.js';

/** What the synthesis APIs can send: raw 16-bit PCM, containers, and raw float for internal use. */
export const outputFormats = ['pcm', 'wav', 'mp3', 'opus', 'aac', 'flac', 'f32le'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export interface EncodeTarget {
  format: OutputFormat;
  sampleRate: number;
  /** Bits per second for mp3, opus and aac. */
  bitRate?: number;
}

export const mediaTypes: Record<OutputFormat, string> = {
  pcm: 'audio/pcm',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  opus: 'audio/ogg; codecs=opus',
  aac: 'audio/aac',
  flac: 'audio/flac',
  f32le: 'application/octet-stream',
};

/** libopus encodes only at these rates; other requested rates are encoded at 48 kHz (Ogg Opus decodes at 48 kHz anyway). */
const opusRates = new Set([8000, 12000, 16000, 24000, 48000]);

function outputArgs(target: EncodeTarget): string[] {
  const bitRate = target.bitRate ? ['-b:a', String(target.bitRate)] : [];
  switch (target.format) {
    case 'pcm':
      return ['-ar', String(target.sampleRate), '-c:a', 'pcm_s16le', '-f', 's16le'];
    case 'f32le':
      return ['-ar', String(target.sampleRate), '-f', 'f32le'];
    case 'wav':
      // On a pipe ffmpeg cannot go back to fill in the sizes; players read such a WAV to its end.
      return ['-ar', String(target.sampleRate), '-c:a', 'pcm_s16le', '-f', 'wav'];
    case 'mp3':
      return ['-ar', String(target.sampleRate), '-c:a', 'libmp3lame', ...bitRate, '-f', 'mp3'];
    case 'opus':
      return ['-ar', String(opusRates.has(target.sampleRate) ? target.sampleRate : 48000), '-c:a', 'libopus', ...bitRate, '-page_duration', '20000', '-f', 'ogg'];
    case 'aac':
      return ['-ar', String(target.sampleRate), '-c:a', 'aac', ...bitRate, '-f', 'adts'];
    case 'flac':
      return ['-ar', String(target.sampleRate), '-c:a', 'flac', '-f', 'flac'];
  }
}

/** Replaces NaN and infinities (lame asserts on them) and clamps to [-1, 1]. */
function sanitised(chunk: Float32Array): Float32Array {
  const out = new Float32Array(chunk.length);
  for (let i = 0; i < chunk.length; i += 1) {
    const sample = chunk[i]!;
    out[i] = sample > 1 ? 1 : sample < -1 ? -1 : sample === sample ? sample : 0;
  }
  return out;
}

/** 16-bit little-endian bytes of float samples (clamped; NaN as silence). */
function toPcm16(samples: Float32Array): Buffer {
  const bytes = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i += 1) {
    const sample = samples[i]!;
    const clamped = sample > 1 ? 1 : sample < -1 ? -1 : sample === sample ? sample : 0;
    bytes.writeInt16LE(Math.round(clamped * 32767), i * 2);
  }
  return bytes;
}

/** Raw PCM needs no codec: resampled in-process, so the first bytes leave at once. */
async function* rawStream(input: AsyncIterable<Float32Array>, inputRate: number, target: EncodeTarget, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const resampler = inputRate === target.sampleRate ? null : streamResampler(inputRate, target.sampleRate);
  const encoded = (samples: Float32Array): Buffer => {
    if (target.format === 'pcm') return toPcm16(samples);
    const clean = sanitised(samples);
    return Buffer.from(clean.buffer, clean.byteOffset, clean.byteLength);
  };
  for await (const chunk of input) {
    if (signal?.aborted) return;
    const converted = resampler ? resampler.process(chunk) : chunk;
    if (converted.length > 0) yield encoded(converted);
  }
  const tail = resampler?.finish();
  if (tail && tail.length > 0 && !signal?.aborted) yield encoded(tail);
}

/**
 * Streams mono float PCM into `target`: raw PCM in-process; every codec through one ffmpeg
 * process (started by the launcher process, its stdio relayed: see launcher.ts), yielding
 * bytes as ffmpeg writes them, with input written under backpressure and the process killed
 * when the consumer stops early (or `signal`). No temporary files.
 */
export async function* encodeStream(
  input: AsyncIterable<Float32Array>,
  inputRate: number,
  target: EncodeTarget,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  if (target.format === 'pcm' || target.format === 'f32le') {
    yield* rawStream(input, inputRate, target, signal);
    return;
  }
  const args = ['-nostdin', '-hide_banner', '-v', 'error', '-probesize', '32', '-analyzeduration', '0', '-f', 'f32le', '-ar', String(inputRate), '-ac', '1', '-i', 'pipe:0', '-ac', '1', ...outputArgs(target), '-flush_packets', '1', 'pipe:1'];
  const child = launcher.spawn(ffmpegPath, args);
  const output: Buffer[] = [];
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (log.length < 4096) log += chunk.toString('utf8');
  });
  child.stdout.on('data', (chunk: Buffer) => {
    output.push(chunk);
    // Backpressure towards ffmpeg: stop reading while the consumer has not caught up.
    if (output.length > 16) child.stdout.pause();
    notify();
  });
  const exited = new Promise<void>((resolve) => {
    child.on('close', (code, killSignal) => {
      if (code !== 0 && killSignal === null && failure === null) failure = new Error(`ffmpeg could not encode ${target.format}: ${log.trim() || `exit code ${code}`}`);
      ended = true;
      notify();
      resolve();
    });
  });
  child.on('error', (error) => {
    failure = error;
    ended = true;
    notify();
  });
  child.stdin.on('error', () => undefined);

  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (signal?.aborted || ended) break;
        const clean = sanitised(chunk);
        if (!child.stdin.write(Buffer.from(clean.buffer, clean.byteOffset, clean.byteLength))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              child.stdin.off('drain', done);
              child.off('close', done);
              resolve();
            };
            child.stdin.once('drain', done);
            child.once('close', done);
          });
        }
      }
      child.stdin.end();
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      child.kill('SIGKILL');
    }
  })();

  const onAbort = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const chunk = output.shift();
      if (chunk) {
        if (output.length <= 4) child.stdout.resume();
        yield chunk;
        continue;
      }
      if (failure) throw failure;
      if (ended || signal?.aborted) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!ended) child.kill('SIGKILL');
    await feeding;
    await exited;
  }
}

async function* single(samples: Float32Array): AsyncGenerator<Float32Array> {
  yield samples;
}

/** Whole-buffer encode: every byte of `audio` in `target`. */
export async function encodeAudio(audio: Audio, target: EncodeTarget): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of encodeStream(single(audio.samples), audio.sampleRate, target)) parts.push(part);
  return Buffer.concat(parts);
}

/** `audio` at another sample rate. */
export async function resample(audio: Audio, sampleRate: number): Promise<Float32Array> {
  if (audio.sampleRate === sampleRate) return audio.samples;
  const bytes = await encodeAudio(audio, { format: 'f32le', sampleRate });
  const samples = new Float32Array(Math.floor(bytes.length / 4));
  new Uint8Array(samples.buffer).set(bytes.subarray(0, samples.length * 4));
  return samples;
}
