// Starts ffmpeg from a small helper process instead of the server's own. Spawning forks the
// caller, and forking a server of 400-500 MB (models loaded) copies its page tables: each
// spawn blocked the event loop for 8-12 ms and a 20 s upload's decode took 31-35 ms where the
// same decode from a bare process takes 15-21 (scratch timing, same machine). No library
// offers a spawn that avoids this (libuv forks on Linux), so this helper is hand-written.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A command to run to completion; its stdout is not read (write outputs to files). */
export interface ToLauncher {
  job: number;
  command: string;
  args: string[];
  /** Killed with SIGKILL after this long. */
  timeoutMs: number;
}

export type FromLauncher =
  | { job: number; outcome: 'exited'; code: number | null; signal: NodeJS.Signals | null; log: string }
  | { job: number; outcome: 'failed'; message: string };

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the command wrote to stderr (its first 64 KB). */
  log: string;
}

/**
 * The server's side of the helper: one process, started on first need (or by `start()` before
 * the models load, while the server is still small), started again if it dies. It does not
 * keep the server alive while idle, and exits when the server does (servers of one process share it).
 */
export class Launcher {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, { child: ChildProcess; resolve: (result: CommandResult) => void; reject: (error: Error) => void }>();
  private nextJob = 1;

  constructor(private readonly script: URL) {}

  /** The helper's process id while it runs (for operators and tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.child !== null) return;
    const child = fork(fileURLToPath(this.script), [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (message: FromLauncher) => {
      const waiting = this.pending.get(message.job);
      if (!waiting) return;
      this.pending.delete(message.job);
      this.holdOpen();
      if (message.outcome === 'failed') waiting.reject(new Error(`could not start the command: ${message.message}`));
      else waiting.resolve({ code: message.code, signal: message.signal, log: message.log });
    });
    const gone = () => {
      if (this.child === child) this.child = null;
      for (const [job, waiting] of this.pending) {
        if (waiting.child !== child) continue;
        this.pending.delete(job);
        waiting.reject(new Error('the ffmpeg launcher process exited'));
      }
    };
    child.on('exit', gone);
    child.on('error', gone);
    this.child = child;
    this.holdOpen();
  }

  run(command: string, args: string[], timeoutMs: number): Promise<CommandResult> {
    this.start();
    const child = this.child!;
    const job = this.nextJob++;
    return new Promise((resolve, reject) => {
      this.pending.set(job, { child, resolve, reject });
      this.holdOpen();
      const request: ToLauncher = { job, command, args, timeoutMs };
      child.send(request, (error) => {
        if (!error || !this.pending.has(job)) return;
        this.pending.delete(job);
        this.holdOpen();
        reject(new Error(`the ffmpeg launcher process could not be reached: ${error.message}`));
      });
    });
  }

  /** Keeps the server's event loop alive only while a command is running. */
  private holdOpen(): void {
    const child = this.child;
    if (!child) return;
    if (this.pending.size > 0) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }
}

/** The one helper of this process. */
export const launcher = new Launcher(new URL('./launcher-process.js', import.meta.url));
