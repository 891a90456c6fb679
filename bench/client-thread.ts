// An HTTP client on a thread of its own, for benches that host the server in their process:
// a client on the server's event loop would wait behind work the server starts after
// answering (a new voice's analysis and watermark), which no real client does. Each request
// is timed here, from sending to the whole body received.
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

interface TimedRequest {
  id: number;
  url: string;
  headers: Record<string, string>;
  /** A body registered with `ClientThread.register`, by name. */
  bodyName: string;
}

type ToClient = { kind: 'register'; name: string; body: string } | ({ kind: 'post' } & TimedRequest);
type FromClient = { id: number; ms: number; status: number; text: string };

/** The thread's side: POSTs each registered body when asked, and answers with the time it took. */
function serve(): void {
  const bodies = new Map<string, string>();
  parentPort!.on('message', async (message: ToClient) => {
    if (message.kind === 'register') {
      bodies.set(message.name, message.body);
      return;
    }
    const start = performance.now();
    try {
      const response = await fetch(message.url, { method: 'POST', headers: message.headers, body: bodies.get(message.bodyName)! });
      const text = await response.text();
      parentPort!.postMessage({ id: message.id, ms: performance.now() - start, status: response.status, text: response.status === 200 ? '' : text } satisfies FromClient);
    } catch (error) {
      parentPort!.postMessage({ id: message.id, ms: performance.now() - start, status: 0, text: String(error) } satisfies FromClient);
    }
  });
}

/** The bench's side. */
export class ClientThread {
  private readonly worker = new Worker(new URL(import.meta.url));
  private readonly waiting = new Map<number, (answer: FromClient) => void>();
  private nextId = 1;

  constructor() {
    this.worker.on('message', (answer: FromClient) => {
      this.waiting.get(answer.id)?.(answer);
      this.waiting.delete(answer.id);
    });
  }

  /** Sends a body to the thread once, so timed requests do not copy it. */
  register(name: string, body: string): void {
    this.worker.postMessage({ kind: 'register', name, body } satisfies ToClient);
  }

  /** POSTs a registered body; resolves with the milliseconds the thread measured, refusing any status but 200. */
  async post(url: string, headers: Record<string, string>, bodyName: string): Promise<number> {
    const id = this.nextId++;
    const answer = await new Promise<FromClient>((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ kind: 'post', id, url, headers, bodyName } satisfies ToClient);
    });
    if (answer.status !== 200) throw new Error(answer.status === 0 ? answer.text : `HTTP ${answer.status}: ${answer.text}`);
    return answer.ms;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

if (!isMainThread) serve();
