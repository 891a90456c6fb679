import { TranscriptRequired } from '../../errors.js';
import type { Audio } from '../../audio/types.js';
import type { LanguageCode, VoicePrompt } from '../engine.js';
import { catalogModel } from './catalog.js';
import { modelPaths, SherpaEngine, type NeuralEngineOptions, type NeuralVoicePrompt } from './sherpa-engine.js';
import { sherpa, type GenerationConfig, type OfflineTts } from './sherpa.js';

/** ZipVoice (flow matching + vocos) through sherpa-onnx: Chinese and English; needs what the reference says. */
export class ZipVoiceEngine extends SherpaEngine {
  readonly id = 'zipvoice';
  readonly languages = catalogModel('zipvoice')!.languages;
  readonly needsTranscript = true;
  protected readonly maxReferenceSeconds = 20;

  private constructor(tts: OfflineTts, options: NeuralEngineOptions) {
    super(tts, options);
  }

  static async load(options: NeuralEngineOptions): Promise<ZipVoiceEngine> {
    const paths = modelPaths(catalogModel('zipvoice')!, options.folder);
    const tts = await sherpa().OfflineTts.createAsync({
      model: { zipvoice: paths, numThreads: options.numThreads, provider: 'cpu', debug: false },
      maxNumSentences: 1,
    });
    return new ZipVoiceEngine(tts, options);
  }

  override async prepareVoice(reference: Audio, transcript: string | null, language: LanguageCode | null): Promise<VoicePrompt> {
    if (!transcript) throw new TranscriptRequired(this.id, language);
    return super.prepareVoice(reference, transcript, language);
  }

  protected generationExtras(voice: NeuralVoicePrompt): Partial<GenerationConfig> {
    return { referenceText: voice.referenceText ?? '' };
  }
}
