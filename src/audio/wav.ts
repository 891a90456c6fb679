import type { Audio } from './types.js';

/**
 * 16-bit PCM WAV. Hand-written: the format is a fixed 44-byte header, and spawning ffmpeg
 * for it would cost more than the rest of an enrollment.
 */
export function encodeWav(audio: Audio): Buffer {
  const pcm = Buffer.alloc(audio.samples.length * 2);
  for (let i = 0; i < audio.samples.length; i += 1) {
    const clamped = Math.max(-1, Math.min(1, audio.samples[i] ?? 0));
    pcm.writeInt16LE(Math.round(clamped * 32767), i * 2);
  }
  return wavFromPcm16(pcm, audio.sampleRate);
}

/** A WAV file around 16-bit little-endian mono PCM. */
export function wavFromPcm16(pcm: Buffer, sampleRate: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

/** Reads back what `encodeWav` wrote (16-bit mono PCM with a 44-byte header). */
export function decodeWav(wav: Buffer): Audio {
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 8, 12) !== 'WAVE' || wav.readUInt16LE(34) !== 16) {
    throw new Error('not a 16-bit PCM WAV written by Timbre');
  }
  const sampleRate = wav.readUInt32LE(24);
  const count = wav.readUInt32LE(40) / 2;
  const samples = new Float32Array(count);
  for (let i = 0; i < count; i += 1) samples[i] = wav.readInt16LE(44 + i * 2) / 32767;
  return { samples, sampleRate };
}
