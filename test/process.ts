import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';

export const timbreBin = join(packageRoot, 'bin', 'timbre.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

const startLimitMs = 60_000;

/** Runs `timbre serve` as its own process and waits for the line that gives its address. */
export function spawnServer(args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [timbreBin, 'serve', '--port', '0', '--log-level', 'warn', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    // A server listens after 7-10 s on a quiet 2-core machine (it rehearses its synthesizers and
    // loads its models first); a loaded CI machine can take twice that. One that never starts is
    // stopped, so it does not outlive the test.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${startLimitMs / 1000} s: ${output}`));
    }, startLimitMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Timbre is serving at (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${output}`));
    });
  });
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
