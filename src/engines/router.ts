import type { Engine } from './engine.js';

/** Which engine serves which target model: configuration, resolved once at start. */
export class EngineRouter {
  constructor(
    private readonly engines: ReadonlyMap<string, Engine>,
    private readonly engineByModel: ReadonlyMap<string, string>,
    private readonly fallbackEngine: Engine,
  ) {}

  forModel(targetModel: string): Engine {
    const id = this.engineByModel.get(targetModel);
    return (id !== undefined ? this.engines.get(id) : undefined) ?? this.fallbackEngine;
  }

  byId(id: string): Engine | undefined {
    return this.engines.get(id);
  }

  /** target model -> engine id, for `timbre models list` and start-up logs. */
  assignments(models: readonly string[]): Record<string, string> {
    return Object.fromEntries(models.map((model) => [model, this.forModel(model).id]));
  }

  all(): Engine[] {
    return [...this.engines.values()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines.values()].map((engine) => engine.close()));
  }
}
