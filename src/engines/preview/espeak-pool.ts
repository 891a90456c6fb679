import { Worker } from 'node:worker_threads';
import type { VoiceStats } from '../../audio/analysis.js';
import type { Audio } from '../../audio/types.js';
import { ChunkStream } from '../chunk-stream.js';
import { JobQueue } from '../queue.js';
import type { EspeakSettings, FromWorker, ToWorker } from './espeak-protocol.js';
import type { SpectralCorrection } from './spectral-correction.js';

interface PooledWorker {
  worker: Worker;
  cancelFlag: Int32Array;
  ready: Promise<number>;
  busy: boolean;
  /** The job it is running, so a crash can fail that job instead of leaving it waiting. */
  job: number | null;
}

type JobListener = (message: FromWorker) => void;

/** espeak-ng worker threads behind one bounded queue. */
export class EspeakPool {
  private readonly workers: PooledWorker[];
  private closing = false;
  private readonly listeners = new Map<number, JobListener>();
  private nextJob = 1;
  readonly queue: JobQueue;

  constructor(threads: number, maxWaiting: number) {
    this.queue = new JobQueue(threads, maxWaiting);
    this.workers = Array.from({ length: threads }, () => this.spawn({ busy: false, job: null }));
  }

  /** Starts a thread into `slot` (a new slot, or one whose thread died). */
  private spawn(slot: Pick<PooledWorker, 'busy' | 'job'> & Partial<PooledWorker>): PooledWorker {
    const cancelBuffer = new SharedArrayBuffer(4);
    const worker = new Worker(new URL('./espeak-worker.js', import.meta.url), { workerData: { cancelBuffer } });
    worker.unref();
    const ready = new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      const onReady = (message: FromWorker) => {
        if (message.type === 'ready') {
          worker.off('message', onReady);
          resolve(message.sampleRate);
        }
      };
      worker.on('message', onReady);
    });
    worker.on('message', (message: FromWorker) => {
      if ('job' in message) this.listeners.get(message.job)?.(message);
    });
    const pooled = Object.assign(slot, { worker, cancelFlag: new Int32Array(cancelBuffer), ready }) as PooledWorker;
    ready.catch(() => undefined);
    // A dead worker fails its job and is replaced, so the pool keeps its size.
    worker.once('exit', () => {
      if (this.closing) return;
      if (pooled.job !== null) this.listeners.get(pooled.job)?.({ type: 'failed', job: pooled.job, message: 'the synthesizer thread stopped unexpectedly' });
      this.spawn(pooled);
    });
    worker.on('error', () => undefined);
    return pooled;
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Every thread has loaded espeak-ng. */
  async ready(): Promise<void> {
    await Promise.all(this.workers.map((pooled) => pooled.ready));
  }

  /** The synthesizer's native rate (all workers run the same build). */
  sampleRate(): Promise<number> {
    return this.workers[0]!.ready;
  }

  private async run<T>(signal: AbortSignal | undefined, body: (pooled: PooledWorker, job: number) => Promise<T>): Promise<T> {
    const release = await this.queue.acquire(signal);
    const pooled = this.workers.find((candidate) => !candidate.busy)!;
    pooled.busy = true;
    const job = this.nextJob++;
    pooled.job = job;
    try {
      await pooled.ready;
      Atomics.store(pooled.cancelFlag, 0, 0);
      return await body(pooled, job);
    } finally {
      this.listeners.delete(job);
      pooled.busy = false;
      pooled.job = null;
      release();
    }
  }

  /**
   * Sends one request (`transfer` moved with it) and settles on its one answer; `answer` gives
   * undefined for a message that is not that answer.
   */
  private request<T>(request: (job: number) => ToWorker, answer: (message: FromWorker) => T | undefined, transfer: ArrayBuffer[] = []): Promise<T> {
    return this.run(undefined, (pooled, job) =>
      new Promise<T>((resolve, reject) => {
        this.listeners.set(job, (message) => {
          const value = answer(message);
          if (value !== undefined) resolve(value);
          else if (message.type === 'failed') reject(new Error(message.message));
        });
        pooled.worker.postMessage(request(job), transfer);
      }),
    );
  }

  /** `request` with a copy of `audio`'s samples, transferred. */
  private requestWithAudio<T>(audio: Audio, request: (job: number, samples: Float32Array) => ToWorker, answer: (message: FromWorker) => T | undefined): Promise<T> {
    const samples = audio.samples.slice();
    return this.request((job) => request(job, samples), answer, [samples.buffer]);
  }

  /**
   * One thread reads `sentences` at `settings` and keeps nothing (a rehearsal for the JIT). Each
   * holds its thread to the end, so as many calls side by side as there are threads reach each one.
   */
  rehearse(sentences: string[], settings: EspeakSettings): Promise<void> {
    return this.request(
      (job) => ({ type: 'rehearse', job, sentences, settings }),
      (message) => (message.type === 'rehearsed' ? true : undefined),
    ).then(() => undefined);
  }

  analyse(audio: Audio): Promise<VoiceStats> {
    return this.requestWithAudio(
      audio,
      (job, samples) => ({ type: 'analyse', job, samples, sampleRate: audio.sampleRate }),
      (message) => (message.type === 'analysed' ? message.stats : undefined),
    );
  }

  /**
   * The spectral correction from espeak reading `text`'s first `correctedLength` characters
   * (whole sentences) at `settings` toward `reference`, its effect on the syllable rate read on
   * all of `text` (see spectral-correction.ts; null: too little speech), and the syllable rate
   * of espeak's reading of all of `text`, uncorrected.
   */
  correct(reference: Audio, text: string, correctedLength: number, settings: EspeakSettings): Promise<{ correction: SpectralCorrection | null; syllableRate: number }> {
    return this.requestWithAudio(
      reference,
      (job, samples) => ({ type: 'correct', job, reference: samples, sampleRate: reference.sampleRate, text, correctedLength, settings }),
      (message) => (message.type === 'corrected' ? { correction: message.correction, syllableRate: message.syllableRate } : undefined),
    );
  }

  /** Streams the synthesizer's chunks; on abort the worker stops at its next chunk. */
  async *synthesize(text: string, settings: EspeakSettings, signal?: AbortSignal): AsyncGenerator<Float32Array> {
    const stream = new ChunkStream();
    let cancel: () => void = () => undefined;
    let started!: () => void;
    const startedPromise = new Promise<void>((resolve) => {
      started = resolve;
    });
    const done = this.run(signal, (pooled, job) =>
      new Promise<void>((resolve) => {
        cancel = () => Atomics.store(pooled.cancelFlag, 0, 1);
        this.listeners.set(job, (message) => {
          if (message.type === 'chunk') stream.push(message.samples);
          if (message.type === 'done' || message.type === 'failed') {
            stream.end(message.type === 'failed' ? new Error(message.message) : null);
            resolve();
          }
        });
        const request: ToWorker = { type: 'synthesize', job, text, settings };
        pooled.worker.postMessage(request);
        started();
      }),
    );
    // A queue refusal (or an abort while waiting) surfaces here, before any chunk.
    await Promise.race([startedPromise, done]);
    const onAbort = () => cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      yield* stream.read(signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!stream.isEnded) cancel();
      await done.catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((pooled) => pooled.worker.terminate()));
  }
}
