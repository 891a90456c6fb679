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
}
