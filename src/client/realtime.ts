import WebSocket from 'ws';
import { TimbreApiError, TimbreConnectionError } from './errors.js';

export interface RealtimeOptions {
  model?: string;
  voice: string;
  mode?: 'server_commit' | 'commit';
  languageType?: string;
  responseFormat?: 'pcm' | 'wav' | 'mp3' | 'opus';
  sampleRate?: 8000 | 16000 | 22050 | 24000 | 44100 | 48000;
  speechRate?: number;
  pitchRate?: number;
  volume?: number;
  /** kbps, for mp3 and opus. */
  bitRate?: number;
}

export type RealtimeEvent = { type: string; event_id: string } & Record<string, unknown>;

/**
 * A realtime session: append / commit / clear / cancel / finish, audio as an async
 * iterator of decoded bytes (in the session's format), every server event on `events`.
 */
export class RealtimeSession {
  readonly events: RealtimeEvent[] = [];
  private readonly audioQueue: (Buffer | null)[] = [];
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private readonly finished: Promise<void>;
  private closed = false;
  private waiters: { wanted: string[]; resolve: (event: RealtimeEvent) => void; reject: (error: Error) => void }[] = [];

  private constructor(private readonly socket: WebSocket) {
    let resolveFinished!: () => void;
    this.finished = new Promise((resolve) => {
      resolveFinished = resolve;
    });
    socket.on('message', (data) => {
      const event = JSON.parse(data.toString()) as RealtimeEvent;
      this.events.push(event);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.wanted.includes(event.type)) return true;
        waiter.resolve(event);
        return false;
      });
      if (event.type === 'response.audio.delta') this.audioQueue.push(Buffer.from(String(event.delta), 'base64'));
      if (event.type === 'error') {
        const error = event.error as { code?: string; message?: string };
        this.onError?.(new TimbreApiError(error.code ?? 'error', error.message ?? 'error', 0, null));
      }
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.waiters) waiter.reject(new TimbreConnectionError(`session closed before ${waiter.wanted.join(' or ')}`));
      this.waiters = [];
      this.audioQueue.push(null);
      resolveFinished();
      this.notify();
    });
    socket.on('error', (error) => {
      this.failure = new TimbreConnectionError(error.message);
      this.notify();
    });
  }

  /** Called with each recoverable error event (the session goes on). */
  onError: ((error: TimbreApiError) => void) | null = null;

  private notify(): void {
    this.wake?.();
    this.wake = null;
  }

  static async open(baseUrl: string, apiKey: string, options: RealtimeOptions): Promise<RealtimeSession> {
    const model = options.model ?? 'qwen3-tts-vc-realtime-2026-01-15';
    const url = `${baseUrl.replace(/^http/, 'ws')}/api-ws/v1/realtime?model=${encodeURIComponent(model)}`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${apiKey}` } });
    const session = new RealtimeSession(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          try {
            const parsed = JSON.parse(body) as { code: string; message: string; request_id?: string };
            reject(new TimbreApiError(parsed.code, parsed.message, response.statusCode ?? 0, parsed.request_id ?? null));
          } catch {
            reject(new TimbreConnectionError(`realtime upgrade refused with HTTP ${response.statusCode}`));
          }
        });
      });
      socket.once('error', (error) => reject(new TimbreConnectionError(error.message)));
      socket.once('open', () => resolve());
    });
    await session.next('session.created');
    const fields: Record<string, unknown> = {
      voice: options.voice,
      mode: options.mode,
      language_type: options.languageType,
      response_format: options.responseFormat,
      sample_rate: options.sampleRate,
      speech_rate: options.speechRate,
      pitch_rate: options.pitchRate,
      volume: options.volume,
      bit_rate: options.bitRate,
    };
    const from = session.events.length;
    session.send({ type: 'session.update', session: Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) });
    const answer = await session.next(['session.updated', 'error'], from);
    if (answer.type === 'error') {
      const error = answer.error as { code: string; message: string };
      socket.close();
      throw new TimbreApiError(error.code, error.message, 400, null);
    }
    return session;
  }

  /** The next event of one of `types` received at or after index `from`. */
  next(types: string | string[], from = 0): Promise<RealtimeEvent> {
    const wanted = Array.isArray(types) ? types : [types];
    const found = this.events.slice(from).find((event) => wanted.includes(event.type));
    if (found) return Promise.resolve(found);
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new TimbreConnectionError(`session closed before ${wanted.join(' or ')}`));
    return new Promise((resolve, reject) => this.waiters.push({ wanted, resolve, reject }));
  }

  private send(event: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(event));
  }

  append(text: string): void {
    this.send({ type: 'input_text_buffer.append', text });
  }

  commit(): void {
    this.send({ type: 'input_text_buffer.commit' });
  }

  clear(): void {
    this.send({ type: 'input_text_buffer.clear' });
  }

  cancel(): void {
    this.send({ type: 'response.cancel' });
  }

  /** Speaks what is left, then resolves when the server has closed the session. */
  async finish(): Promise<void> {
    this.send({ type: 'session.finish' });
    await this.finished;
  }

  /** Audio bytes of every response, in order, until the session closes. */
  async *audio(): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.audioQueue.shift();
      if (chunk === null) return;
      if (chunk) {
        yield chunk;
        continue;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}
