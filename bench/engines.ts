// npm run bench:engines: the preview engine's real-time factor and time to first chunk,
// beside the bare synthesizer (no adaptation) measured in the same run; then each neural
// engine beside calling sherpa-onnx directly with the same model. Neural weights are installed
// from the models folder (TIMBRE_MODELS_DIR) when present; otherwise a synthetic Pocket TTS
// model (random weights, the real contract) is generated, and the figures measure Timbre's
// overhead only.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectAudio } from '../src/audio/types.js';
import { ChunkStream } from '../src/engines/chunk-stream.js';
import { catalogModel } from '../src/engines/neural/catalog.js';
import { installedModels } from '../src/engines/neural/installed.js';
import { PocketEngine } from '../src/engines/neural/pocket-engine.js';
import { ZipVoiceEngine } from '../src/engines/neural/zipvoice-engine.js';
import { modelPaths } from '../src/engines/neural/sherpa-engine.js';
import { sherpa } from '../src/engines/neural/sherpa.js';
import { PreviewEngine } from '../src/engines/preview/preview-engine.js';
import { writeSyntheticPocketTts } from '../test/synthetic/pocket-tts.js';
import { writeSyntheticZipVoice } from '../test/synthetic/zipvoice.js';
import { packageRoot } from '../src/paths.js';
import { decodeRecording } from './reference-audio.js';
import { percentile, printTable } from './stats.js';

const runs = Number(process.env.BENCH_RUNS ?? 20);
const benchText =
  'Please remember to water the plants on the balcony while I am away. The keys are in the blue bowl by the door, and the neighbours know you are coming on Friday.';
const cacheDir = join(packageRoot, 'test', '.audio', 'cache');
mkdirSync(cacheDir, { recursive: true });

async function measure(stream: () => AsyncIterable<Float32Array>, sampleRate: number, times = runs): Promise<{ first: number[]; rtf: number[] }> {
  const first: number[] = [];
  const rtf: number[] = [];
  for (let i = 0; i < times; i += 1) {
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
  const prompt = await engine.prepareVoice(decodeRecording(join(packageRoot, 'test', '.audio', 'bench20.wav')));
  // Warm both paths first, so neither pays the threads' first-use cost inside its figures.
  await collectAudio(engine.synthesizeBare(benchText), engine.sampleRate);
  await collectAudio(engine.synthesize(benchText, prompt, { language: 'en' }), engine.sampleRate);
  const bare = await measure(() => engine.synthesizeBare(benchText), engine.sampleRate);
  const adapted = await measure(() => engine.synthesize(benchText, prompt, { language: 'en' }), engine.sampleRate);
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

await benchNeural('pocket-tts');
await benchNeural('zipvoice');

async function benchNeural(name: 'pocket-tts' | 'zipvoice'): Promise<void> {
  const modelsDir = process.env.TIMBRE_MODELS_DIR;
  const installed = modelsDir ? installedModels(modelsDir).find((entry) => entry.model.name === name) : undefined;
  let folder = installed?.folder;
  if (!folder) {
    folder = mkdtempSync(join(tmpdir(), `timbre-bench-${name}-`));
    if (name === 'pocket-tts') writeSyntheticPocketTts(folder);
    // Its lexicon holds the words of the reference's transcript, so none goes through espeak.
    else writeSyntheticZipVoice(folder, 2, readFileSync(join(packageRoot, 'test', '.audio', 'passage.txt'), 'utf8').split(/[^A-Za-z]+/));
  }
  const threads = availableParallelism();
  const options = { folder, numThreads: threads, concurrency: 1, maxQueued: 4, voiceCacheCapacity: 50, numSteps: 5 };
  const engine = name === 'pocket-tts' ? await PocketEngine.load(options) : await ZipVoiceEngine.load(options);
  // The same model loaded again, called directly: the baseline.
  const paths = modelPaths(catalogModel(name)!, folder);
  const direct = await sherpa().OfflineTts.createAsync({
    model: { [name === 'pocket-tts' ? 'pocket' : 'zipvoice']: name === 'pocket-tts' ? { ...paths, voiceEmbeddingCacheCapacity: 50 } : paths, numThreads: threads, provider: 'cpu', debug: false },
    maxNumSentences: 1,
  });
  const reference = decodeRecording(join(packageRoot, 'test', '.audio', 'bench20.wav'));
  const referenceText = readFileSync(join(packageRoot, 'test', '.audio', 'passage.txt'), 'utf8').trim().toLowerCase();
  const prompt = await engine.prepareVoice(reference, referenceText, 'en');
  const keptSeconds = name === 'pocket-tts' ? 10 : 20;
  const referenceAudio = reference.samples.subarray(0, keptSeconds * 24000);
  const extras = name === 'pocket-tts' ? { extra: { max_reference_audio_len: 10 } } : { referenceText };
  // The synthetic ZipVoice lexicon holds a few lowercase words; others go through espeak and
  // are dropped (with a log line each), so its text uses those words.
  const text = name === 'pocket-tts' || installed ? benchText : 'the small train crossed the valley slowly, carrying wood and letters to the villages beyond the hills. good morning, this is my voice, and it speaks from the reference.';
  const directStream = (): AsyncGenerator<Float32Array> => {
    const stream = new ChunkStream();
    void direct
      .generateAsync({
        text,
        generationConfig: new (sherpa().GenerationConfig)({ speed: 1, referenceAudio, referenceSampleRate: 24000, numSteps: 5, ...extras }),
        onProgress: ({ samples }) => {
          stream.push(samples.slice());
          return true;
        },
      })
      .finally(() => stream.end());
    return stream.read();
  };
  await collectAudio(directStream(), 24000);
  await collectAudio(engine.synthesize(text, prompt, {}), 24000);
  // Alternated run by run, so drift in the machine's load falls on both alike.
  const baseline = { first: [] as number[], rtf: [] as number[] };
  const ours = { first: [] as number[], rtf: [] as number[] };
  for (let i = 0; i < runs; i += 1) {
    for (const [into, stream] of [
      [baseline, directStream],
      [ours, () => engine.synthesize(text, prompt, {})],
    ] as const) {
      const one = await measure(stream, 24000, 1);
      into.first.push(...one.first);
      into.rtf.push(...one.rtf);
    }
  }
  const rows = [[`${name} (${installed ? 'installed weights' : 'SYNTHETIC model: overhead only'}, ${threads} threads)`, 'RTF p50', 'RTF p95', 'first chunk p50 ms', 'first chunk p95 ms']];
  for (const [label, result] of [['sherpa-onnx directly (baseline)', baseline], [`Timbre ${name} engine`, ours]] as const) {
    rows.push([label, percentile(result.rtf, 50).toFixed(4), percentile(result.rtf, 95).toFixed(4), percentile(result.first, 50).toFixed(1), percentile(result.first, 95).toFixed(1)]);
  }
  console.log('');
  printTable(rows);
  const overhead = percentile(ours.rtf, 50) / percentile(baseline.rtf, 50) - 1;
  console.log(`\nTimbre's overhead on ${name} (RTF p50, engine / direct - 1): ${(overhead * 100).toFixed(1)} %${installed ? '' : ' (synthetic weights: this measures the engine wrapper, not speech quality or real model speed)'}`);
  await engine.close();
}
