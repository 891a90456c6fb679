import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Vad as VadType } from 'sherpa-onnx-node';
import type { Audio } from './types.js';

const require = createRequire(import.meta.url);

export interface SpeechSpan {
  startSeconds: number;
  endSeconds: number;
}

export const vadSampleRate = 16000;
const windowSize = 512;

export interface DetectorOptions {
  /** Speech probability above which a window is speech. */
  threshold: number;
  /** Shorter pauses do not end a span. */
  minSilenceSeconds: number;
  /** Shorter bursts are not spans. */
  minSpeechSeconds: number;
}

/** For finding the speech of an upload: short pauses stay inside a span. */
export const uploadDetection: DetectorOptions = { threshold: 0.5, minSilenceSeconds: 0.3, minSpeechSeconds: 0.25 };

/**
 * Silero VAD through sherpa-onnx. One detector serves every request: its calls are
 * synchronous, so each `detect` runs start to finish without interleaving.
 */
export class SpeechDetector {
  private readonly vad: VadType;

  constructor(modelPath: string, maxSpanSeconds: number, options: DetectorOptions = uploadDetection) {
    // sherpa-onnx's Vad does not throw on a missing model; it logs on every call instead.
    if (!existsSync(modelPath)) {
      throw new Error(`Silero VAD model not found at ${modelPath}; run \`npm install\` (it unpacks models/silero_vad.onnx)`);
    }
    const { Vad } = require('sherpa-onnx-node') as typeof import('sherpa-onnx-node');
    this.vad = new Vad(
      {
        sileroVad: {
          model: modelPath,
          threshold: options.threshold,
          minSilenceDuration: options.minSilenceSeconds,
          minSpeechDuration: options.minSpeechSeconds,
          windowSize,
          maxSpeechDuration: maxSpanSeconds,
        },
        sampleRate: vadSampleRate,
        numThreads: 1,
        provider: 'cpu',
        debug: false,
      },
      maxSpanSeconds + 5,
    );
  }

  /** Spans of speech in 16 kHz audio, in order. */
  detect(audio: Audio): SpeechSpan[] {
    if (audio.sampleRate !== vadSampleRate) throw new Error(`VAD needs ${vadSampleRate} Hz audio, got ${audio.sampleRate}`);
    const spans: SpeechSpan[] = [];
    const drain = (): void => {
      while (!this.vad.isEmpty()) {
        const segment = this.vad.front(false);
        spans.push({ startSeconds: segment.start / vadSampleRate, endSeconds: (segment.start + segment.samples.length) / vadSampleRate });
        this.vad.pop();
      }
    };
    this.vad.reset();
    const { samples } = audio;
    for (let offset = 0; offset + windowSize <= samples.length; offset += windowSize) {
      this.vad.acceptWaveform(samples.subarray(offset, offset + windowSize));
      drain();
    }
    this.vad.flush();
    drain();
    this.vad.reset();
    return spans;
  }
}
