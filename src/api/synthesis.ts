import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RateLimiter } from '../accounts/rate-limit.js';
import { encodeStream } from '../audio/encode.js';
import { wavFromPcm16 } from '../audio/wav.js';
import { InvalidField } from '../errors.js';
import type { GeneratedAudioStore } from '../speech/generated-audio.js';
import type { SpeechService } from '../speech/speech-service.js';
import { accountOf, takeRateToken } from './auth.js';
import { toWire, WireError } from './errors.js';
import { languageTypes, languageOfType } from './languages.js';
import { startedStream } from './streaming.js';
import { isObject, parseFields, rule } from './validation.js';

export const fileModel = 'qwen3-tts-vc-2026-01-22';
/** The provider's streaming and file output: 24 kHz, 16-bit, mono. */
export const dashscopeSampleRate = 24000;
/** Streamed audio beyond this is not also kept as a file (the final event then has no url). */
const maxKeptStreamBytes = 64 * 1024 * 1024;

export const generationBody = z.object({
  model: z.string(rule('must be a string')).min(1, 'is required'),
  input: z.object(
    {
      text: z.string(rule('must be a string')),
      voice: z.string(rule('must be a string: a cloned voice name')).min(1, 'is empty'),
      language_type: z.enum(languageTypes, rule(`must be one of ${languageTypes.join(', ')}`)).default('Auto'),
    },
    rule('must be an object with text and voice'),
  ),
});

/**
 * The DashScope Java SDK (2.22) writes `input.voice` only from its enum of the provider's own
 * voices; a cloned voice's name reaches the server as `parameters.voice` (its documented
 * `.parameter("voice", name)`), and `language_type` may come the same way. Fields in `input` win.
 */
function withParameterFallbacks(body: Record<string, unknown>): Record<string, unknown> {
  const { input, parameters } = body;
  if (!isObject(input) || !isObject(parameters)) return body;
  const fallbacks = Object.fromEntries(['voice', 'language_type'].filter((field) => input[field] === undefined && parameters[field] !== undefined).map((field) => [field, parameters[field]]));
  return { ...body, input: { ...fallbacks, ...input } };
}

export interface SynthesisRouteOptions {
  speech: SpeechService;
  generatedAudio: GeneratedAudioStore;
  limiter: RateLimiter;
  /** Base URL for audio links; null: from the request's Host. */
  publicUrl: string | null;
}

export function baseUrl(request: FastifyRequest, publicUrl: string | null): string {
  return (publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
}

/** Aborts when the client goes away before the response is complete. */
export function disconnectSignal(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller;
}

/** Writes `text` to the response, waiting while the client's socket is full. */
export async function writeWithBackpressure(reply: FastifyReply, text: string): Promise<void> {
  if (reply.raw.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      reply.raw.off('drain', done);
      reply.raw.off('close', done);
      resolve();
    };
    reply.raw.once('drain', done);
    reply.raw.once('close', done);
  });
}

/**
 * The provider's SSE framing: `id:`, `event:`, a `:HTTP_STATUS/<code>` comment line, and
 * `data:` with no space after the colons.
 */
export function sseEvent(id: number, event: 'result' | 'error', status: number, data: unknown): string {
  return `id:${id}\nevent:${event}\n:HTTP_STATUS/${status}\ndata:${JSON.stringify(data)}\n\n`;
}

/** POST .../multimodal-generation/generation (file or SSE) and the signed audio links it hands out. */
export async function synthesisRoutes(app: FastifyInstance, options: SynthesisRouteOptions): Promise<void> {
  const { speech, generatedAudio, limiter } = options;

  app.post('/api/v1/services/aigc/multimodal-generation/generation', async (request, reply) => {
    const account = accountOf(request);
    takeRateToken(limiter, request);
    if (!isObject(request.body)) throw new InvalidField('body', 'must be a JSON object');
    if (request.body.model === undefined || request.body.model === '') throw new WireError('BadRequest.EmptyModel', 400, `model is required: use "${fileModel}"`);
    const body = parseFields(generationBody, withParameterFallbacks(request.body));
    if (body.model !== fileModel) {
      throw new InvalidField('model', `must be ${fileModel} on this endpoint; realtime models are served over the WebSocket API at /api-ws/v1/realtime`);
    }
    const streaming = /^enable$/i.test(String(request.headers['x-dashscope-sse'] ?? ''));
    const abort = disconnectSignal(reply);
    const spoken = await speech.speak({
      account,
      voiceName: body.input.voice,
      model: body.model,
      text: body.input.text,
      language: languageOfType(body.input.language_type),
      signal: abort.signal,
    });
    reply.header('x-timbre-engine', spoken.engine.id);
    const pcm = await startedStream(encodeStream(spoken.audio, spoken.sampleRate, { format: 'pcm', sampleRate: dashscopeSampleRate }, abort.signal));

    if (!streaming) {
      const parts: Buffer[] = [];
      for await (const part of pcm) parts.push(part);
      const kept = await generatedAudio.keep(account, wavFromPcm16(Buffer.concat(parts), dashscopeSampleRate));
      return {
        status_code: 200,
        request_id: request.id,
        code: '',
        message: '',
        output: {
          text: null,
          finish_reason: 'stop',
          choices: null,
          audio: { data: '', url: baseUrl(request, options.publicUrl) + kept.link, id: kept.id, expires_at: kept.expiresAt },
        },
        usage: { input_tokens: 0, output_tokens: 0, characters: spoken.characters },
      };
    }

    // Streaming: the headers go out now; from here on errors are SSE events, not statuses.
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': request.id,
      'x-timbre-engine': spoken.engine.id,
    });
    let eventId = 0;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    const audioId = `audio_${request.id.replaceAll('-', '')}`;
    const event = (audio: Record<string, unknown>, finishReason: string) => ({
      status_code: 200,
      request_id: request.id,
      code: '',
      message: '',
      output: { text: null, finish_reason: finishReason, choices: null, audio },
      usage: { input_tokens: 0, output_tokens: 0, characters: spoken.characters },
    });
    try {
      for await (const part of pcm) {
        if (keptBytes + part.length <= maxKeptStreamBytes) kept.push(part);
        keptBytes += part.length;
        eventId += 1;
        await writeWithBackpressure(reply, sseEvent(eventId, 'result', 200, event({ data: part.toString('base64'), url: '', id: audioId, expires_at: 0 }, 'null')));
      }
      if (abort.signal.aborted) return reply;
      let audio: Record<string, unknown> = { data: '', url: '', id: audioId, expires_at: 0 };
      if (keptBytes <= maxKeptStreamBytes) {
        const file = await generatedAudio.keep(account, wavFromPcm16(Buffer.concat(kept), dashscopeSampleRate));
        audio = { data: '', url: baseUrl(request, options.publicUrl) + file.link, id: file.id, expires_at: file.expiresAt };
      }
      eventId += 1;
      reply.raw.write(sseEvent(eventId, 'result', 200, event(audio, 'stop')));
    } catch (error) {
      const wire = toWire(error);
      if (wire.status >= 500) request.log.error({ err: error }, 'synthesis failed mid-stream');
      eventId += 1;
      if (!reply.raw.destroyed) reply.raw.write(sseEvent(eventId, 'error', wire.status, { code: wire.code, message: wire.message, request_id: request.id }));
    } finally {
      reply.raw.end();
    }
    return reply;
  });

  app.get<{ Params: { file: string }; Querystring: { expires?: string; signature?: string } }>('/api/v1/audio/:file', async (request, reply) => {
    const match = /^(audio_[0-9a-f]{32})\.wav$/.exec(request.params.file);
    if (!match) throw new WireError('NotFound', 404, 'no such audio');
    const wav = await generatedAudio.read(match[1]!, request.query.expires ?? '', request.query.signature ?? '');
    return reply.type('audio/wav').header('cache-control', 'private, max-age=3600').send(wav);
  });
}
