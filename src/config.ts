// The one place that reads process.env. Every setting is an environment variable and a
// flag of `timbre serve`; both are validated by the same zod schema, once, at start.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { ConsentRequirement } from './voices/rules.js';
import { packageRoot } from './paths.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
/** The services `models pull` asks for files and their digests, and their public addresses. */
export const modelPublishers = {
  'github-api': 'https://api.github.com',
  github: 'https://github.com',
  huggingface: 'https://huggingface.co',
  pypi: 'https://pypi.org',
} as const;
export type ModelPublisherService = keyof typeof modelPublishers;

const publisherOverrides = z.string().transform((value, context) => {
  const endpoints: Record<ModelPublisherService, string> = { ...modelPublishers };
  for (const part of value.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0)) {
    const [name, url] = [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)];
    if (!(name in modelPublishers) || !/^https?:\/\/[^/]+/.test(url)) {
      context.addIssue({ code: 'custom', message: `each entry is service=http(s)://host, with service one of ${Object.keys(modelPublishers).join(', ')} (got ${part})` });
      return z.NEVER;
    }
    endpoints[name as ModelPublisherService] = url.replace(/\/+$/, '');
  }
  return endpoints;
});

const cidrList = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter((part) => part.length > 0));

/** One row per setting: its environment name, its flag, its schema and default. */
export const settings = {
  port: { env: 'PORT', flag: 'port', schema: port, fallback: '8080', help: 'TCP port to listen on (0 picks a free one)' },
  host: { env: 'HOST', flag: 'host', schema: z.string().min(1), fallback: '127.0.0.1', help: 'address to listen on' },
  databaseUrl: {
    env: 'TIMBRE_DATABASE_URL',
    flag: 'database-url',
    schema: z.union([z.literal(''), z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')]),
    fallback: '',
    help: 'PostgreSQL shared by several nodes, e.g. postgres://user:pass@db/timbre (default: SQLite and files in the data dir)',
  },
  dataDir: { env: 'TIMBRE_DATA_DIR', flag: 'data-dir', schema: z.string().min(1), fallback: './data', help: 'folder for the SQLite database and audio files' },
  logLevel: {
    env: 'TIMBRE_LOG_LEVEL',
    flag: 'log-level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    fallback: 'info',
    help: 'pino log level',
  },
  modelsDir: { env: 'TIMBRE_MODELS_DIR', flag: 'models-dir', schema: z.string(), fallback: '', help: 'folder holding the ONNX models (default: the package\'s models/)' },
  voiceQuota: { env: 'TIMBRE_VOICE_QUOTA', flag: 'voice-quota', schema: positiveInt, fallback: '1000', help: 'most voices one account may hold' },
  retentionDays: { env: 'TIMBRE_RETENTION_DAYS', flag: 'retention-days', schema: z.coerce.number().positive(), fallback: '365', help: 'voices unused for longer are deleted' },
  retentionIntervalSeconds: {
    env: 'TIMBRE_RETENTION_INTERVAL_SECONDS',
    flag: 'retention-interval-seconds',
    schema: positiveInt,
    fallback: '3600',
    help: 'how often the retention job runs',
  },
  watermark: {
    env: 'TIMBRE_WATERMARK',
    flag: 'watermark',
    schema: bool,
    fallback: 'true',
    help: 'mark every synthesized output with an inaudible watermark naming the voice (turn off only where you must)',
  },
  requireConsent: {
    env: 'TIMBRE_REQUIRE_CONSENT',
    flag: 'require-consent',
    schema: z
      .enum(['true', 'false', '1', '0', 'yes', 'no', 'spoken'])
      .transform((value): ConsentRequirement => (value === 'spoken' ? 'spoken' : value === 'true' || value === '1' || value === 'yes' ? 'any' : 'none')),
    fallback: 'false',
    help: 'refuse to create a voice without a consent record (input.consent); `spoken`: only with spoken consent whose speaker is verified (needs the speaker encoder)',
  },
  fetchAllowCidrs: {
    env: 'TIMBRE_FETCH_ALLOW_CIDRS',
    flag: 'fetch-allow-cidrs',
    schema: cidrList,
    fallback: '',
    help: 'comma-separated address ranges that audio URLs may reach although private (e.g. 127.0.0.1/32)',
  },
  fetchTimeoutMs: { env: 'TIMBRE_FETCH_TIMEOUT_MS', flag: 'fetch-timeout-ms', schema: positiveInt, fallback: '10000', help: 'time limit for downloading an audio URL' },
  fetchMaxBytes: { env: 'TIMBRE_FETCH_MAX_BYTES', flag: 'fetch-max-bytes', schema: positiveInt, fallback: String(20 * 1024 * 1024), help: 'size limit for a downloaded audio URL' },
  decodeTimeoutMs: { env: 'TIMBRE_DECODE_TIMEOUT_MS', flag: 'decode-timeout-ms', schema: positiveInt, fallback: '20000', help: 'time limit for decoding one upload' },
  modelSources: {
    env: 'TIMBRE_MODEL_SOURCES',
    flag: 'model-sources',
    schema: publisherOverrides,
    fallback: '',
    help: `where \`models pull\` reaches each publisher, e.g. huggingface=https://hf-mirror.example (services: ${Object.keys(modelPublishers).join(', ')})`,
  },
  cacheDir: { env: 'TIMBRE_CACHE_DIR', flag: 'cache-dir', schema: z.string(), fallback: '', help: 'folder for measured engine tables (default: the data dir)' },
  engineThreads: { env: 'TIMBRE_ENGINE_THREADS', flag: 'engine-threads', schema: positiveInt, fallback: String(availableParallelism()), help: 'synthesis worker threads (default: cores)' },
  promptWaitSeconds: {
    env: 'TIMBRE_PROMPT_WAIT_SECONDS',
    flag: 'prompt-wait-seconds',
    schema: z.coerce.number().positive(),
    fallback: '20',
    help: 'how long a synthesis waits for its voice\'s analysis (made after the create answered) before it gets Throttling',
  },
  engineQueue: { env: 'TIMBRE_ENGINE_QUEUE', flag: 'engine-queue', schema: z.coerce.number().int().min(0), fallback: '32', help: 'synthesis jobs that may wait; more are refused with Throttling' },
  rateLimitPerMinute: {
    env: 'TIMBRE_RATE_LIMIT_PER_MINUTE',
    flag: 'rate-limit-per-minute',
    schema: positiveInt,
    fallback: '180',
    help: 'synthesis requests (HTTP calls and realtime responses) one API key may make per minute; more get Throttling',
  },
  publicUrl: {
    env: 'TIMBRE_PUBLIC_URL',
    flag: 'public-url',
    schema: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]),
    fallback: '',
    help: 'base URL that clients reach this server at, for audio links (default: from the request\'s Host header)',
  },
  audioLinkHours: { env: 'TIMBRE_AUDIO_LINK_HOURS', flag: 'audio-link-hours', schema: z.coerce.number().positive(), fallback: '24', help: 'how long generated-audio links stay valid' },
  engines: {
    env: 'TIMBRE_ENGINES',
    flag: 'engines',
    schema: z
      .string()
      .regex(/^(\s*[\w.-]+\s*=\s*[\w.-]+\s*(,|$))*$/, 'must be a comma-separated list of target_model=engine')
      .transform((value) =>
        Object.fromEntries(
          value
            .split(',')
            .map((pair) => pair.split('=').map((part) => part.trim()))
            .filter((pair): pair is [string, string] => pair.length === 2 && pair[0] !== '' && pair[1] !== ''),
        ),
      ),
    fallback: '',
    help: 'which engine serves which target_model, e.g. qwen3-tts-vc-2026-01-22=preview (default: the best installed engine for each)',
  },
  neuralThreads: {
    env: 'TIMBRE_NEURAL_THREADS',
    flag: 'neural-threads',
    schema: positiveInt,
    fallback: String(availableParallelism()),
    help: 'onnxruntime threads of a neural engine job (default: cores)',
  },
  neuralJobs: { env: 'TIMBRE_NEURAL_JOBS', flag: 'neural-jobs', schema: positiveInt, fallback: '1', help: 'neural synthesis jobs running at once on the one loaded model; the rest wait in the queue' },
  neuralSteps: { env: 'TIMBRE_NEURAL_STEPS', flag: 'neural-steps', schema: positiveInt, fallback: '5', help: 'flow-matching steps of the neural engines (fewer is faster, rougher)' },
  voiceEmbeddingCache: {
    env: 'TIMBRE_VOICE_EMBEDDING_CACHE',
    flag: 'voice-embedding-cache',
    schema: z.coerce.number().int().min(0),
    fallback: '50',
    help: 'voices whose encoded reference a neural engine keeps in memory (repeated synthesis skips re-encoding)',
  },
  printKey: { env: 'TIMBRE_PRINT_KEY', flag: 'print-key', schema: bool, fallback: 'true', help: 'print the default API key at start' },
} as const;

export type SettingName = keyof typeof settings;
export type Config = { [K in SettingName]: z.output<(typeof settings)[K]['schema']> };

export class ConfigError extends Error {}

/**
 * Builds the configuration from the environment, then flags on top.
 * `flags` holds raw strings keyed by setting name (as commander gives them).
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: Partial<Record<SettingName, string>> = {},
): Config {
  const knownEnv = new Set<string>([...Object.values(settings).map((setting) => setting.env), ...Object.values(clientSettings).map((setting) => setting.env)]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('TIMBRE_') && !knownEnv.has(name)) {
      throw new ConfigError(`unknown setting ${name} (known: ${[...knownEnv].filter((n) => n.startsWith('TIMBRE_')).join(', ')})`);
    }
  }
  const values: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings)) {
    const fromFlag = flags[key as SettingName];
    const raw = fromFlag ?? env[setting.env] ?? setting.fallback;
    const parsed = setting.schema.safeParse(raw);
    if (!parsed.success) {
      const source = fromFlag !== undefined ? `--${setting.flag}` : env[setting.env] !== undefined ? setting.env : `default of ${setting.env}`;
      const reason = parsed.error.issues[0]?.message ?? 'invalid';
      throw new ConfigError(`invalid setting ${source}=${JSON.stringify(raw)}: ${reason}`);
    }
    values[key] = parsed.data;
  }
  const config = values as Config;
  config.dataDir = resolve(config.dataDir);
  config.cacheDir = config.cacheDir === '' ? config.dataDir : resolve(config.cacheDir);
  config.modelsDir = config.modelsDir === '' ? resolve(packageRoot, 'models') : resolve(config.modelsDir);
  return config;
}

/** Settings of the CLI's client commands (voices, say): which server, which key. */
export const clientSettings = {
  url: { env: 'TIMBRE_URL', flag: 'url', help: 'server to talk to', fallback: 'http://127.0.0.1:8080' },
  apiKey: { env: 'TIMBRE_API_KEY', flag: 'api-key', help: 'API key (default: the newcomer key in the data dir, if present)', fallback: '' },
} as const;

export interface ClientConfig {
  url: string;
  apiKey: string | null;
}

export function loadClientConfig(env: NodeJS.ProcessEnv, flags: { url?: string; apiKey?: string }, readDefaultKey: () => string | null): ClientConfig {
  const url = flags.url ?? env[clientSettings.url.env] ?? clientSettings.url.fallback;
  if (!z.url({ protocol: /^https?$/ }).safeParse(url).success) throw new ConfigError(`invalid setting url=${JSON.stringify(url)}: must be an http(s) URL`);
  const apiKey = flags.apiKey ?? env[clientSettings.apiKey.env] ?? readDefaultKey();
  return { url, apiKey: apiKey || null };
}
