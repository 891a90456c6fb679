// npm run bench:synthesis: time to first audio and real-time factor over HTTP, SSE and the
// realtime WebSocket, and 1/4/8 concurrent realtime sessions with underruns counted, each
// beside calling the engine directly in the same run (the baseline); then a fresh install (a
// new data dir and an empty cache): its first create and its first audio, beside its second,
// and a synthesis sent right after a create (it waits for the voice's analysis).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import { PreviewEngine } from '../src/engines/preview/preview-engine.js';
import { normaliseText } from '../src/speech/normalise.js';
import { splitSentences } from '../src/speech/sentences.js';
import { packageRoot } from '../src/paths.js';
import { spawnServer, stopProcess } from '../test/process.js';
import { percentile, printTable } from './stats.js';

const runs = Number(process.env.BENCH_RUNS ?? 10);
const text = 'The ferry leaves at noon from the north pier. Bring a warm coat, because the wind on the water is cold, and we will not be back before dark.';
const paragraph = Array.from({ length: 3 }, () => text).join(' ');
const audioDir = join(packageRoot, 'test', '.audio');
const cacheDir = join(audioDir, 'cache');
const dataDir = mkdtempSync(join(tmpdir(), 'timbre-bench-'));
// The server runs as its own process, as in production: clients in this process do not
// share its event loop.
const server = await spawnServer(['--data-dir', dataDir, '--cache-dir', cacheDir, '--rate-limit-per-minute', '100000', '--engine-queue', '64']);
const serverUrl = server.url;
const key = readFileSync(join(dataDir, 'default-api-key'), 'utf8').trim();
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const reference = `data:audio/wav;base64,${readFileSync(join(audioDir, 'bench20.wav')).toString('base64')}`;

async function createVoice(targetModel: string, url = serverUrl, withHeaders = headers): Promise<string> {
  const response = await fetch(`${url}/api/v1/services/audio/tts/customization`, {
    method: 'POST',
    headers: withHeaders,
    body: JSON.stringify({ model: 'qwen-voice-enrollment', input: { action: 'create', target_model: targetModel, preferred_name: 'bench', audio: { data: reference } } }),
  });
  return ((await response.json()) as { output: { voice: string } }).output.voice;
}

interface Timing {
  firstMs: number;
  rtf: number;
}

function summarise(label: string, timings: Timing[], baseline?: Timing[]): string[] {
  const first = timings.map((timing) => timing.firstMs);
  const rtf = timings.map((timing) => timing.rtf);
  const overBaseline = baseline ? (percentile(first, 50) - percentile(baseline.map((timing) => timing.firstMs), 50)).toFixed(1) : '-';
  return [label, percentile(first, 50).toFixed(1), percentile(first, 95).toFixed(1), overBaseline, percentile(rtf, 50).toFixed(4)];
}

const fileVoice = await createVoice('qwen3-tts-vc-2026-01-22');
const realtimeVoice = await createVoice('qwen3-tts-vc-realtime-2026-01-15');
// The baseline engine lives in this process, with the same reference.
const engine = await PreviewEngine.start({ threads: 2, maxQueued: 64, cacheDir });
const referenceSamples = execFileSync(ffmpegPath, ['-v', 'error', '-i', join(audioDir, 'bench20.wav'), '-f', 'f32le', '-ac', '1', '-ar', '24000', 'pipe:1'], { maxBuffer: 1 << 28 });
const prompt = await engine.prepareVoice({ samples: new Float32Array(referenceSamples.buffer.slice(referenceSamples.byteOffset, referenceSamples.byteOffset + referenceSamples.length)), sampleRate: 24000 });

/** The baseline: the engine itself, sentence after sentence, as the API feeds it. */
async function engineDirect(input: string): Promise<Timing> {
  const sentences = splitSentences(normaliseText(input, 'en'), 'en');
  const started = performance.now();
  let firstMs = NaN;
  let samples = 0;
  for (const sentence of sentences) {
    for await (const chunk of engine.synthesize(sentence, prompt, { language: 'en' })) {
      if (Number.isNaN(firstMs)) firstMs = performance.now() - started;
      samples += chunk.length;
    }
  }
  return { firstMs, rtf: (performance.now() - started) / 1000 / (samples / engine.sampleRate) };
}

async function httpFile(): Promise<Timing> {
  const started = performance.now();
  const response = await fetch(`${serverUrl}/api/v1/services/aigc/multimodal-generation/generation`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', input: { text, voice: fileVoice } }),
  });
  const body = (await response.json()) as { output: { audio: { url: string } } };
  const wav = await fetch(body.output.audio.url);
  const reader = wav.body!.getReader();
  let firstMs = NaN;
  let bytes = 0;
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    if (Number.isNaN(firstMs)) firstMs = performance.now() - started;
    bytes += next.value.length;
  }
  return { firstMs, rtf: (performance.now() - started) / 1000 / ((bytes - 44) / 2 / 24000) };
}

async function httpSse(url = serverUrl, withHeaders = headers, voice = fileVoice): Promise<Timing> {
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/services/aigc/multimodal-generation/generation`, {
    method: 'POST',
    headers: { ...withHeaders, 'x-dashscope-sse': 'enable' },
    body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', input: { text, voice } }),
  });
  const reader = response.body!.getReader();
  let firstMs = NaN;
  let received = '';
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    if (Number.isNaN(firstMs)) firstMs = performance.now() - started;
    received += Buffer.from(next.value).toString('utf8');
  }
  let pcmBytes = 0;
  for (const match of received.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)) pcmBytes += Buffer.from(match[1]!, 'base64').length;
  return { firstMs, rtf: (performance.now() - started) / 1000 / (pcmBytes / 2 / 24000) };
}

interface SessionResult extends Timing {
  underruns: number;
}

/** One realtime session in server_commit mode; a player starting at the first delta counts the times its buffer runs dry. */
function realtimeSession(input: string): Promise<SessionResult> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${serverUrl.replace('http', 'ws')}/api-ws/v1/realtime?model=qwen3-tts-vc-realtime-2026-01-15`, { headers: { authorization: `Bearer ${key}` } });
    let started = 0;
    let playbackStart = NaN;
    let receivedSeconds = 0;
    let underruns = 0;
    let firstMs = NaN;
    socket.on('error', reject);
    socket.on('message', (data) => {
      const event = JSON.parse(data.toString()) as { type: string; delta?: string };
      if (event.type === 'session.created') {
        socket.send(JSON.stringify({ type: 'session.update', session: { voice: realtimeVoice } }));
      } else if (event.type === 'session.updated') {
        started = performance.now();
        socket.send(JSON.stringify({ type: 'input_text_buffer.append', text: input }));
        socket.send(JSON.stringify({ type: 'session.finish' }));
      } else if (event.type === 'response.audio.delta') {
        const now = performance.now();
        if (Number.isNaN(playbackStart)) {
          playbackStart = now;
          firstMs = now - started;
        } else if ((now - playbackStart) / 1000 > receivedSeconds) {
          underruns += 1;
          // The player waits for this chunk, so its clock slips by the gap.
          playbackStart = now - receivedSeconds * 1000;
        }
        receivedSeconds += Buffer.from(event.delta!, 'base64').length / 2 / 24000;
      } else if (event.type === 'session.finished') {
        resolve({ firstMs, rtf: (performance.now() - started) / 1000 / receivedSeconds, underruns });
        socket.close();
      } else if (event.type === 'error') {
        reject(new Error(data.toString()));
      }
    });
  });
}

async function repeat<T>(count: number, work: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < count; i += 1) results.push(await work());
  return results;
}

try {
  await engine.ready();
  // Warm every path once.
  await engineDirect(text);
  await httpFile();
  await httpSse();
  await realtimeSession(text);

  const direct = await repeat(runs, () => engineDirect(text));
  const file = await repeat(runs, httpFile);
  const sse = await repeat(runs, httpSse);
  const realtime = await repeat(runs, () => realtimeSession(text));
  console.log(`one request of ${text.length} characters, ${runs} runs each (first audio: first byte of audio the client holds)\n`);
  printTable([
    ['path', 'first audio p50 ms', 'p95 ms', 'p50 over engine ms', 'RTF p50'],
    summarise('engine directly (baseline)', direct),
    summarise('HTTP file (response + first WAV byte)', file, direct),
    summarise('HTTP SSE', sse, direct),
    summarise('realtime WebSocket', realtime, direct),
  ]);

  console.log(`\nconcurrent realtime sessions, ${paragraph.length} characters each, server_commit mode\n`);
  const rows = [['sessions', 'first audio p50 ms', 'p95 ms', 'RTF p50', 'underruns', 'engine-direct RTF p50 (same concurrency)']];
  for (const sessions of [1, 4, 8]) {
    const results = (await Promise.all(Array.from({ length: sessions }, () => realtimeSession(paragraph)))).flat();
    const baseline = await Promise.all(Array.from({ length: sessions }, () => engineDirect(paragraph)));
    rows.push([
      String(sessions),
      percentile(results.map((result) => result.firstMs), 50).toFixed(1),
      percentile(results.map((result) => result.firstMs), 95).toFixed(1),
      percentile(results.map((result) => result.rtf), 50).toFixed(4),
      String(results.reduce((sum, result) => sum + result.underruns, 0)),
      percentile(baseline.map((result) => result.rtf), 50).toFixed(4),
    ]);
  }
  printTable(rows);

  // A fresh install: nothing measured before, nothing cached; the first voice must speak at once.
  const freshData = mkdtempSync(join(tmpdir(), 'timbre-bench-fresh-'));
  const freshCache = mkdtempSync(join(tmpdir(), 'timbre-bench-fresh-cache-'));
  const spawned = performance.now();
  const fresh = await spawnServer(['--data-dir', freshData, '--cache-dir', freshCache, '--rate-limit-per-minute', '100000']);
  try {
    const listeningMs = performance.now() - spawned;
    const freshHeaders = { authorization: `Bearer ${readFileSync(join(freshData, 'default-api-key'), 'utf8').trim()}`, 'content-type': 'application/json' };
    const created = performance.now();
    const voice = await createVoice('qwen3-tts-vc-2026-01-22', fresh.url, freshHeaders);
    const createMs = performance.now() - created;
    // The voice's analysis runs after the create has answered: a user typing the text gives it
    // these two seconds. The request right after a create (below) waits for it instead.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const first = await httpSse(fresh.url, freshHeaders, voice);
    const second = await httpSse(fresh.url, freshHeaders, voice);
    const another = await createVoice('qwen3-tts-vc-2026-01-22', fresh.url, freshHeaders);
    const rightAfter = await httpSse(fresh.url, freshHeaders, another);
    console.log(`\nfresh install (new data dir, empty cache dir; first audio of the SSE request)\n`);
    printTable([
      ['process start to listening ms', 'first create ms', 'first SSE, 2 s after it, ms', 'second SSE ms', 'SSE right after a create ms', 'warm server SSE p50 ms (above)'],
      [listeningMs.toFixed(0), createMs.toFixed(0), first.firstMs.toFixed(1), second.firstMs.toFixed(1), rightAfter.firstMs.toFixed(1), percentile(sse.map((timing) => timing.firstMs), 50).toFixed(1)],
    ]);
  } finally {
    await stopProcess(fresh.child);
    rmSync(freshData, { recursive: true, force: true });
    rmSync(freshCache, { recursive: true, force: true });
  }
} finally {
  await engine.close();
  await stopProcess(server.child);
  rmSync(dataDir, { recursive: true, force: true });
}
