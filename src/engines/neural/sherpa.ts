import { createRequire } from 'node:module';

export type { GenerationConfigOptions as GenerationConfig, OfflineTts } from 'sherpa-onnx-node';

type SherpaModule = typeof import('sherpa-onnx-node');
let loaded: SherpaModule | null = null;

/** The addon, loaded on first use. */
export function sherpa(): SherpaModule {
  loaded ??= createRequire(import.meta.url)('sherpa-onnx-node') as SherpaModule;
  return loaded;
}
