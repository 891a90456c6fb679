import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RateLimiter } from '../accounts/rate-limit.js';
import { encodeStream, mediaTypes } from '../audio/encode.js';
import type { SpeechService } from '../speech/speech-service.js';
import type { VoiceService } from '../voices/enrollment.js';
import { accountOf, takeRateToken } from './auth.js';
import { toWire } from './errors.js';
import { startedStream } from './streaming.js';
import { disconnectSignal, writeWithBackpressure } from './synthesis.js';
import { parseFields, rule } from './validation.js';

const openAiFormats = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;
/** OpenAI's speech endpoint answers at 24 kHz in every format. */
const openAiSampleRate = 24000;

export const speechBody = z.object({
  model: z.string(rule('must be a string: the voice\'s target_model')).min(1, 'is required'),
  input: z.string(rule('must be a string')),
  voice: z.string(rule('must be a string: a cloned voice name')).min(1, 'is empty'),
  response_format: z.enum(openAiFormats, rule(`must be one of ${openAiFormats.join(', ')}`)).default('mp3'),
  speed: z.number(rule('must be a number from 0.25 to 4.0')).min(0.25, 'must be at least 0.25').max(4, 'must be at most 4.0').default(1),
  stream_format: z.enum(['audio', 'sse'], rule('must be audio or sse')).default('audio'),
  /** Accepted for compatibility; the voice comes from its reference, not from instructions. */
  instructions: z.string().optional(),
});

export interface OpenAiRouteOptions {
  speech: SpeechService;
  voices: VoiceService;
  limiter: RateLimiter;
}

/** OpenAI-compatible POST /v1/audio/speech and GET /v1/audio/voices. */
export async function openAiRoutes(app: FastifyInstance, options: OpenAiRouteOptions): Promise<void> {
  const { speech, voices, limiter } = options;

  app.post('/v1/audio/speech', async (request, reply) => {
    const account = accountOf(request);
    takeRateToken(limiter, request);
    const body = parseFields(speechBody, request.body);
    const abort = disconnectSignal(reply);
    const spoken = await speech.speak({ account, voiceName: body.voice, model: body.model, text: body.input, language: null, speechRate: body.speed, signal: abort.signal });
    const encoded = await startedStream(encodeStream(spoken.audio, spoken.sampleRate, { format: body.response_format, sampleRate: openAiSampleRate }, abort.signal));
    reply.header('x-timbre-engine', spoken.engine.id);
    if (body.stream_format === 'audio') {
      return reply.type(mediaTypes[body.response_format]).send(Readable.from(encoded));
    }
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': request.id, 'x-timbre-engine': spoken.engine.id });
    try {
      for await (const bytes of encoded) {
        await writeWithBackpressure(reply, `data: ${JSON.stringify({ type: 'speech.audio.delta', audio: bytes.toString('base64') })}\n\n`);
      }
      if (!abort.signal.aborted) {
        const usage = { input_tokens: spoken.characters, output_tokens: 0, total_tokens: spoken.characters, characters: spoken.characters };
        reply.raw.write(`data: ${JSON.stringify({ type: 'speech.audio.done', usage })}\n\n`);
      }
    } catch (error) {
      const wire = toWire(error);
      if (wire.status >= 500) request.log.error({ err: error }, 'synthesis failed mid-stream');
      if (!reply.raw.destroyed) reply.raw.write(`data: ${JSON.stringify({ type: 'error', error: { code: wire.code, message: wire.message } })}\n\n`);
    } finally {
      reply.raw.end();
    }
    return reply;
  });

  app.get('/v1/audio/voices', async (request) => {
    const account = accountOf(request);
    const data: Record<string, unknown>[] = [];
    const pageSize = 500;
    for (let page = 0; ; page += 1) {
      const found = await voices.list(account, page, pageSize);
      for (const voice of found.voices) {
        data.push({ id: voice.name, object: 'voice', name: voice.name, preferred_name: voice.preferredName, target_model: voice.targetModel, language: voice.language, created_at: Math.floor(voice.createdAt / 1000) });
      }
      if (found.voices.length < pageSize) break;
    }
    return { object: 'list', data };
  });
}
