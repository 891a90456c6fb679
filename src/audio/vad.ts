import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Vad as VadType } from 'sherpa-onnx-node';
import { ModelThread } from './model-thread.js';
import type { Audio } from './types.js';

const require = createRequire(import.meta.url);

export interface SpeechSpan {
  startSeconds: number;
  endSeconds: number;
}

export const vadSampleRate = 16000;

export interface DetectorOptions {
  /** Speech probability above which a window is speech. */
  threshold: number;
  /** Shorter pauses do not end a span. */
  minSilenceSeconds: number;
  /** Shorter bursts are not spans. */
  minSpeechSeconds: number;
  /** Samples per Silero call: the model (v4) takes 512, 1024 or 1536 at 16 kHz; longer windows cost less per second. */
  windowSamples: 512 | 1024 | 1536;
}

/**
 * For finding the speech of an upload: short pauses stay inside a span. 64 ms windows halve
 * the VAD's time on the request path against 32 ms ones (68 to 35 ms for 20 s) and find within
 * 1.5 % of the same speech over 49 test and LibriSpeech recordings (96 ms windows: 4 % more,
 * spans merged over short pauses).
 */
export const uploadDetection: DetectorOptions = { threshold: 0.5, minSilenceSeconds: 0.3, minSpeechSeconds: 0.25, windowSamples: 1024 };

/** Where speech is in 16 kHz audio: found here, or on a thread. */
export interface SpeechFinder {
  detect(audio: Audio): SpeechSpan[] | Promise<SpeechSpan[]>;
}

/** Refuses audio at any rate but the VAD's (Silero here is the 16 kHz model). */
export function requireVadRate(audio: Audio): void {
  if (audio.sampleRate !== vadSampleRate) throw new Error(`VAD needs ${vadSampleRate} Hz audio, got ${audio.sampleRate}`);
}

/** sherpa-onnx's Vad does not throw on a missing model; it logs on every call instead. */
function checkModel(modelPath: string): void {
  if (!existsSync(modelPath)) throw new Error(`Silero VAD model not found at ${modelPath}; run \`npm install\` (it unpacks models/silero_vad.onnx)`);
}

/**
 * Silero VAD through sherpa-onnx, on the calling thread, one window per call. One detector
 * serves every request: its calls are synchronous, so each `detect` runs start to finish
 * without interleaving. Uploads are read by the batched run on the VAD's thread instead
 * (vad-batched.ts), which is checked against this one span for span; this one stays for the
 * speaker encoder's own trim when it is given no spans (benches and tests).
 */
export class SpeechDetector implements SpeechFinder {
  private readonly vad: VadType;
  private readonly windowSamples: number;

  constructor(modelPath: string, maxSpanSeconds: number, options: DetectorOptions = uploadDetection) {
    checkModel(modelPath);
    const { Vad } = require('sherpa-onnx-node') as typeof import('sherpa-onnx-node');
    this.vad = new Vad(
      {
        sileroVad: {
          model: modelPath,
          threshold: options.threshold,
          minSilenceDuration: options.minSilenceSeconds,
          minSpeechDuration: options.minSpeechSeconds,
          windowSize: options.windowSamples,
          maxSpeechDuration: maxSpanSeconds,
        },
        sampleRate: vadSampleRate,
        numThreads: 1,
        provider: 'cpu',
        debug: false,
      },
      maxSpanSeconds + 5,
    );
    this.windowSamples = options.windowSamples;
  }

  /** Spans of speech in 16 kHz audio, in order. */
  detect(audio: Audio): SpeechSpan[] {
    requireVadRate(audio);
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
    const size = this.windowSamples;
    for (let offset = 0; offset + size <= samples.length; offset += size) {
      this.vad.acceptWaveform(samples.subarray(offset, offset + size));
      drain();
    }
    this.vad.flush();
    drain();
    this.vad.reset();
    return spans;
  }
}

/**
 * onnxruntime threads for the upload VAD: two, since on the request path it runs before the
 * speaker checks, with the cores otherwise idle (a 20 s upload, run directly: 24 ms with two,
 * 36-49 ms with one, on the 2-core AMD EPYC; a 20 s WAV create took 164-191 ms with two and
 * 215 ms with one in bench:enroll, two runs each, alternating). They do not spin between jobs.
 */
export const uploadVadThreads = 2;

/**
 * Silero VAD on a thread of its own, every window of an upload in one batched run (see
 * vad-batched.ts; the spans are SpeechDetector's). Over a 20 s upload it takes 30-40 ms of the
 * thread, during which every stream on the node would wait if it ran on the event loop.
 */
export class SpeechDetectorThread implements SpeechFinder {
  private readonly thread: ModelThread<Float32Array, SpeechSpan[]>;

  constructor(modelPath: string, maxSpanSeconds: number, maxWaiting: number, options: DetectorOptions = uploadDetection, threads = uploadVadThreads) {
    checkModel(modelPath);
    this.thread = new ModelThread(new URL('./vad-worker.js', import.meta.url), { modelPath, maxSpanSeconds, threads, options }, maxWaiting, 'Silero VAD');
  }

  /** The caller keeps its samples: the thread reads a copy. */
  async detect(audio: Audio): Promise<SpeechSpan[]> {
    requireVadRate(audio);
    return this.thread.run(audio.samples);
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
