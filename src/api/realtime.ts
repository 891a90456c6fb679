import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { RateLimiter } from '../accounts/rate-limit.js';
import { encodeStream, type OutputFormat } from '../audio/encode.js';
import { RateLimited } from '../errors.js';
import type { SpeechService } from '../speech/speech-service.js';
import { speechLimits } from '../speech/speech-service.js';
import type { Account } from '../store/repository.js';
import { accountOf, authenticate } from './auth.js';
import type { KeyService } from '../accounts/keys.js';
import { toWire, WireError } from './errors.js';
import { languageOfType, languageTypes } from './languages.js';
import { isObject } from './validation.js';

export const realtimeModels = ['qwen3-tts-vc-realtime-2026-01-15', 'qwen3-tts-vc-realtime-2025-11-27'] as const;
const sampleRates = [8000, 16000, 22050, 24000, 44100, 48000] as const;
const formats = ['pcm', 'wav', 'mp3', 'opus'] as const;

/** What `session.update` may change; every field optional, each checked on its own. */
export const sessionFields = z
  .object({
    voice: z.string().min(1, 'must be a cloned voice name'),
    mode: z.enum(['server_commit', 'commit']),
    language_type: z.enum(languageTypes),
    response_format: z.enum(formats),
    sample_rate: z.union(sampleRates.map((rate) => z.literal(rate)) as [z.ZodLiteral<number>, ...z.ZodLiteral<number>[]]),
    speech_rate: z.number().min(0.5).max(2),
    volume: z.number().min(0).max(100),
    pitch_rate: z.number().min(0.5).max(2),
    bit_rate: z.number().int().min(6).max(510),
  })
  .partial();

type SessionSettings = Required<Omit<z.output<typeof sessionFields>, 'voice' | 'bit_rate'>> & { voice: string | null; bit_rate: number | null };

/** Unsent audio beyond this makes the sender wait for the client to read (backpressure). */
const maxBufferedBytes = 512 * 1024;
/** In server_commit mode, text waiting this long without a sentence end is spoken anyway. */
const serverCommitIdleMs = 1500;
/** In server_commit mode, a buffer this long without a sentence end is cut at a space. */
const serverCommitMaxCharacters = 200;

class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function eventId(): string {
  return `event_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

/** Where server_commit may cut: after the last sentence end followed by space (or at the end). */
function committableLength(buffer: string): number {
  const ends = [...buffer.matchAll(/[.!?。！？；;…\n]+["'”’)\]]*(?=\s|$)/gu)];
  const last = ends[ends.length - 1];
  if (last?.index !== undefined) return last.index + last[0].length;
  if (buffer.length >= serverCommitMaxCharacters) {
    const space = buffer.lastIndexOf(' ', serverCommitMaxCharacters);
    return space > 0 ? space + 1 : serverCommitMaxCharacters;
  }
  return 0;
}

interface PendingItem {
  itemId: string;
  text: string;
}

/** One WebSocket connection speaking the provider's realtime protocol. */
class RealtimeSession {
  readonly id = `sess_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  private settings: SessionSettings = {
    voice: null,
    mode: 'server_commit',
    language_type: 'Auto',
    response_format: 'pcm',
    sample_rate: 24000,
    speech_rate: 1,
    volume: 50,
    pitch_rate: 1,
    bit_rate: null,
  };
  private buffer = '';
  private readonly pending: PendingItem[] = [];
  private current: { id: string; abort: AbortController } | null = null;
  private draining: Promise<void> | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private finishing = false;
  private closed = false;
  /** Events are handled one at a time, in the order they arrived. */
  private inbox: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly account: Account,
    private readonly model: string,
    private readonly speech: SpeechService,
    private readonly limiter: RateLimiter,
  ) {}

  start(): void {
    this.send({ type: 'session.created', session: this.describe() });
    this.socket.on('message', (data, isBinary) => {
      const raw = isBinary ? null : data.toString();
      this.inbox = this.inbox.then(() => this.handle(raw)).catch((error: unknown) => this.sendError(error));
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.clearIdle();
      this.pending.length = 0;
      this.current?.abort.abort(new Error('client disconnected'));
    });
  }

  private describe(): Record<string, unknown> {
    return { object: 'realtime.session', id: this.id, model: this.model, ...this.settings };
  }

  private send(event: Record<string, unknown>): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify({ event_id: eventId(), ...event }));
  }

  /** Resolves once the client has taken enough of what was sent. */
  private async drained(): Promise<void> {
    while (!this.closed && this.socket.bufferedAmount > maxBufferedBytes) {
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
  }

  private sendError(error: unknown): void {
    if (error instanceof ProtocolError) {
      this.send({ type: 'error', error: { code: error.code, message: error.message } });
      return;
    }
    const wire = toWire(error);
    if (wire.status >= 500) this.request.log.error({ err: error }, 'realtime session error');
    this.send({ type: 'error', error: { code: wire.code, message: wire.message } });
  }

  private async handle(raw: string | null): Promise<void> {
    if (raw === null) throw new ProtocolError('invalid_json', 'binary frames are not part of this protocol; send JSON text events');
    let event: unknown;
    try {
      event = JSON.parse(raw);
    } catch {
      throw new ProtocolError('invalid_json', 'the event is not valid JSON');
    }
    if (!isObject(event) || typeof event.type !== 'string') throw new ProtocolError('invalid_value', 'every event is a JSON object with a string "type"');
    if (this.finishing) throw new ProtocolError('invalid_value', 'the session is finishing; no more events are accepted');
    switch (event.type) {
      case 'session.update':
        return this.update(event.session);
      case 'input_text_buffer.append':
        return this.append(event.text);
      case 'input_text_buffer.commit':
        return this.commit(true);
      case 'input_text_buffer.clear':
        this.buffer = '';
        this.clearIdle();
        this.send({ type: 'input_text_buffer.cleared' });
        return;
      case 'response.cancel':
        if (!this.current) throw new ProtocolError('invalid_value', 'no response is in progress');
        this.current.abort.abort(new Error('cancelled by the client'));
        return;
      case 'session.finish':
        return this.finish();
      default:
        throw new ProtocolError('invalid_value', `unknown event type ${JSON.stringify(event.type).slice(0, 80)}`);
    }
  }

  private async update(fields: unknown): Promise<void> {
    if (!isObject(fields)) throw new ProtocolError('invalid_value', 'session.update needs a "session" object');
    const parsed = sessionFields.safeParse(fields);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ProtocolError('invalid_value', `session.${issue.path.join('.')}: ${issue.message}`);
    }
    if (parsed.data.voice !== undefined) await this.speech.voiceFor(this.account, parsed.data.voice, this.model);
    this.settings = { ...this.settings, ...parsed.data };
    this.send({ type: 'session.updated', session: this.describe() });
  }

  private append(text: unknown): void {
    if (typeof text !== 'string') throw new ProtocolError('invalid_value', 'input_text_buffer.append needs a string "text"');
    if (this.settings.voice === null) throw new ProtocolError('invalid_value', 'no voice is set: send session.update with session.voice first');
    if (this.buffer.length + text.length > speechLimits.maxTextCharacters) {
      throw new ProtocolError('invalid_value', `the text buffer would exceed ${speechLimits.maxTextCharacters} characters; commit before appending more`);
    }
    this.buffer += text;
    if (this.settings.mode !== 'server_commit') return;
    const length = committableLength(this.buffer);
    if (length > 0) this.queue(this.buffer.slice(0, length));
    this.buffer = this.buffer.slice(length);
    this.clearIdle();
    if (this.buffer.trim().length > 0) {
      this.idleTimer = setTimeout(() => {
        try {
          this.commit(false);
        } catch (error) {
          this.sendError(error);
        }
      }, serverCommitIdleMs);
      this.idleTimer.unref();
    }
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private commit(requested: boolean): void {
    this.clearIdle();
    if (this.buffer.trim().length === 0) {
      this.buffer = '';
      if (requested) throw new ProtocolError('invalid_value', 'the input text buffer is empty; append text before committing');
      return;
    }
    this.queue(this.buffer);
    this.buffer = '';
  }

  private queue(text: string): void {
    if (text.trim().length === 0) return;
    if (this.settings.voice === null) throw new ProtocolError('invalid_value', 'no voice is set: send session.update with session.voice first');
    const item: PendingItem = { itemId: `item_${randomUUID().replaceAll('-', '').slice(0, 24)}`, text };
    this.send({ type: 'input_text_buffer.committed', item_id: item.itemId });
    this.pending.push(item);
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
    });
  }

  /** Speaks committed items one after another, in order. */
  private async drain(): Promise<void> {
    for (let item = this.pending.shift(); item && !this.closed; item = this.pending.shift()) {
      await this.respond(item);
    }
  }

  private async respond(item: PendingItem): Promise<void> {
    const responseId = `resp_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
    const abort = new AbortController();
    this.current = { id: responseId, abort };
    const where = { response_id: responseId, item_id: item.itemId, output_index: 0, content_index: 0 };
    const settings = this.settings;
    let characters = 0;
    let status: 'completed' | 'cancelled' | 'failed' = 'completed';
    let engine: string | null = null;
    let started = false;
    try {
      const key = this.request.apiKeyHash ?? 'anonymous';
      if (!this.limiter.take(key)) throw new RateLimited(this.limiter.retryAfterSeconds(key));
      const spoken = await this.speech.speak({
        account: this.account,
        voiceName: settings.voice!,
        model: this.model,
        text: item.text,
        language: languageOfType(settings.language_type),
        speechRate: settings.speech_rate,
        pitchRate: settings.pitch_rate,
        volume: settings.volume,
        signal: abort.signal,
      });
      characters = spoken.characters;
      engine = spoken.engine.id;
      started = true;
      this.send({ type: 'response.created', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [], engine } });
      this.send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item: { id: item.itemId, object: 'realtime.item', type: 'message', status: 'in_progress', content: [] } });
      this.send({ type: 'response.content_part.added', ...where, part: { type: 'audio', text: item.text } });
      const format: OutputFormat = settings.response_format;
      const encoded = encodeStream(
        spoken.audio,
        spoken.sampleRate,
        { format, sampleRate: settings.sample_rate, ...(settings.bit_rate !== null ? { bitRate: settings.bit_rate * 1000 } : {}) },
        abort.signal,
      );
      for await (const bytes of encoded) {
        if (abort.signal.aborted) break;
        this.send({ type: 'response.audio.delta', ...where, delta: bytes.toString('base64') });
        await this.drained();
      }
      if (abort.signal.aborted) status = 'cancelled';
    } catch (error) {
      if (abort.signal.aborted) status = 'cancelled';
      else {
        status = 'failed';
        this.sendError(error);
      }
    } finally {
      this.current = null;
    }
    // Refused before any audio (throttled, voice gone): the error event said why.
    if (!started) return;
    this.send({ type: 'response.audio.done', ...where });
    this.send({ type: 'response.content_part.done', ...where, part: { type: 'audio', text: item.text } });
    this.send({ type: 'response.output_item.done', response_id: responseId, output_index: 0, item: { id: item.itemId, object: 'realtime.item', type: 'message', status: status === 'completed' ? 'completed' : 'incomplete', content: [{ type: 'audio', text: item.text }] } });
    this.send({ type: 'response.done', response: { id: responseId, object: 'realtime.response', status, engine, usage: { characters } } });
  }

  private async finish(): Promise<void> {
    this.finishing = true;
    if (this.buffer.trim().length > 0 && this.settings.voice !== null) this.commit(false);
    this.buffer = '';
    while (this.draining) await this.draining;
    this.send({ type: 'session.finished' });
    this.socket.close(1000, 'session finished');
  }
}

export interface RealtimeRouteOptions {
  keys: KeyService;
  speech: SpeechService;
  limiter: RateLimiter;
}

/** GET /api-ws/v1/realtime?model=...: the realtime WebSocket protocol. */
export async function realtimeRoutes(app: FastifyInstance, options: RealtimeRouteOptions): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  app.get<{ Querystring: { model?: string } }>(
    '/api-ws/v1/realtime',
    {
      websocket: true,
      // Refused before the upgrade, as a plain DashScope error response.
      preValidation: async (request) => {
        await authenticate(options.keys, request);
        const model = request.query.model;
        if (!model) throw new WireError('BadRequest.EmptyModel', 400, `model is required in the query: ?model=${realtimeModels[0]}`);
        if (!(realtimeModels as readonly string[]).includes(model)) {
          throw new WireError('InvalidParameter', 400, `model must be one of ${realtimeModels.join(', ')} on the realtime API, got ${JSON.stringify(model)}`);
        }
      },
    },
    (socket, request) => {
      new RealtimeSession(socket, request, accountOf(request), request.query.model!, options.speech, options.limiter).start();
    },
  );
}
