import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resample } from '../../audio/encode.js';
import type { Audio } from '../../audio/types.js';
import type { Engine, LanguageCode, SynthesisOptions, VoicePrompt } from '../engine.js';
import { ChunkStream } from '../chunk-stream.js';
import { JobQueue } from '../queue.js';
import type { CatalogModel } from './catalog.js';
import { sherpa, type GenerationConfig, type OfflineTts } from './sherpa.js';

/** What a neural engine keeps per voice: the reference itself (the model encodes it at synthesis, cached by sherpa-onnx). */
export interface NeuralVoicePrompt extends VoicePrompt {
  /** 16-bit PCM at `sampleRate`, base64: the same bytes every time, so sherpa-onnx's embedding cache hits. */
  reference: string;
  sampleRate: number;
  referenceText: string | null;
}

export interface NeuralEngineOptions {
  /** The installed model's folder. */
  folder: string;
  /** onnxruntime threads per job. */
  numThreads: number;
  /** Jobs running at once on the one loaded model, and jobs that may wait. */
  concurrency: number;
  maxQueued: number;
  /** Voices whose encoded reference stays in memory (Pocket). */
  voiceCacheCapacity: number;
  /** Flow-matching steps. */
  numSteps: number;
}

/** The files of `model` under `folder`, by role; throws naming the first one missing. */
export function modelPaths(model: CatalogModel, folder: string): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const file of model.files) {
    const path = join(folder, file.file);
    if (!existsSync(path)) throw new Error(`${model.name}: ${file.file} is missing from ${folder} (reinstall with \`timbre models pull ${model.name}\` or \`timbre models add\`)`);
    paths[file.role] = path;
  }
  return paths;
}

function pcm16Base64(samples: Float32Array): string {
  const bytes = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i += 1) bytes.writeInt16LE(Math.round(Math.max(-1, Math.min(1, samples[i]!)) * 32767), i * 2);
  return bytes.toString('base64');
}

function floatsFromPcm16(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  const samples = new Float32Array(bytes.length >> 1);
  for (let i = 0; i < samples.length; i += 1) samples[i] = bytes.readInt16LE(i * 2) / 32768;
  return samples;
}

/**
 * An engine on one sherpa-onnx OfflineTts: loaded once, shared by every request, its jobs
 * queued and run on the libuv pool (never on the event loop), chunks streamed as the model
 * decodes them. Cancellation goes through the progress callback: terminating a native call
 * would abort the process.
 */
export abstract class SherpaEngine implements Engine {
  abstract readonly id: string;
  abstract readonly languages: readonly LanguageCode[];
  readonly queue: JobQueue;
  /** Decoded references by prompt, so a voice's bytes are decoded once while it is in use. */
  private readonly decoded = new Map<string, Float32Array>();

  protected constructor(
    protected readonly tts: OfflineTts,
    protected readonly options: NeuralEngineOptions,
  ) {
    this.queue = new JobQueue(options.concurrency, options.maxQueued);
  }

  get sampleRate(): number {
    return this.tts.sampleRate;
  }

  /** How many seconds of reference the model reads. */
  protected abstract readonly maxReferenceSeconds: number;

  /** Model-specific generation settings (the reference text for ZipVoice). */
  protected abstract generationExtras(voice: NeuralVoicePrompt): Partial<GenerationConfig>;

  async prepareVoice(reference: Audio, transcript: string | null, _language: LanguageCode | null): Promise<VoicePrompt> {
    const samples = reference.sampleRate === this.sampleRate ? reference.samples : await resample(reference, this.sampleRate);
    const kept = samples.subarray(0, Math.round(this.maxReferenceSeconds * this.sampleRate));
    const prompt: NeuralVoicePrompt = { engine: this.id, reference: pcm16Base64(kept), sampleRate: this.sampleRate, referenceText: transcript };
    return prompt;
  }

  private referenceOf(voice: NeuralVoicePrompt): Float32Array {
    let samples = this.decoded.get(voice.reference);
    if (!samples) {
      samples = floatsFromPcm16(voice.reference);
      // A handful of voices in use at once: drop the oldest beyond the embedding cache's size.
      if (this.decoded.size >= Math.max(1, this.options.voiceCacheCapacity)) this.decoded.delete(this.decoded.keys().next().value!);
      this.decoded.set(voice.reference, samples);
    }
    return samples;
  }

  async *synthesize(text: string, voice: VoicePrompt, options: SynthesisOptions = {}): AsyncGenerator<Float32Array> {
    if (voice.engine !== this.id) throw new Error(`voice was prepared for engine ${voice.engine}, not ${this.id}`);
    const prompt = voice as NeuralVoicePrompt;
    const release = await this.queue.acquire(options.signal);
    const stream = new ChunkStream();
    const gain = (options.volume ?? 50) / 50;
    const signal = options.signal;
    // Set when the consumer goes away (abort, or it stops reading): the model stops at its next chunk.
    let stopped = false;
    let generation: Promise<unknown>;
    try {
      generation = this.tts.generateAsync({
        text,
        generationConfig: new (sherpa().GenerationConfig)({
          speed: options.speechRate ?? 1,
          referenceAudio: this.referenceOf(prompt),
          referenceSampleRate: prompt.sampleRate,
          numSteps: this.options.numSteps,
          ...this.generationExtras(prompt),
        }),
        onProgress: ({ samples }) => {
          if (stopped || signal?.aborted) return false;
          // A copy: the native buffer is freed when this callback returns.
          const copy = samples.slice();
          if (gain !== 1) for (let i = 0; i < copy.length; i += 1) copy[i]! *= gain;
          stream.push(copy);
          return true;
        },
      });
    } catch (error) {
      release();
      throw error;
    }
    void generation
      .then(
        () => stream.end(),
        (error: unknown) => stream.end(error instanceof Error ? error : new Error(String(error))),
      )
      .finally(release);
    try {
      yield* stream.read(signal);
    } finally {
      // The native call ends at its next chunk (onProgress answers false); the queue slot is
      // freed then, not before.
      stopped = true;
    }
  }

  queueDepth(): { running: number; waiting: number } {
    return this.queue.depth();
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    // Let running jobs finish their native calls before the process may exit.
    while (this.queue.depth().running > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

