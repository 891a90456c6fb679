// npm run bench:engines: the preview engine's real-time factor and time to first chunk,
// beside the bare synthesizer (no adaptation) measured in the same run.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import { collectAudio } from '../src/audio/types.js';
import { PreviewEngine } from '../src/engines/preview/preview-engine.js';
import { packageRoot } from '../src/paths.js';
import { percentile, printTable } from './stats.js';

const runs = Number(process.env.BENCH_RUNS ?? 20);
const text =
  'Please remember to water the plants on the balcony while I am away. The keys are in the blue bowl by the door, and the neighbours know you are coming on Friday.';
const cacheDir = join(packageRoot, 'test', '.audio', 'cache');
mkdirSync(cacheDir, { recursive: true });

function decode(file: string): Float32Array {
  const raw = execFileSync(ffmpegPath, ['-v', 'error', '-i', file, '-f', 'f32le', '-ac', '1', '-ar', '24000', 'pipe:1'], { maxBuffer: 1 << 28 });
  const samples = new Float32Array(raw.length / 4);
  new Uint8Array(samples.buffer).set(raw);
  return samples;
}

async function measure(stream: () => AsyncIterable<Float32Array>, sampleRate: number): Promise<{ first: number[]; rtf: number[] }> {
  const first: number[] = [];
  const rtf: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    let firstAt = NaN;
    let samples = 0;
    for await (const chunk of stream()) {
      if (Number.isNaN(firstAt)) firstAt = performance.now() - start;
      samples += chunk.length;
    }
    first.push(firstAt);
    rtf.push((performance.now() - start) / 1000 / (samples / sampleRate));
  }
  return { first, rtf };
}

const engine = await PreviewEngine.start({ threads: 1, maxQueued: 4, cacheDir });
try {
  await engine.ready();
  const prompt = await engine.prepareVoice({ samples: decode(join(packageRoot, 'test', '.audio', 'bench20.wav')), sampleRate: 24000 });
  // Warm both paths first, so neither pays the threads' first-use cost inside its figures.
  await collectAudio(engine.synthesizeBare(text), engine.sampleRate);
  await collectAudio(engine.synthesize(text, prompt, { language: 'en' }), engine.sampleRate);
  const bare = await measure(() => engine.synthesizeBare(text), engine.sampleRate);
  const adapted = await measure(() => engine.synthesize(text, prompt, { language: 'en' }), engine.sampleRate);
  const rows = [['preview engine, one thread', 'RTF p50', 'RTF p95', 'first chunk p50 ms', 'first chunk p95 ms']];
  for (const [label, result] of [['bare espeak-ng (baseline)', bare], ['adapted to the voice', adapted]] as const) {
    rows.push([label, percentile(result.rtf, 50).toFixed(4), percentile(result.rtf, 95).toFixed(4), percentile(result.first, 50).toFixed(1), percentile(result.first, 95).toFixed(1)]);
  }
  printTable(rows);
  const overhead = percentile(adapted.rtf, 50) / percentile(bare.rtf, 50) - 1;
  console.log(`\nadaptation overhead (RTF p50, adapted / bare - 1): ${(overhead * 100).toFixed(1)} %`);
} finally {
  await engine.close();
}
