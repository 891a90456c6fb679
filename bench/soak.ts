// A bounded soak: a server in its own process under a steady open-loop load of mixed list,
// create and delete requests on loopback; p99 latency and the server's RSS per interval.
// `npm run test:reliability` runs it for 10 minutes at 200 requests/s; `npm test` runs a short
// one (test/soak.test.ts). Settings: SOAK_SECONDS, SOAK_RATE, SOAK_CREATE_SHARE.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createBody, dataUrl, enrollmentPath, testCacheDir } from '../test/helpers.js';
import { spawnServer, stopProcess } from '../test/process.js';
import { percentile } from './stats.js';

export interface SoakInterval {
  second: number;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
}

export interface SoakResult {
  intervals: SoakInterval[];
  /** RSS after warm-up (half the run, at most a minute) and at the end. */
  startRssMb: number;
  endRssMb: number;
  p99Ms: number;
  achievedRate: number;
  errors: number;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

export async function soak(options: { seconds: number; rate: number; createShare: number; intervalSeconds?: number; log?: (line: string) => void }): Promise<SoakResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'timbre-soak-'));
  const server = await spawnServer(['--data-dir', dataDir], { TIMBRE_CACHE_DIR: testCacheDir, TIMBRE_VOICE_QUOTA: '100000' });
  const key = readFileSync(join(dataDir, 'default-api-key'), 'utf8').trim();
  const reference = dataUrl('five-seconds.wav');
  const intervalSeconds = options.intervalSeconds ?? 10;
  const created: string[] = [];
  const intervals: SoakInterval[] = [];
  let latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let totalErrors = 0;
  let inFlight = 0;
  const post = async (body: unknown): Promise<Record<string, any> | null> => {
    inFlight += 1;
    const start = performance.now();
    try {
      const response = await fetch(server.url + enrollmentPath, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const parsed = (await response.json()) as Record<string, any>;
      if (response.status !== 200) errors += 1;
      return response.status === 200 ? parsed : null;
    } catch {
      errors += 1;
      return null;
    } finally {
      latencies.push(performance.now() - start);
      requests += 1;
      inFlight -= 1;
    }
  };
  const one = async (index: number) => {
    const roll = (index * 0.6180339887) % 1;
    if (roll < options.createShare) {
      const answer = await post(createBody({ preferred_name: `s${index % 100000}` }, reference));
      if (answer) created.push(answer.output.voice);
    } else if (roll < options.createShare * 2 && created.length > 20) {
      await post({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice: created.shift() } });
    } else {
      await post({ model: 'qwen-voice-enrollment', input: { action: 'list', page_index: index % 3, page_size: 10 } });
    }
  };
  try {
    const started = performance.now();
    let sent = 0;
    let nextReport = intervalSeconds;
    while (performance.now() - started < options.seconds * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * options.rate);
      // Open loop: requests go out on schedule; a cap on requests in flight keeps a stalled
      // server from being buried (those count as not sent, and show in the achieved rate).
      while (sent < due && inFlight < 256) void one(sent++);
      if (sent < due) sent = due;
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed >= nextReport) {
        const interval = { second: Math.round(elapsed), requests, errors, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), rssMb: rssMb(server.child.pid!) };
        intervals.push(interval);
        options.log?.(`${String(interval.second).padStart(5)} s  ${String(requests).padStart(6)} requests  ${String(errors).padStart(3)} errors  p50 ${interval.p50Ms.toFixed(1)} ms  p99 ${interval.p99Ms.toFixed(1)} ms  RSS ${interval.rssMb.toFixed(0)} MB`);
        totalErrors += errors;
        latencies = [];
        requests = 0;
        errors = 0;
        nextReport += intervalSeconds;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    // The heap grows for the first minute (V8 sizing its young generation, pools filling) and
    // then holds: warm-up is the first half of a short run, the first minute of a long one.
    const afterWarmup = intervals[Math.max(0, Math.min(Math.floor(intervals.length / 2), Math.ceil(60 / intervalSeconds)) - 1)]!;
    const total = intervals.reduce((sum, interval) => sum + interval.requests, 0);
    return {
      intervals,
      startRssMb: afterWarmup.rssMb,
      endRssMb: intervals.at(-1)!.rssMb,
      p99Ms: Math.max(...intervals.map((interval) => interval.p99Ms)),
      achievedRate: total / (intervals.length * intervalSeconds),
      errors: totalErrors,
    };
  } finally {
    await stopProcess(server.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(process.env.SOAK_SECONDS ?? 600);
  const rate = Number(process.env.SOAK_RATE ?? 200);
  const createShare = Number(process.env.SOAK_CREATE_SHARE ?? 0.005);
  console.log(`soak: ${seconds} s at ${rate} requests/s (${(createShare * 100).toFixed(1)} % creates, as many deletes, the rest lists), server in its own process`);
  const result = await soak({ seconds, rate, createShare, log: (line) => console.log(line) });
  console.log(`\nachieved ${result.achievedRate.toFixed(0)} requests/s, ${result.errors} errors, worst interval p99 ${result.p99Ms.toFixed(1)} ms`);
  console.log(`server RSS after warm-up ${result.startRssMb.toFixed(0)} MB, at the end ${result.endRssMb.toFixed(0)} MB (${((result.endRssMb / result.startRssMb - 1) * 100).toFixed(1)} %)`);
  const flat = result.endRssMb <= result.startRssMb * 1.2 + 30;
  console.log(flat ? 'RSS stayed flat' : 'RSS grew');
  if (!flat || result.errors > 0) process.exitCode = 1;
}
