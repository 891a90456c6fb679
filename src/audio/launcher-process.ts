// The small process that starts ffmpeg for the server (see Launcher in launcher.ts). It
// imports nothing but node:child_process, so forking it, and its own forks, stay cheap.
import { spawn, type ChildProcess } from 'node:child_process';
import type { FromLauncher, ToLauncher } from './launcher.js';

const logLimitChars = 65536;
const running = new Map<number, ChildProcess>();

function answer(message: FromLauncher): void {
  process.send?.(message);
}

/** Runs a command to completion: its exit and the first 64 KB of its stderr are answered. */
function run(job: number, command: string, args: string[], timeoutMs: number): void {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.set(job, child);
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (log.length < logLimitChars) log += chunk.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  settleOnce(job, child, () => clearTimeout(timer), () => log);
}

/** Starts a command whose stdin, stdout and stderr are relayed over IPC, chunk by chunk. */
function relay(job: number, command: string, args: string[]): void {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  running.set(job, child);
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (data: Buffer) => answer({ kind: 'stdout', job, data }));
  child.stderr.on('data', (data: Buffer) => answer({ kind: 'stderr', job, data }));
  settleOnce(job, child, () => undefined, () => '');
}

function settleOnce(job: number, child: ChildProcess, cleanUp: () => void, log: () => string): void {
  // A failed start may be followed by 'close' as well: answer once.
  let answered = false;
  const settle = (outcome: FromLauncher) => {
    cleanUp();
    running.delete(job);
    if (!answered) answer(outcome);
    answered = true;
  };
  child.on('error', (error) => settle({ kind: 'failed', job, message: error.message }));
  child.on('close', (code, signal) => settle({ kind: 'exited', job, code, signal, log: log() }));
}

process.on('message', (message: ToLauncher) => {
  switch (message.kind) {
    case 'run':
      return run(message.job, message.command, message.args, message.timeoutMs);
    case 'relay':
      return relay(message.job, message.command, message.args);
    case 'stdin': {
      const stdin = running.get(message.job)?.stdin;
      // The acknowledgement is the server's backpressure: it sends the next chunk after it.
      if (!stdin || stdin.destroyed) return answer({ kind: 'written', job: message.job, failed: true });
      stdin.write(message.data, (error) => answer({ kind: 'written', job: message.job, failed: Boolean(error) }));
      return;
    }
    case 'stdin-end':
      running.get(message.job)?.stdin?.end();
      return;
    case 'flow': {
      const stdout = running.get(message.job)?.stdout;
      if (message.flowing) stdout?.resume();
      else stdout?.pause();
      return;
    }
    case 'kill':
      running.get(message.job)?.kill(message.signal);
      return;
  }
});

// The server went away: nothing is left to answer, and no output will be read.
process.on('disconnect', () => {
  for (const child of running.values()) child.kill('SIGKILL');
  process.exit(0);
});
