import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { JobQueue } from '../../engines/queue.js';
import type { FromMoonshine, MoonshineFiles, ToMoonshine } from './moonshine-protocol.js';

/** Speech recognition for the reference-text check. */
export interface Transcriber {
  /** ISO 639-1 codes of the languages it recognises. */
  readonly languages: readonly string[];
  /** Text of mono 16 kHz speech (one utterance of at most ~20 s). */
  transcribe(samples16k: Float32Array): Promise<string>;
  close(): Promise<void>;
}

export const moonshineFileNames = { encoder: 'moonshine-tiny-encoder.onnx', decoder: 'moonshine-tiny-decoder.onnx' } as const;

/** Less than 10 ms of audio holds no word (and is shorter than the encoder's first kernel). */
const minimumSamples = 160;

/** Moonshine-tiny (English) on one worker thread; jobs beyond it wait in a bounded queue. */
export class MoonshineTranscriber implements Transcriber {
  readonly languages = ['en'] as const;
  private readonly worker: Worker;
  private readonly loaded: Promise<void>;
  private readonly pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  private readonly queue: JobQueue;
  private nextJob = 1;
  private closing = false;
  /** The job on the thread now: terminating a thread inside onnxruntime's native run is unsafe. */
  private running: Promise<string> | null = null;

  constructor(files: MoonshineFiles, threads: number, maxWaiting: number) {
    this.queue = new JobQueue(1, maxWaiting);
    this.worker = new Worker(new URL('./moonshine-worker.js', import.meta.url), { workerData: { files, threads } });
    this.worker.unref();
    this.loaded = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (message: FromMoonshine) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'load-failed') reject(new Error(`Moonshine could not be loaded: ${message.message}`));
        else this.settle(message);
      });
      this.worker.once('exit', () => {
        reject(new Error('the speech recognizer thread stopped'));
        if (this.closing) return;
        for (const job of this.pending.values()) job.reject(new Error('the speech recognizer thread stopped unexpectedly'));
        this.pending.clear();
      });
    });
    this.loaded.catch(() => undefined);
  }

  private settle(message: Extract<FromMoonshine, { job: number }>): void {
    const job = this.pending.get(message.job);
    if (!job) return;
    this.pending.delete(message.job);
    if (message.type === 'transcribed') job.resolve(message.text);
    else job.reject(new Error(`speech recognition failed: ${message.message}`));
  }

  async transcribe(samples16k: Float32Array): Promise<string> {
    // The encoder's first convolution needs a whole kernel; shorter input is an onnxruntime error, not silence.
    if (samples16k.length < minimumSamples) return '';
    const release = await this.queue.acquire();
    try {
      await this.loaded;
      const job = this.nextJob++;
      const samples = samples16k.slice();
      this.running = new Promise<string>((resolve, reject) => {
        this.pending.set(job, { resolve, reject });
        const request: ToMoonshine = { type: 'transcribe', job, samples };
        this.worker.postMessage(request, [samples.buffer]);
      });
      return await this.running;
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

/** Moonshine when `npm install` has unpacked it into `modelsDir`, else null (no text check). */
export function openMoonshine(modelsDir: string, threads: number, maxWaiting: number): MoonshineTranscriber | null {
  const files: MoonshineFiles = { encoder: join(modelsDir, moonshineFileNames.encoder), decoder: join(modelsDir, moonshineFileNames.decoder) };
  if (!existsSync(files.encoder) || !existsSync(files.decoder)) return null;
  return new MoonshineTranscriber(files, threads, maxWaiting);
}
