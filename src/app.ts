import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { KeyService } from './accounts/keys.js';
import { buildApi } from './api/server.js';
import { dashscopeSampleRate } from './api/synthesis.js';
import { encodeStream } from './audio/encode.js';
import { openMoonshine, type Transcriber } from './audio/asr/transcriber.js';
import { ReferenceIntake } from './audio/intake.js';
import { openSpeakerEncoder, speakerEncoderPath, speakerEncoderThreads, type SpeakerEncoder } from './audio/speaker/encoder.js';
import { SpeakerChecks } from './voices/speaker-check.js';
import { launcher } from './audio/launcher.js';
import { resamplers, streamResampler } from './audio/resampler.js';
import { WatermarkKey } from './audio/watermark.js';
import { ProvenanceService } from './voices/provenance.js';
import { referenceLimits } from './audio/reference.js';
import { SpeechDetectorThread, vadSampleRate } from './audio/vad.js';
import { systemClock, type Clock } from './clock.js';
import type { Engine } from './engines/engine.js';
import { installedModels } from './engines/neural/installed.js';
import { PocketEngine } from './engines/neural/pocket-engine.js';
import { ZipVoiceEngine } from './engines/neural/zipvoice-engine.js';
import { PreviewEngine } from './engines/preview/preview-engine.js';
import { ConfigError, type Config } from './config.js';
import { EngineRouter, engineAssignments } from './engines/router.js';
import { RateLimiter } from './accounts/rate-limit.js';
import { GeneratedAudioStore } from './speech/generated-audio.js';
import { SpeechService } from './speech/speech-service.js';
import { splitSentences } from './speech/sentences.js';
import { Metrics } from './metrics.js';
import { packageVersion } from './paths.js';
import { targetModels } from './voices/rules.js';
import { FileBlobStore, type BlobStore } from './store/blobs.js';
import { DatabaseBlobStore } from './store/pg-blobs.js';
import { openPostgres } from './store/postgres.js';
import { KyselyRepository } from './store/kysely-repository.js';
import type { Repository, VoiceRecord } from './store/repository.js';
import { openSqlite } from './store/sqlite.js';
import { VoiceService } from './voices/enrollment.js';
import { VoicePrompts } from './voices/prompts.js';
import { RetentionJob } from './voices/retention.js';

export interface RunningTimbre {
  url: string;
  api: FastifyInstance;
  repository: Repository;
  voices: VoiceService;
  /** Each voice's engine prompts; `settled(name)` resolves once a new voice's analysis is stored. */
  prompts: VoicePrompts;
  retention: RetentionJob;
  keys: KeyService;
  /** The preview engine (always present). */
  engine: PreviewEngine;
  engines: EngineRouter;
  speech: SpeechService;
  generatedAudio: GeneratedAudioStore;
  /** The installation's watermark key; null when watermarking is off. */
  watermark: WatermarkKey | null;
  /** The recognizer behind the reference-text check; null when none is installed. */
  transcriber: Transcriber | null;
  /** The speaker encoder behind the one-voice check and spoken consent; null when not installed. */
  speakerEncoder: SpeakerEncoder | null;
  /** The key printed for a newcomer (first start, or read back from the key file), if any. */
  defaultKey: string | null;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
}

const dayMs = 24 * 60 * 60 * 1000;

export function defaultKeyFile(dataDir: string): string {
  return join(dataDir, 'default-api-key');
}

/**
 * Opens the store: PostgreSQL with blobs in it when TIMBRE_DATABASE_URL is set (every node
 * shares it), else the embedded SQLite file and blob folder in the data dir.
 */
export async function openStore(config: Config): Promise<{ repository: Repository; blobs: BlobStore & { init(): Promise<void> }; shared: boolean }> {
  await mkdir(config.dataDir, { recursive: true });
  if (config.databaseUrl) {
    const repository = new KyselyRepository(await openPostgres(config.databaseUrl), 'postgres');
    const blobs = new DatabaseBlobStore(repository.database, config.dataDir);
    await blobs.init();
    return { repository, blobs, shared: true };
  }
  const repository = new KyselyRepository(await openSqlite(join(config.dataDir, 'timbre.db')));
  const blobs = new FileBlobStore(config.dataDir);
  await blobs.init();
  return { repository, blobs, shared: false };
}

/** On a store with no keys, issues one for account `default` and keeps it in a 0600 file. */
async function ensureNewcomerKey(keys: KeyService, dataDir: string): Promise<string | null> {
  const file = defaultKeyFile(dataDir);
  if (!(await keys.hasActiveKeys())) {
    const issued = await keys.issue('default');
    await writeFile(file, `${issued.key}\n`, { mode: 0o600 });
    return issued.key;
  }
  if (!existsSync(file)) return null;
  const key = (await readFile(file, 'utf8')).trim();
  return (await keys.authenticate(key)) ? key : null;
}

/** The configured engine for each target model; unknown names fail the start. */
function routeEngines(config: Config, available: Engine[]): EngineRouter {
  const byId = new Map(available.map((engine) => [engine.id, engine]));
  for (const [model, id] of Object.entries(config.engines)) {
    if (!(targetModels as readonly string[]).includes(model)) throw new ConfigError(`TIMBRE_ENGINES names unknown target_model ${model} (known: ${targetModels.join(', ')})`);
    if (!byId.has(id)) throw new ConfigError(`TIMBRE_ENGINES names engine ${id}, which is not available (available: ${[...byId.keys()].join(', ')})`);
  }
  return new EngineRouter(byId, engineAssignments(targetModels, config.engines, [...byId.keys()]), available[0]!);
}

/** Every installed neural model, loaded once; a model that fails to load is logged and left out. */
export async function loadNeuralEngines(
  config: Pick<Config, 'modelsDir' | 'neuralThreads' | 'neuralJobs' | 'engineQueue' | 'voiceEmbeddingCache' | 'neuralSteps'>,
  logger: Logger,
): Promise<Engine[]> {
  const installed = installedModels(config.modelsDir, 'engine');
  if (installed.length === 0) {
    logger.warn('no neural model is installed: the preview engine speaks (espeak-ng adapted to each voice); for real cloning run `npx timbre models pull pocket-tts` (or `timbre models add pocket-tts --from <folder>` offline)');
    return [];
  }
  const loaded: Engine[] = [];
  for (const { model, folder } of installed) {
    const options = {
      folder,
      numThreads: config.neuralThreads,
      concurrency: config.neuralJobs,
      maxQueued: config.engineQueue,
      voiceCacheCapacity: config.voiceEmbeddingCache,
      numSteps: config.neuralSteps,
    };
    try {
      loaded.push(model.name === 'pocket-tts' ? await PocketEngine.load(options) : await ZipVoiceEngine.load(options));
      logger.info({ engine: model.name, folder }, 'neural engine loaded');
    } catch (error) {
      logger.error({ engine: model.name, folder, err: error }, 'neural engine failed to load; its models are served by the preview engine');
    }
  }
  return loaded;
}

/**
 * Uploads that may wait for the VAD's thread (about 0.1 s each): not the synthesis queue's
 * setting, which may be 0, and concurrent creates were never refused for the VAD.
 */
const vadJobsWaiting = 256;

/** Two seconds of a quiet 150 Hz tone at 16 kHz: enough for one job of each model, and the same every start. */
function warmUpSignal(): Float32Array {
  const samples = new Float32Array(2 * vadSampleRate);
  for (let i = 0; i < samples.length; i += 1) samples[i] = 0.01 * Math.sin((2 * Math.PI * 150 * i) / vadSampleRate);
  return samples;
}

/**
 * Waits for every model thread to load and runs each once before the server listens. A create
 * sent the moment a fresh server listened took 308 ms where the next took 130: models were still
 * loading on the same two cores, and each first run (onnxruntime's allocations, the JIT) was on
 * its path. A model that fails here is logged; its requests fail as they would have.
 */
async function warmUp(
  models: { detector: SpeechDetectorThread; speakerEncoder: SpeakerEncoder | null; transcriber: Transcriber | null; engine: PreviewEngine },
  speech: SpeechService,
  voices: VoiceService,
  logger: Logger,
): Promise<void> {
  const tone = { samples: warmUpSignal(), sampleRate: vadSampleRate };
  const { engine } = models;
  // Each thread's rehearsal voice then speaks through the requests' path, side by side (a
  // request takes whichever thread is free), as far as the 24 kHz PCM the APIs send.
  const speaking = engine.rehearse().then((voices) =>
    Promise.all(
      voices.map(async (voice) => {
        for await (const bytes of encodeStream(speech.rehearse(engine, voice), engine.sampleRate, { format: 'pcm', sampleRate: dashscopeSampleRate })) void bytes;
      }),
    ),
  );
  const runs: [string, Promise<unknown> | undefined][] = [
    ['Silero VAD', models.detector.detect(tone)],
    ['the speaker encoder', models.speakerEncoder?.analyse(tone, { trimSilence: false })],
    ['the speech recognizer', models.transcriber?.transcribe(tone.samples)],
    ['the preview engine', speaking],
  ];
  await Promise.all(runs.map(async ([what, run]) => run?.catch((error: unknown) => logger.warn({ err: error }, `${what} failed its first run at start`))));
  // After the models' first runs, which load them. Without it, bench:synthesis's first create
  // on a fresh install took 333-651 ms where a warm server's took 191-215 (225-318 with it).
  await voices.rehearse().catch((error: unknown) => logger.warn({ err: error }, 'a rehearsal create failed at start'));
}

/** Starts the whole service: store, audio intake, jobs, HTTP. */
export async function startTimbre(config: Config, options: StartOptions = {}): Promise<RunningTimbre> {
  // Before anything is opened: a refused start leaves nothing running.
  if (config.requireConsent === 'spoken' && !existsSync(speakerEncoderPath(config.modelsDir))) {
    throw new ConfigError('TIMBRE_REQUIRE_CONSENT=spoken needs the speaker encoder: run `timbre models pull speaker-encoder` (or `models add speaker-encoder --from <wheel>`)');
  }
  // Forked while this process is still small: ffmpeg is started from it (see launcher.ts).
  launcher.start();
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel });
  const { repository, blobs, shared } = await openStore(config);
  const keys = new KeyService(repository, clock);
  const defaultKey = await ensureNewcomerKey(keys, config.dataDir);
  const detector = new SpeechDetectorThread(join(config.modelsDir, 'silero_vad.onnx'), referenceLimits.maxReferenceSeconds, vadJobsWaiting);
  const intake = new ReferenceIntake(detector, {
    fetchPolicy: { allowCidrs: config.fetchAllowCidrs, timeoutMs: config.fetchTimeoutMs, maxBytes: config.fetchMaxBytes },
    decodeTimeoutMs: config.decodeTimeoutMs,
  });
  const engine = await PreviewEngine.start({ threads: config.engineThreads, maxQueued: config.engineQueue, cacheDir: config.cacheDir });
  const neural = await loadNeuralEngines(config, logger);
  const transcriber: Transcriber | null = openMoonshine(config.modelsDir, config.engineThreads, config.engineQueue);
  if (transcriber === null) logger.warn('Moonshine is not installed in the models folder: `text` at create is accepted unverified (run `npm install` to unpack it)');
  const engines = routeEngines(config, [engine, ...neural]);
  // The filter from each engine's rate to the APIs' 24 kHz made now (and its loop compiled), so
  // the first streamed request does not design one before its first bytes.
  for (const rate of new Set([engine, ...neural].map((each) => each.sampleRate))) {
    if (rate !== dashscopeSampleRate) streamResampler(rate, dashscopeSampleRate).process(new Float32Array(rate / 10));
  }
  // ICU loads its sentence-break rules with the first sentence segmenter (10-12 ms measured),
  // which would otherwise hold up the first synthesis after a start.
  splitSentences('Timbre starts. It speaks at once.', 'en');
  logger.info({ engines: engines.assignments(targetModels) }, 'engines serving each target model');
  // The installation's watermark key, shared by every node through the store.
  // Made even while marking is off, so turning it on later keeps one key per installation.
  const keyBytes = Buffer.from(await repository.settingOrInsert('watermark_key', randomBytes(32).toString('base64')), 'base64');
  const watermarkKey = config.watermark ? new WatermarkKey(keyBytes, resamplers) : null;
  if (!config.watermark) logger.warn('watermarking is off (TIMBRE_WATERMARK=false): outputs carry no mark and /v1/watermark/detect is refused');
  // A new voice's watermark is made once its create has answered, not by its first synthesis.
  const prepareMark = (voice: VoiceRecord): void => {
    setImmediate(() => {
      void watermarkKey?.markFor({ accountId: voice.accountId, voiceName: voice.name }, engines.forModel(voice.targetModel, voice.language).sampleRate).catch(() => undefined);
    });
  };
  const speakerEncoder = openSpeakerEncoder(config.modelsDir, speakerEncoderThreads, config.engineQueue);
  if (speakerEncoder === null) {
    logger.info('the speaker encoder is not installed: no spoken-consent verification or one-voice check (`npx timbre models pull speaker-encoder` adds them)');
  }
  const speakerChecks = speakerEncoder ? new SpeakerChecks(speakerEncoder, intake, transcriber) : null;
  const prompts = new VoicePrompts(repository, blobs, { waitLimitMs: config.promptWaitSeconds * 1000 }, (error, voice, engineId) =>
    logger.warn({ err: error, voice, engine: engineId }, 'preparing a new voice failed; its first synthesis prepares it again'),
  );
  const voices = new VoiceService(
    repository,
    blobs,
    intake,
    engines,
    prompts,
    clock,
    { quota: config.voiceQuota, requireConsent: config.requireConsent },
    transcriber,
    prepareMark,
    speakerChecks,
  );
  const metrics = new Metrics(engines);
  const provenance = watermarkKey ? new ProvenanceService(repository, blobs, intake, keyBytes, config.voiceQuota) : null;
  const speech = new SpeechService(repository, prompts, engines, clock, logger, (record) => metrics.synthesis(record), watermarkKey);
  const generatedAudio = await GeneratedAudioStore.open(repository, blobs, clock, {
    lifetimeMs: config.audioLinkHours * 60 * 60 * 1000,
    sweepIntervalMs: Math.min(config.retentionIntervalSeconds * 1000, 10 * 60 * 1000),
    onError: (error) => logger.error({ err: error }, 'generated-audio cleanup failed'),
  });
  await generatedAudio.sweepExpired();
  generatedAudio.start();
  const limiter = new RateLimiter(config.rateLimitPerMinute, clock);
  // Alone on SQLite, nothing is in flight before the server listens, so every unreferenced
  // file is an orphan; on a shared database other nodes may be mid-create, so only old ones are.
  const swept = await voices.sweepOrphans(shared ? 60 * 60 * 1000 : 0);
  if (swept > 0) logger.info({ swept }, 'removed files left by an interrupted create');
  const retention = new RetentionJob(
    repository,
    voices,
    clock,
    { maxUnusedMs: config.retentionDays * dayMs, intervalMs: config.retentionIntervalSeconds * 1000 },
    (error) => logger.error({ err: error }, 'retention job failed'),
  );
  const expired = await retention.runOnce();
  if (expired > 0) logger.info({ expired }, 'deleted voices unused beyond the retention period');
  retention.start();

  await warmUp({ detector, speakerEncoder, transcriber, engine }, speech, voices, logger);
  const api = await buildApi({ logger, keys, voices, speech, generatedAudio, limiter, publicUrl: config.publicUrl || null, metrics, version: packageVersion, provenance });
  await api.listen({ port: config.port, host: config.host });
  const address = api.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}`,
    api,
    repository,
    voices,
    prompts,
    retention,
    keys,
    engine,
    engines,
    speech,
    generatedAudio,
    transcriber,
    speakerEncoder,
    watermark: watermarkKey,
    defaultKey,
    async close() {
      await retention.stop();
      await generatedAudio.stop();
      await api.close();
      await prompts.drain();
      await repository.close();
      await engines.close();
      await transcriber?.close();
      await speakerEncoder?.close();
      await detector.close();
    },
  };
}
