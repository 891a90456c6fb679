import WebSocket from 'ws';
import type { TestServer } from './helpers.js';

export type ServerEvent = Record<string, any> & { type: string; event_id: string };

/** A raw realtime client: sends JSON events, collects every server event in order. */
export class RealtimeClient {
  readonly events: ServerEvent[] = [];
  private waiters: { test: (event: ServerEvent) => boolean; resolve: (event: ServerEvent) => void }[] = [];
  closeCode: number | null = null;
  readonly closed: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const event = JSON.parse(data.toString()) as ServerEvent;
      this.events.push(event);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.test(event)) return true;
        waiter.resolve(event);
        return false;
      });
    });
    this.closed = new Promise((resolve) => socket.on('close', (code) => resolve((this.closeCode = code))));
  }

  static async connect(server: TestServer, model = 'qwen3-tts-vc-realtime-2026-01-15', key: string = server.key): Promise<RealtimeClient> {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api-ws/v1/realtime?model=${encodeURIComponent(model)}`, { headers: { authorization: `Bearer ${key}` } });
    const client = new RealtimeClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  send(event: Record<string, unknown> | string): void {
    this.socket.send(typeof event === 'string' ? event : JSON.stringify(event));
  }

  /** The next event (from now, or already received after `from`) of `type`. */
  waitFor(type: string, from = 0, timeoutMs = 20_000): Promise<ServerEvent> {
    const seen = this.events.slice(from).find((event) => event.type === type);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms; got ${this.types().join(', ')}`)), timeoutMs);
      this.waiters.push({
        test: (event) => event.type === type,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
      });
    });
  }

  /** Event types in order, runs of audio deltas folded into one. */
  types(from = 0): string[] {
    return this.events.slice(from).map((event) => event.type).filter((type, index, all) => type !== 'response.audio.delta' || all[index - 1] !== type);
  }

  /** Audio bytes of one response. */
  audioOf(responseId: string): Buffer {
    return Buffer.concat(this.events.filter((event) => event.type === 'response.audio.delta' && event.response_id === responseId).map((event) => Buffer.from(event.delta as string, 'base64')));
  }

  close(): void {
    this.socket.close();
  }
}
