// Starts ffmpeg from a small helper process instead of the server's own. Spawning forks the
// caller, and forking a server of 400-500 MB (models loaded) copies its page tables: each
// spawn blocked the event loop for 8-12 ms and a 20 s upload's decode took 31-35 ms where the
// same decode from a bare process takes 15-21 (scratch timing, same machine). No library
// offers a spawn that avoids this (libuv forks on Linux), so this helper is hand-written.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** What the server asks of the helper. */
export type ToLauncher =
  /** A command to run to completion; its stdout is not read (write outputs to files). Killed with SIGKILL after `timeoutMs`. */
  | { kind: 'run'; job: number; command: string; args: string[]; timeoutMs: number }
  /** A command whose stdio is relayed (see RelayedProcess). */
  | { kind: 'relay'; job: number; command: string; args: string[] }
  | { kind: 'stdin'; job: number; data: Uint8Array }
  | { kind: 'stdin-end'; job: number }
  /** Stop or restart reading the command's stdout (the server's consumer is behind, or caught up). */
  | { kind: 'flow'; job: number; flowing: boolean }
  | { kind: 'kill'; job: number; signal: NodeJS.Signals };

export type FromLauncher =
  | { kind: 'exited'; job: number; code: number | null; signal: NodeJS.Signals | null; log: string }
  | { kind: 'failed'; job: number; message: string }
  | { kind: 'stdout' | 'stderr'; job: number; data: Uint8Array }
  /** A stdin chunk was handed to the command (or could not be). */
  | { kind: 'written'; job: number; failed: boolean };

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the command wrote to stderr (its first 64 KB). */
  log: string;
}

/** One job's side in the server: told of each message for it, and of the helper's death. */
interface JobHandler {
  helper: ChildProcess;
  receive(message: FromLauncher): void;
  helperExited(): void;
}

const helperExitedError = () => new Error('the ffmpeg launcher process exited');

/**
 * A command run by the helper with its stdin, stdout and stderr relayed over IPC: the part of
 * ChildProcess that a streaming encode uses (stdio streams, kill, 'error' and 'close'). stdin
 * sends a chunk once the helper has handed the previous one to the command, and stdout asks the
 * helper to stop reading while its consumer is behind, so backpressure reaches the command.
 * 'close' comes once the command has exited and stdout has been read to its end.
 */
export class RelayedProcess extends EventEmitter {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private stdoutFlowing = true;
  private killed = false;
  /** Callbacks of stdin chunks sent and not yet acknowledged, oldest first. */
  private readonly unacknowledged: ((error?: Error) => void)[] = [];

  constructor(private readonly send: (message: ToLauncher) => void, private readonly job: number) {
    super();
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.exit) return callback(new Error('the command has exited'));
        this.unacknowledged.push(callback);
        this.send({ kind: 'stdin', job, data: chunk });
      },
      final: (callback) => {
        if (!this.exit) this.send({ kind: 'stdin-end', job });
        callback();
      },
    });
    this.stdout = new Readable({
      read: () => {
        if (this.stdoutFlowing || this.exit) return;
        this.stdoutFlowing = true;
        this.send({ kind: 'flow', job, flowing: true });
      },
    });
    this.stderr = new Readable({ read: () => undefined });
    // As a child process's: after the command has exited and its stdout has been read to the end
    // (or dropped, once killed).
    this.stdout.on('close', () => this.emit('close', this.exit?.code ?? null, this.exit?.signal ?? null));
  }

  receive(message: FromLauncher): void {
    switch (message.kind) {
      case 'stdout':
        if (!this.stdout.push(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)) && this.stdoutFlowing) {
          this.stdoutFlowing = false;
          this.send({ kind: 'flow', job: this.job, flowing: false });
        }
        return;
      case 'stderr':
        this.stderr.push(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength));
        return;
      case 'written':
        this.unacknowledged.shift()?.(message.failed ? new Error('the command did not take its input') : undefined);
        return;
      case 'failed':
        this.finish({ code: null, signal: null }, new Error(message.message));
        return;
      case 'exited':
        this.finish({ code: message.code, signal: message.signal }, null);
        return;
    }
  }

  helperExited(): void {
    this.finish({ code: null, signal: null }, helperExitedError());
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exit) {
      // The command has ended but its last output waits unread: drop it, so 'close' comes.
      this.stdout.destroy();
      return false;
    }
    this.killed = true;
    this.send({ kind: 'kill', job: this.job, signal });
    return true;
  }

  private finish(exit: { code: number | null; signal: NodeJS.Signals | null }, error: Error | null): void {
    if (this.exit) return;
    this.exit = exit;
    for (const callback of this.unacknowledged.splice(0)) callback(new Error('the command has exited'));
    if (error) this.emit('error', error);
    this.stderr.push(null);
    this.stdout.push(null);
    // Nobody reads what a killed command wrote last.
    if (this.killed || error) this.stdout.destroy();
  }
}

/**
 * The server's side of the helper: one process, started on first need (or by `start()` before
 * the models load, while the server is still small), started again if it dies. It does not
 * keep the server alive while idle, and exits when the server does (servers of one process share it).
 */
export class Launcher {
  private helper: ChildProcess | null = null;
  private readonly jobs = new Map<number, JobHandler>();
  private nextJob = 1;

  constructor(private readonly script: URL) {}

  /** The helper's process id while it runs (for operators and tests). */
  get pid(): number | undefined {
    return this.helper?.pid;
  }

  start(): ChildProcess {
    if (this.helper !== null) return this.helper;
    // 'advanced' serialization sends relayed chunks as bytes, not as JSON arrays of numbers.
    const helper = fork(fileURLToPath(this.script), [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    helper.on('message', (message: FromLauncher) => this.jobs.get(message.job)?.receive(message));
    const gone = () => {
      if (this.helper === helper) this.helper = null;
      for (const [job, handler] of this.jobs) {
        if (handler.helper !== helper) continue;
        this.jobs.delete(job);
        handler.helperExited();
      }
      this.holdOpen();
    };
    helper.on('exit', gone);
    helper.on('error', gone);
    this.helper = helper;
    this.holdOpen();
    return helper;
  }

  /** Runs a command to completion. */
  run(command: string, args: string[], timeoutMs: number): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const job = this.add((helper) => ({
        helper,
        receive: (message) => {
          if (message.kind !== 'exited' && message.kind !== 'failed') return;
          this.remove(job);
          if (message.kind === 'failed') reject(new Error(`could not start the command: ${message.message}`));
          else resolve({ code: message.code, signal: message.signal, log: message.log });
        },
        helperExited: () => reject(helperExitedError()),
      }));
      this.send({ kind: 'run', job, command, args, timeoutMs });
    });
  }

  /** Starts a command with its stdio relayed (see RelayedProcess). */
  spawn(command: string, args: string[]): RelayedProcess {
    let relayed: RelayedProcess | null = null;
    const job = this.add((helper) => ({
      helper,
      receive: (message) => {
        relayed!.receive(message);
        if (message.kind === 'exited' || message.kind === 'failed') this.remove(job);
      },
      helperExited: () => relayed!.helperExited(),
    }));
    relayed = new RelayedProcess((message) => this.send(message), job);
    this.send({ kind: 'relay', job, command, args });
    return relayed;
  }

  private add(handlerFor: (helper: ChildProcess) => JobHandler): number {
    const job = this.nextJob++;
    this.jobs.set(job, handlerFor(this.start()));
    this.holdOpen();
    return job;
  }

  private remove(job: number): void {
    this.jobs.delete(job);
    this.holdOpen();
  }

  private send(message: ToLauncher): void {
    const handler = this.jobs.get(message.job);
    if (!handler) return;
    handler.helper.send(message, (error) => {
      if (!error || this.jobs.get(message.job) !== handler) return;
      this.remove(message.job);
      handler.helperExited();
    });
  }

  /** Keeps the server's event loop alive only while a command is running. */
  private holdOpen(): void {
    const helper = this.helper;
    if (!helper) return;
    if (this.jobs.size > 0) {
      helper.ref();
      helper.channel?.ref();
    } else {
      helper.unref();
      helper.channel?.unref();
    }
  }
}

/** The one helper of this process. */
export const launcher = new Launcher(new URL('./launcher-process.js', import.meta.url));
