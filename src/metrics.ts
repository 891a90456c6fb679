import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineRouter } from './engines/router.js';
import type { SynthesisRecord } from './speech/speech-service.js';

/** Prometheus metrics of one running Timbre (its own registry, so several can share a process). */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'timbre_http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'] as const, registers: [this.registry] });
  private readonly latency = new Histogram({
    name: 'timbre_http_request_duration_seconds',
    help: 'time to answer an HTTP request (streams: until the last byte)',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly rtf = new Histogram({
    name: 'timbre_synthesis_rtf',
    help: 'real-time factor of each finished synthesis (time taken / audio length)',
    labelNames: ['engine'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [this.registry],
  });
  private readonly firstChunk = new Histogram({
    name: 'timbre_synthesis_first_chunk_seconds',
    help: 'time from the start of a synthesis to its first audio',
    labelNames: ['engine'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  private readonly syntheses = new Counter({ name: 'timbre_syntheses_total', help: 'syntheses by outcome', labelNames: ['engine', 'outcome'] as const, registers: [this.registry] });
  private readonly characters = new Counter({ name: 'timbre_synthesis_characters_total', help: 'characters spoken', labelNames: ['engine'] as const, registers: [this.registry] });

  constructor(engines: EngineRouter) {
    collectDefaultMetrics({ register: this.registry, prefix: 'timbre_' });
    new Gauge({
      name: 'timbre_engine_queue_jobs',
      help: 'synthesis jobs running or waiting, per engine',
      labelNames: ['engine', 'state'] as const,
      registers: [this.registry],
      collect() {
        for (const engine of engines.all()) {
          const depth = engine.queueDepth();
          this.set({ engine: engine.id, state: 'running' }, depth.running);
          this.set({ engine: engine.id, state: 'waiting' }, depth.waiting);
        }
      },
    });
  }

  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ method, route }, seconds);
  }

  synthesis(record: SynthesisRecord): void {
    this.syntheses.inc({ engine: record.engine, outcome: record.outcome });
    this.characters.inc({ engine: record.engine }, record.characters);
    if (record.firstChunkMs !== null) this.firstChunk.observe({ engine: record.engine }, record.firstChunkMs / 1000);
    if (record.outcome === 'done' && record.rtf !== null) this.rtf.observe({ engine: record.engine }, record.rtf);
  }
}
