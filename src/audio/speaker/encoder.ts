// Who is speaking: Resemblyzer's GE2E voice encoder, run from the ONNX graph that
// `timbre models pull|add speaker-encoder` writes, with Resemblyzer's front end in TypeScript.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { JobQueue } from '../../engines/queue.js';
import { resample } from '../encode.js';
import type { Audio } from '../types.js';
import { SpeechDetector, type DetectorOptions } from '../vad.js';
import type { FromEncoder, ToEncoder } from './encoder-protocol.js';
import { cosine, keepVoiced, meanDirection, normalizeVolume, partialStarts, resemblyzerPartials, resemblyzerTrim, voicedWindows } from './frontend.js';
import { centredFrames, frameCount, resemblyzerMel } from './mel.js';

/** Where `models pull|add speaker-encoder` puts the graph. */
export const speakerEncoderFiles = { folder: 'speaker-encoder', graph: 'voice-encoder.onnx' } as const;

/** Resemblyzer's `audio_norm_target_dBFS`, raised to only. */
const targetDbfs = -30;

/**
 * Silero standing in for webrtcvad's aggressive mode: short pauses end a span, as webrtcvad's
 * 30 ms decisions do. Chosen by bench:speaker-equivalence (embeddings closest to Resemblyzer's).
 */
export const encoderTrimDetection: DetectorOptions = { threshold: 0.6, minSilenceSeconds: 0.05, minSpeechSeconds: 0.05 };

export interface EmbedOptions {
  /** Shorten long silences (Resemblyzer's preprocessing, with Silero VAD); false for audio already trimmed. */
  trimSilence?: boolean;
}

export interface SpeakerAnalysis {
  /** The utterance's embedding: the unit-length mean of its partials' (256 values). */
  embedding: Float32Array;
  /** Each 1.6 s partial utterance's embedding, in order. */
  partials: Float32Array[];
  /** The mel spectrogram the network saw, row-major [frames][40]. */
  mel: Float32Array;
  /** Seconds of audio left after silence trimming. */
  seconds: number;
}

/** Cosine similarity of two embeddings: near 1 for one speaker, lower for two. */
export function speakerSimilarity(a: Float32Array, b: Float32Array): number {
  return cosine(a, b);
}

export class SpeakerEncoder {
  private readonly worker: Worker;
  private readonly loaded: Promise<void>;
  private readonly pending = new Map<number, { resolve: (result: { partials: Float32Array; mel: Float32Array }) => void; reject: (error: Error) => void }>();
  private readonly queue: JobQueue;
  private nextJob = 1;
  private closing = false;
  /** The job on the thread now: terminating a thread inside onnxruntime's native run is unsafe. */
  private running: Promise<unknown> | null = null;

  private readonly detector: SpeechDetector;

  /** `vadModelPath`: Silero VAD, for the silence trimming. */
  constructor(modelPath: string, vadModelPath: string, threads: number, maxWaiting: number) {
    this.detector = new SpeechDetector(vadModelPath, 30, encoderTrimDetection);
    this.queue = new JobQueue(1, maxWaiting);
    this.worker = new Worker(new URL('./encoder-worker.js', import.meta.url), { workerData: { modelPath, threads } });
    this.worker.unref();
    this.loaded = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (message: FromEncoder) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'load-failed') reject(new Error(`the speaker encoder could not be loaded: ${message.message}`));
        else this.settle(message);
      });
      this.worker.once('exit', () => {
        reject(new Error('the speaker encoder thread stopped'));
        if (this.closing) return;
        for (const job of this.pending.values()) job.reject(new Error('the speaker encoder thread stopped unexpectedly'));
        this.pending.clear();
      });
    });
    this.loaded.catch(() => undefined);
  }

  private settle(message: Extract<FromEncoder, { job: number }>): void {
    const job = this.pending.get(message.job);
    if (!job) return;
    this.pending.delete(message.job);
    if (message.type === 'embedded') job.resolve(message);
    else job.reject(new Error(`speaker encoding failed: ${message.message}`));
  }

  /** Resemblyzer's preprocessing: 16 kHz, volume raised to -30 dBFS, long silences shortened. */
  async preprocess(audio: Audio, options: EmbedOptions = {}): Promise<Float32Array> {
    const samples = normalizeVolume(await resample(audio, resemblyzerMel.sampleRate), targetDbfs, true);
    if (options.trimSilence === false) return samples;
    const spans = this.detector.detect({ samples, sampleRate: resemblyzerMel.sampleRate });
    return keepVoiced(samples, voicedWindows(spans, samples.length, resemblyzerTrim), resemblyzerTrim);
  }

  /** The embedding of one utterance, with its partials: `preprocess_wav` then `embed_utterance`. */
  async analyse(audio: Audio, options: EmbedOptions = {}): Promise<SpeakerAnalysis> {
    const trimmed = await this.preprocess(audio, options);
    const { starts, paddedLength } = partialStarts(trimmed.length, resemblyzerPartials);
    const padded = new Float32Array(paddedLength);
    padded.set(trimmed);
    const frames = centredFrames(padded, resemblyzerMel);
    const partialFrames = new Int32Array(starts.length * resemblyzerPartials.partialFrames);
    starts.forEach((start, partial) => {
      for (let step = 0; step < resemblyzerPartials.partialFrames; step += 1) partialFrames[partial * resemblyzerPartials.partialFrames + step] = start + step;
    });
    const result = await this.run({ type: 'embed', job: 0, frames, frameCount: frameCount(padded.length, resemblyzerMel), partialFrames, partialCount: starts.length });
    const size = result.partials.length / starts.length;
    const partials = starts.map((_, index) => result.partials.slice(index * size, (index + 1) * size));
    return { embedding: meanDirection(partials), partials, mel: result.mel, seconds: trimmed.length / resemblyzerMel.sampleRate };
  }

  async embed(audio: Audio, options: EmbedOptions = {}): Promise<Float32Array> {
    return (await this.analyse(audio, options)).embedding;
  }

  private async run(request: ToEncoder): Promise<{ partials: Float32Array; mel: Float32Array }> {
    const release = await this.queue.acquire();
    try {
      await this.loaded;
      const job = this.nextJob++;
      const running = new Promise<{ partials: Float32Array; mel: Float32Array }>((resolve, reject) => {
        this.pending.set(job, { resolve, reject });
        this.worker.postMessage({ ...request, job }, [request.frames.buffer as ArrayBuffer, request.partialFrames.buffer as ArrayBuffer]);
      });
      this.running = running;
      return await running;
    } finally {
      this.running = null;
      release();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    // Terminating while onnxruntime is inside a native call (loading or running) aborts the process.
    await this.loaded.catch(() => undefined);
    await this.running?.catch(() => undefined);
    await this.worker.terminate();
  }
}

export function speakerEncoderPath(modelsDir: string): string {
  return join(modelsDir, speakerEncoderFiles.folder, speakerEncoderFiles.graph);
}

/** The encoder when `timbre models pull|add speaker-encoder` has installed it, else null. */
export function openSpeakerEncoder(modelsDir: string, threads: number, maxWaiting: number): SpeakerEncoder | null {
  const path = speakerEncoderPath(modelsDir);
  if (!existsSync(path)) return null;
  return new SpeakerEncoder(path, join(modelsDir, 'silero_vad.onnx'), threads, maxWaiting);
}
