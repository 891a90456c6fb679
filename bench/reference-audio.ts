import { execFileSync } from 'node:child_process';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import type { Audio } from '../src/audio/types.js';

/** A test recording decoded by ffmpeg to mono float samples at `sampleRate`. */
export function decodeRecording(file: string, sampleRate = 24000): Audio {
  const raw = execFileSync(ffmpegPath, ['-v', 'error', '-i', file, '-f', 'f32le', '-ac', '1', '-ar', String(sampleRate), 'pipe:1'], { maxBuffer: 1 << 28 });
  const samples = new Float32Array(raw.length / 4);
  new Uint8Array(samples.buffer).set(raw);
  return { samples, sampleRate };
}
