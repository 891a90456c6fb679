import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { packageRoot } from '../paths.js';
import type { KeyService } from '../accounts/keys.js';
import type { RateLimiter } from '../accounts/rate-limit.js';
import type { GeneratedAudioStore } from '../speech/generated-audio.js';
import type { ProvenanceService } from '../voices/provenance.js';
import { watermarkRoutes } from './watermark.js';
import type { SpeechService } from '../speech/speech-service.js';
import type { Metrics } from '../metrics.js';
import type { VoiceService } from '../voices/enrollment.js';
import { openApiDocument } from './openapi.js';
import { authPlugin } from './auth.js';
import { customizationRoutes } from './customization.js';
import { openAiRoutes } from './openai.js';
import { realtimeRoutes } from './realtime.js';
import { synthesisRoutes } from './synthesis.js';
import { installErrorHandling } from './errors.js';

export interface ApiDependencies {
  logger: FastifyBaseLogger;
  keys: KeyService;
  voices: VoiceService;
  speech: SpeechService;
  generatedAudio: GeneratedAudioStore;
  limiter: RateLimiter;
  publicUrl: string | null;
  metrics: Metrics;
  version: string;
  provenance: ProvenanceService | null;
}

// A data URL under 10 MB plus the JSON around it.
const bodyLimitBytes = 10 * 1024 * 1024 + 64 * 1024;

const publicPaths = new Set(['/healthz', '/metrics', '/openapi.json']);
/** Generated-audio links carry their own signature, so players can fetch them without a key. */
const publicPrefixes = ['/api/v1/audio/'];

/** The HTTP surface: wire shapes and error mapping only; rules live in src/voices. */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: bodyLimitBytes,
    genReqId: () => randomUUID(),
  });
  installErrorHandling(app);
  // The spec's requests are JSON only; anything else is answered with a clear error.
  app.removeContentTypeParser('text/plain');
  await app.register(authPlugin, { keys: deps.keys, isPublic: (path) => publicPaths.has(path) || publicPrefixes.some((prefix) => path.startsWith(prefix)),
    authenticatesItself: (path) => path.startsWith('/api-ws/'),
    // Everything outside the API paths is the web studio's static files.
    isStudioFile: (path) => !/^\/(api|v1|api-ws)(\/|$)/.test(path),
  });
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.request(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()));
  const openApi = openApiDocument(deps.version);
  app.get('/openapi.json', async () => openApi);
  await app.register(fastifyStatic, { root: join(packageRoot, 'web'), prefix: '/', index: 'index.html' });
  await app.register(customizationRoutes, { voices: deps.voices });
  await app.register(openAiRoutes, { speech: deps.speech, voices: deps.voices, limiter: deps.limiter });
  await app.register(watermarkRoutes, { provenance: deps.provenance });
  await app.register(realtimeRoutes, { speech: deps.speech, limiter: deps.limiter, keys: deps.keys });
  await app.register(synthesisRoutes, { speech: deps.speech, generatedAudio: deps.generatedAudio, limiter: deps.limiter, publicUrl: deps.publicUrl });
  return app;
}
