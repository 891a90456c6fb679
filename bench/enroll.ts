// npm run bench:enroll: create latency for 20 s WAV and MP3 data URLs and list throughput,
// each beside a baseline measured in the same run on the same machine; and the 20 s WAV create
// on a second server without the speaker encoder (what its one-voice check costs). Each create
// is timed on a quiet server: the engine's analysis that follows it (in the background, after
// the answer) is waited for, untimed, before the next one. Creates are sent and timed from a
// client thread (see client-thread.ts). The baseline's ffmpeg is spawned from this process,
// which hosts the server with its models loaded, so each spawn pays the fork of a large process;
// a second row gives each create against the same decode started from the launcher process.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTimbre } from '../src/app.js';
import { decodeFile, ffmpegPath } from '../src/audio/ffmpeg.js';
import { loadConfig } from '../src/config.js';
import { packageRoot } from '../src/paths.js';
import { ClientThread } from './client-thread.js';
import { percentile, printTable, timeEach } from './stats.js';

const audio = (name: string) => join(packageRoot, 'test', '.audio', name);
const creates = Number(process.env.BENCH_CREATES ?? 30);
const lists = Number(process.env.BENCH_LISTS ?? 2000);

function ffmpegDecode(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-nostdin', '-v', 'error', '-i', file, '-ac', '1', '-ar', '24000', '-f', 'f32le', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'timbre-bench-'));
const config = loadConfig({ TIMBRE_DATA_DIR: dataDir, PORT: '0' });
const running = await startTimbre(config, { logger: pino({ level: 'silent' }) });
await running.engine.ready();
const endpoint = `${running.url}/api/v1/services/audio/tts/customization`;
const headers = { authorization: `Bearer ${running.defaultKey}`, 'content-type': 'application/json' };

/** A request from this thread (lists: they start no work after answering). */
async function call(body: string): Promise<void> {
  const response = await fetch(endpoint, { method: 'POST', headers, body });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
}
const client = new ClientThread();

type Server = Awaited<ReturnType<typeof startTimbre>>;

/** `creates` creates of a registered body, each timed by the client thread, each on a quiet server. */
async function timeCreates(server: Server, bodyName: string): Promise<number[]> {
  const url = `${server.url}/api/v1/services/audio/tts/customization`;
  const sent = { ...headers, authorization: `Bearer ${server.defaultKey}` };
  await client.post(url, sent, bodyName); // warm-up
  await server.prompts.drain();
  const times: number[] = [];
  for (let i = 0; i < creates; i += 1) {
    times.push(await client.post(url, sent, bodyName));
    await server.prompts.drain();
  }
  return times;
}

/** The same server on a models folder holding everything but the speaker encoder. */
async function startWithoutEncoder(): Promise<Server> {
  const modelsDir = join(dataDir, 'models-without-encoder');
  mkdirSync(modelsDir);
  for (const file of ['silero_vad.onnx', 'moonshine-tiny-encoder.onnx', 'moonshine-tiny-decoder.onnx']) symlinkSync(join(config.modelsDir, file), join(modelsDir, file));
  const server = await startTimbre(loadConfig({ TIMBRE_DATA_DIR: join(dataDir, 'without-encoder'), TIMBRE_MODELS_DIR: modelsDir, PORT: '0' }), { logger: pino({ level: 'silent' }) });
  await server.engine.ready();
  return server;
}

try {
  const rows = [['measure', 'p50 ms', 'p95 ms', 'p99 ms', 'baseline p50 ms', 'ratio p50']];
  for (const [file, mediatype] of [['bench20.wav', 'audio/wav'], ['bench20.mp3', 'audio/mpeg']] as const) {
    const body = JSON.stringify({
      model: 'qwen-voice-enrollment',
      input: { action: 'create', target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: 'bench', audio: { data: `data:${mediatype};base64,${readFileSync(audio(file)).toString('base64')}` } },
    });
    client.register(file, body);
    const createTimes = await timeCreates(running, file);
    const decodeTimes = await timeEach(creates, () => ffmpegDecode(audio(file)));
    // The same decode started from the small launcher process, as the server now starts it:
    // without the fork of this large process, which the first baseline pays.
    const launchedTimes = await timeEach(creates, async () => void (await decodeFile(audio(file), [24000], { maxSeconds: 60.5, timeoutMs: 20_000 })));
    const baselines = {
      spawned: { label: 'ffmpeg decode alone', times: decodeTimes },
      launched: { label: 'the same from the launcher', times: launchedTimes },
    };
    const row = (label: string, times: number[], baseline: keyof typeof baselines = 'spawned') => [
      label,
      percentile(times, 50).toFixed(1),
      percentile(times, 95).toFixed(1),
      percentile(times, 99).toFixed(1),
      `${percentile(baselines[baseline].times, 50).toFixed(1)} (${baselines[baseline].label})`,
      (percentile(times, 50) / percentile(baselines[baseline].times, 50)).toFixed(2),
    ];
    const label = `create, 20 s ${file.split('.')[1]} data URL${running.speakerEncoder ? ' (speaker encoder installed)' : ''}`;
    rows.push(row(label, createTimes), row(`${label}, against a small process's decode`, createTimes, 'launched'));
    if (file.endsWith('.wav') && running.speakerEncoder) {
      const without = await startWithoutEncoder();
      try {
        rows.push(row('create, 20 s wav data URL, no speaker encoder', await timeCreates(without, file)));
      } finally {
        await without.close();
      }
    }
  }
  const listBody = JSON.stringify({ model: 'qwen-voice-enrollment', input: { action: 'list', page_size: 10, page_index: 0 } });
  const listTimes = await timeEach(lists, () => call(listBody));
  const healthTimes = await timeEach(lists, async () => {
    await (await fetch(`${running.url}/healthz`)).arrayBuffer();
  });
  rows.push([
    `list, page of 10 (of ${2 * creates + 2} voices)`,
    percentile(listTimes, 50).toFixed(2),
    percentile(listTimes, 95).toFixed(2),
    percentile(listTimes, 99).toFixed(2),
    `${percentile(healthTimes, 50).toFixed(2)} (GET /healthz)`,
    (percentile(listTimes, 50) / percentile(healthTimes, 50)).toFixed(2),
  ]);
  const listSeconds = listTimes.reduce((sum, time) => sum + time, 0) / 1000;
  const healthSeconds = healthTimes.reduce((sum, time) => sum + time, 0) / 1000;
  printTable(rows);
  console.log(`\nlist throughput, one client: ${(lists / listSeconds).toFixed(0)} req/s; /healthz baseline ${(lists / healthSeconds).toFixed(0)} req/s (ratio ${(healthSeconds / listSeconds).toFixed(2)})`);
} finally {
  await client.close();
  await running.close();
  rmSync(dataDir, { recursive: true, force: true });
}
