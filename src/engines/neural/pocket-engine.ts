import { catalogModel } from './catalog.js';
import { modelPaths, SherpaEngine, type NeuralEngineOptions, type NeuralVoicePrompt } from './sherpa-engine.js';
import { sherpa, type GenerationConfig, type OfflineTts } from './sherpa.js';

/** Kyutai Pocket TTS through sherpa-onnx: clones from the reference audio alone. English. */
export class PocketEngine extends SherpaEngine {
  readonly id = 'pocket-tts';
  readonly languages = catalogModel('pocket-tts')!.languages;
  protected readonly maxReferenceSeconds = 10;

  private constructor(tts: OfflineTts, options: NeuralEngineOptions) {
    super(tts, options);
  }

  static async load(options: NeuralEngineOptions): Promise<PocketEngine> {
    const paths = modelPaths(catalogModel('pocket-tts')!, options.folder);
    const tts = await sherpa().OfflineTts.createAsync({
      model: { pocket: { ...paths, voiceEmbeddingCacheCapacity: options.voiceCacheCapacity }, numThreads: options.numThreads, provider: 'cpu', debug: false },
      maxNumSentences: 1,
    });
    return new PocketEngine(tts, options);
  }

  protected generationExtras(_voice: NeuralVoicePrompt): Partial<GenerationConfig> {
    return { extra: { max_reference_audio_len: this.maxReferenceSeconds } };
  }
}
