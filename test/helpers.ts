import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { startTimbre, type RunningTimbre } from '../src/app.js';
import { decodeFile, ffmpegPath } from '../src/audio/ffmpeg.js';
import type { Audio } from '../src/audio/types.js';
import { vadSampleRate } from '../src/audio/vad.js';
import type { Clock } from '../src/clock.js';
import type { VoiceRecord } from '../src/store/repository.js';
import { loadConfig, type Config } from '../src/config.js';
import { packageRoot } from '../src/paths.js';

const execFileAsync = promisify(execFile);

export const audioDir = join(packageRoot, 'test', '.audio');
/** Shared by every test server, so the preview engine's tables are measured once per run. */
export const testCacheDir = join(audioDir, 'cache');
export const enrollmentPath = '/api/v1/services/audio/tts/customization';

export function audioPath(name: string): string {
  return join(audioDir, name);
}

/** A recording decoded by ffmpeg to mono at the VAD's 16 kHz (at most 61 s). */
export async function decodeForVad(path: string): Promise<Audio> {
  return (await decodeFile(path, [vadSampleRate], { maxSeconds: 61, timeoutMs: 20_000 })).byRate.get(vadSampleRate)!;
}

export function dataUrl(name: string, mediatype = 'audio/wav'): string {
  return `data:${mediatype};base64,${readFileSync(audioPath(name)).toString('base64')}`;
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public current = Date.UTC(2026, 0, 15, 12, 0, 0, 0)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export interface TestServer {
  running: RunningTimbre;
  url: string;
  key: string;
  dataDir: string;
  config: Config;
  /** The voice's row once the engine's analysis that follows its create has been stored. */
  preparedVoice(accountId: string, name: string): Promise<VoiceRecord | null>;
  /** POSTs JSON to the enrollment endpoint; returns status and parsed body. */
  enroll(body: unknown, key?: string | null): Promise<{ status: number; body: Record<string, any> }>;
  stop(): Promise<void>;
}

/** The real server on a loopback port with a temp data dir. */
export async function startTestServer(env: Record<string, string> = {}, clock?: Clock, logLines?: Record<string, unknown>[]): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'timbre-test-'));
  mkdirSync(testCacheDir, { recursive: true });
  const config = loadConfig({ TIMBRE_DATA_DIR: dataDir, TIMBRE_CACHE_DIR: testCacheDir, PORT: '0', HOST: '127.0.0.1', ...env });
  // Log lines can be collected, for tests that watch what the server did.
  const logger = logLines
    ? pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) })
    : pino({ level: 'silent' });
  const running = await startTimbre(config, { clock, logger });
  const key = running.defaultKey!;
  const enroll = async (body: unknown, useKey: string | null = key) => {
    const response = await fetch(running.url + enrollmentPath, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(useKey ? { authorization: `Bearer ${useKey}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  return {
    running,
    url: running.url,
    key,
    dataDir,
    config,
    enroll,
    async preparedVoice(accountId: string, name: string) {
      await running.prompts.settled(name);
      return running.repository.findVoice(accountId, name);
    },
    async stop() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function createBody(overrides: Record<string, unknown> = {}, audio = dataUrl('low.wav')): Record<string, unknown> {
  return {
    model: 'qwen-voice-enrollment',
    input: { action: 'create', target_model: 'qwen3-tts-vc-realtime-2026-01-15', preferred_name: 'tester', audio: { data: audio }, ...overrides },
  };
}

export const voiceNamePattern = /^qwen-tts-vc-([A-Za-z0-9_]{1,16})-voice-(\d{17})-([0-9a-f]{4})$/;

/** POSTs JSON with the server's key (or `key`) to `path`. */
export async function postJson(server: TestServer, path: string, body: unknown, headers: Record<string, string> = {}, key: string | null = server.key): Promise<Response> {
  return fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/**
 * Creates a voice from a test recording for `targetModel`; returns its name once the engine's
 * analysis that follows the create is stored, as a voice is by the time a person has typed
 * what it should say (test/voice-preparation.test.ts covers speaking before that).
 */
export async function createVoice(server: TestServer, targetModel: string, file = 'low.wav', key: string = server.key): Promise<string> {
  const created = await server.enroll(createBody({ target_model: targetModel, preferred_name: 'speaker' }, dataUrl(file)), key);
  if (created.status !== 200) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  const voice = created.body.output.voice as string;
  await server.running.prompts.settled(voice);
  return voice;
}

export interface ProbedAudio {
  codec: string;
  sampleRate: number;
  seconds: number;
}

/** Decodes encoded audio with ffmpeg: its codec, sample rate and duration. */
export async function probeAudio(bytes: Uint8Array, extension: string): Promise<ProbedAudio> {
  const file = join(mkdtempSync(join(tmpdir(), 'timbre-probe-')), `audio.${extension}`);
  writeFileSync(file, bytes);
  try {
    const { stderr } = await execFileAsync(ffmpegPath, ['-hide_banner', '-i', file, '-f', 'f32le', '-ac', '1', '-ar', '8000', '-y', file + '.raw']);
    const match = /Audio: (\w+)[^\n]*?, (\d+) Hz/.exec(stderr);
    if (!match) throw new Error(`ffmpeg found no audio stream: ${stderr.slice(-400)}`);
    const decodedBytes = readFileSync(file + '.raw').length;
    return { codec: match[1]!, sampleRate: Number(match[2]), seconds: decodedBytes / 4 / 8000 };
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
}
