// One model on a worker thread of its own: onnxruntime-node's `run()` and sherpa-onnx's VAD
// block the thread they are called on, so models that listen (the recognizer, the speaker
// encoder, the VAD) run here, one job at a time, with a bounded queue in front.
import { parentPort, Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { JobQueue } from '../engines/queue.js';

/** Messages from the thread: loaded, or not; each job's result, or its failure. */
export type FromModelThread<Result> =
  | { type: 'ready' }
  | { type: 'load-failed'; message: string }
  | { type: 'done'; job: number; result: Result }
  | { type: 'failed'; job: number; message: string };

export interface ToModelThread<Request> {
  job: number;
  request: Request;
}

/**
 * The caller's side: posts jobs to the thread at `script` and settles them as answers come. A
 * thread that stops after loading its model (an uncaught error in it, or its exit) fails the job
 * it had and is replaced, as the synthesizer pool replaces its threads: the model stays usable
 * and the server keeps serving.
 */
export class ModelThread<Request, Result> {
  private worker!: Worker;
  private loaded!: Promise<void>;
  private readonly pending = new Map<number, { resolve: (result: Result) => void; reject: (error: Error) => void }>();
  private readonly queue: JobQueue;
  private nextJob = 1;
  private closing = false;
  /** The job on the thread now: terminating a thread inside onnxruntime's native run is unsafe. */
  private running: Promise<Result> | null = null;
  private isLoaded = false;
  /** Jobs asked for and not yet answered: while there are any, the thread keeps the process alive. */
  private outstanding = 0;

  /** `what` names the model in errors ("Moonshine", "the speaker encoder"). */
  constructor(
    private readonly script: URL,
    private readonly workerData: unknown,
    maxWaiting: number,
    private readonly what: string,
  ) {
    this.queue = new JobQueue(1, maxWaiting);
    this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(this.script, { workerData: this.workerData });
    if (this.outstanding === 0) worker.unref();
    this.worker = worker;
    this.isLoaded = false;
    let uncaught: string | null = null;
    this.loaded = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromModelThread<Result>) => {
        if (message.type === 'ready') {
          this.isLoaded = true;
          resolve();
        }
        else if (message.type === 'load-failed') reject(new Error(`${this.what} could not be loaded: ${message.message}`));
        else this.settle(message);
      });
      // An error thrown on the thread outside a job ends it ('exit' follows). Unheard, Node
      // rethrows it on this thread, and the whole server stops.
      worker.on('error', (error) => {
        uncaught = error.message;
      });
      worker.once('exit', () => {
        const cause = uncaught ? `: ${uncaught}` : '';
        reject(new Error(`the ${this.what} thread stopped${cause}`));
        if (this.closing) return;
        for (const job of this.pending.values()) job.reject(new Error(`the ${this.what} thread stopped unexpectedly${cause}`));
        this.pending.clear();
        // `isLoaded` still tells of this thread (only `spawn` resets it). A thread that could not
        // load its model is not started again: it would fail again.
        if (this.isLoaded) this.spawn();
      });
    });
    this.loaded.catch(() => undefined);
  }

  private settle(message: Extract<FromModelThread<Result>, { job: number }>): void {
    const job = this.pending.get(message.job);
    if (!job) return;
    this.pending.delete(message.job);
    if (message.type === 'done') job.resolve(message.result);
    else job.reject(new Error(`${this.what} failed: ${message.message}`));
  }

  /** Runs one job once the thread is free; `transfer` hands buffers over instead of copying them. */
  run(request: Request, transfer: ArrayBuffer[] = []): Promise<Result> {
    // A free, loaded thread is given the job within this call, with no await before it: a caller
    // that goes on with work of its own (a create cutting its reference after starting the
    // one-voice check) has the model running meanwhile, not after that work.
    const release = this.isLoaded ? this.queue.tryAcquire() : null;
    this.holdProcess(1);
    const answer = release ? this.post(request, transfer, release) : this.runWhenFree(request, transfer);
    return answer.finally(() => this.holdProcess(-1));
  }

  /**
   * An idle thread does not keep the process from exiting; one with jobs to answer does (also
   * while a replacement loads, when nothing else may be holding the event loop open).
   */
  private holdProcess(change: 1 | -1): void {
    this.outstanding += change;
    if (this.outstanding === 0) this.worker.unref();
    else this.worker.ref();
  }

  private async runWhenFree(request: Request, transfer: ArrayBuffer[]): Promise<Result> {
    const release = await this.queue.acquire();
    try {
      await this.loaded;
    } catch (error) {
      release();
      throw error;
    }
    return this.post(request, transfer, release);
  }

  private async post(request: Request, transfer: ArrayBuffer[], release: () => void): Promise<Result> {
    try {
      const job = this.nextJob++;
      this.running = new Promise<Result>((resolve, reject) => {
        this.pending.set(job, { resolve, reject });
        this.worker.postMessage({ job, request } satisfies ToModelThread<Request>, transfer);
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

/** onnxruntime options for a model on its own thread: `threads` of its own, which do not spin. */
export function modelThreadSessionOptions(threads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // onnxruntime's pool otherwise busy-waits after each job, taking a core from the synthesizers.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/**
 * The thread's side: loads the model with `load`, then answers each job with the function it
 * returned (its result, and buffers to transfer back).
 */
export function serveModelThread<Request, Result>(load: () => Promise<(request: Request) => Promise<{ result: Result; transfer?: ArrayBuffer[] }>>): void {
  const port = parentPort!;
  const post = (message: FromModelThread<Result>, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  load().then(
    (handle) => {
      port.on('message', ({ job, request }: ToModelThread<Request>) => {
        handle(request).then(
          ({ result, transfer }) => post({ type: 'done', job, result }, transfer),
          (error: unknown) => post({ type: 'failed', job, message: error instanceof Error ? error.message : String(error) }),
        );
      });
      post({ type: 'ready' });
    },
    (error: unknown) => post({ type: 'load-failed', message: error instanceof Error ? error.message : String(error) }),
  );
}
