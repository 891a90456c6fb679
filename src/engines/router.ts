import type { Engine } from './engine.js';

/** Neural engines in order of preference for models the configuration does not name. */
const preferredEngines = ['pocket-tts', 'zipvoice'];

/**
 * target_model -> engine id: what TIMBRE_ENGINES names, else the best available neural engine,
 * else nothing (the fallback engine, preview).
 */
export function engineAssignments(targetModels: readonly string[], configured: Record<string, string>, availableIds: readonly string[]): Map<string, string> {
  const best = preferredEngines.find((id) => availableIds.includes(id));
  const assigned = new Map<string, string>(best ? targetModels.map((model) => [model, best]) : []);
  for (const [model, id] of Object.entries(configured)) assigned.set(model, id);
  return assigned;
}

/** Which engine serves which target model: configuration, resolved once at start. */
export class EngineRouter {
  constructor(
    private readonly engines: ReadonlyMap<string, Engine>,
    private readonly engineByModel: ReadonlyMap<string, string>,
    private readonly fallbackEngine: Engine,
  ) {}

  /**
   * The engine configured for `targetModel`; for text in a language it does not speak (Pocket
   * TTS speaks English only), the fallback engine, which speaks every language of the API.
   */
  forModel(targetModel: string, language?: string | null): Engine {
    const id = this.engineByModel.get(targetModel);
    const engine = (id !== undefined ? this.engines.get(id) : undefined) ?? this.fallbackEngine;
    if (language && !engine.languages.includes(language)) return this.fallbackEngine;
    return engine;
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
