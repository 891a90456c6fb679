// The small process that starts ffmpeg for the server (see Launcher in launcher.ts). It
// imports nothing but node:child_process, so forking it, and its own forks, stay cheap.
import { spawn, type ChildProcess } from 'node:child_process';
import type { FromLauncher, ToLauncher } from './launcher.js';

const logLimitChars = 65536;
const running = new Set<ChildProcess>();

function answer(message: FromLauncher): void {
  process.send?.(message);
}

process.on('message', (message: ToLauncher) => {
  const { job, command, args, timeoutMs } = message;
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (log.length < logLimitChars) log += chunk.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  // A failed start may be followed by 'close' as well: answer once.
  let answered = false;
  const settle = (outcome: FromLauncher) => {
    clearTimeout(timer);
    running.delete(child);
    if (!answered) answer(outcome);
    answered = true;
  };
  child.on('error', (error) => settle({ job, outcome: 'failed', message: error.message }));
  child.on('close', (code, signal) => settle({ job, outcome: 'exited', code, signal, log }));
});

// The server went away: nothing is left to answer, and no output will be read.
process.on('disconnect', () => {
  for (const child of running) child.kill('SIGKILL');
  process.exit(0);
});
