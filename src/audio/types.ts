/** Audio inside the process: mono float samples in [-1, 1] at a sample rate. */
export interface Audio {
  samples: Float32Array;
  sampleRate: number;
}

export function durationSeconds(audio: Audio): number {
  return audio.samples.length / audio.sampleRate;
}

/** `parts` one after another in one array. */
export function joinSamples(parts: readonly Float32Array[]): Float32Array<ArrayBuffer> {
  const samples = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    samples.set(part, offset);
    offset += part.length;
  }
  return samples;
}

/** Joins chunks (as engines stream them) into one Audio. */
export async function collectAudio(chunks: AsyncIterable<Float32Array>, sampleRate: number): Promise<Audio> {
  const parts: Float32Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return { samples: joinSamples(parts), sampleRate };
}
