// sherpa-onnx-node ships no .d.ts (and its JSDoc is partly wrong): the parts Timbre uses.
declare module 'sherpa-onnx-node' {
  export interface SileroVadConfig {
    model: string;
    threshold: number;
    minSilenceDuration: number;
    minSpeechDuration: number;
    windowSize: number;
    maxSpeechDuration: number;
  }
  export interface VadConfig {
    sileroVad: SileroVadConfig;
    sampleRate: number;
    numThreads: number;
    provider: string;
    debug: boolean;
  }
  export interface SpeechSegment {
    start: number;
    samples: Float32Array;
  }
  export class Vad {
    constructor(config: VadConfig, bufferSizeInSeconds: number);
    acceptWaveform(samples: Float32Array): void;
    isEmpty(): boolean;
    isDetected(): boolean;
    pop(): void;
    clear(): void;
    front(enableExternalBuffer?: boolean): SpeechSegment;
    reset(): void;
    flush(): void;
  }

  export interface GenerationConfigOptions {
    speed: number;
    referenceAudio: Float32Array;
    referenceSampleRate: number;
    referenceText?: string;
    numSteps: number;
    extra?: Record<string, number | string>;
  }
  export class GenerationConfig {
    constructor(options: GenerationConfigOptions);
  }
  /** `model` holds numThreads, provider and debug: top-level values are ignored. */
  export interface OfflineTtsConfig {
    model: Record<string, unknown> & { numThreads: number; provider: 'cpu'; debug: boolean };
    maxNumSentences: number;
  }
  export interface GeneratedAudio {
    samples: Float32Array;
    sampleRate: number;
  }
  export class OfflineTts {
    /** Loads on the libuv pool. */
    static createAsync(config: OfflineTtsConfig): Promise<OfflineTts>;
    readonly sampleRate: number;
    /**
     * Runs on the libuv pool. `onProgress` gets each chunk as it is made (copy it: its memory
     * is freed when the callback returns); returning false stops the generation.
     */
    generateAsync(request: {
      text: string;
      generationConfig: GenerationConfig;
      onProgress?: (info: { samples: Float32Array; progress: number }) => boolean;
    }): Promise<GeneratedAudio>;
  }
}
