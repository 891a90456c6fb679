// Who is speaking: Resemblyzer's GE2E voice encoder, run from the ONNX graph that
// `timbre models pull|add speaker-encoder` writes, with Resemblyzer's front end in TypeScript.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resample } from '../encode.js';
import { ModelThread } from '../model-thread.js';
import type { Audio } from '../types.js';
import { SpeechDetector, type DetectorOptions, type SpeechSpan } from '../vad.js';
import type { EncoderRequest, EncoderResult } from './encoder-protocol.js';
import { cosine, keepVoiced, meanDirection, normalizeVolume, partialStarts, resemblyzerPartials, resemblyzerTrim, voicedWindows } from './frontend.js';
import { centredFrames, frameCount, resemblyzerMel } from './mel.js';

/** Where `models pull|add speaker-encoder` puts the graph. */
export const speakerEncoderFiles = { folder: 'speaker-encoder', graph: 'voice-encoder.onnx' } as const;

/**
 * onnxruntime threads for the encoder: two, since the engine's analysis of a new voice follows
 * the create's answer and no longer runs beside the one-voice check (measured on a 20 s
 * create: the check held the answer 50 ms with one thread, 20 ms with two). Its threads do not
 * spin between jobs (see encoder-worker.ts), so an idle encoder takes no CPU from synthesis.
 */
export const speakerEncoderThreads = 2;

/** Resemblyzer's `audio_norm_target_dBFS`, raised to only. */
const targetDbfs = -30;

/**
 * Silero standing in for webrtcvad's aggressive mode: short pauses end a span, as webrtcvad's
 * 30 ms decisions do. Chosen by bench:speaker-equivalence (embeddings closest to Resemblyzer's).
 */
export const encoderTrimDetection: DetectorOptions = { threshold: 0.6, minSilenceSeconds: 0.05, minSpeechSeconds: 0.05, windowSamples: 512 };

export interface EmbedOptions {
  /** Shorten long silences (Resemblyzer's preprocessing, with Silero VAD); false for audio already trimmed. */
  trimSilence?: boolean;
  /** Where speech is, when a VAD pass over this audio has already found it: trims by these instead of running Silero again. */
  speechSpans?: readonly SpeechSpan[];
  /** Partial utterances per second: Resemblyzer's 1.3 (50 % overlap) unless set; 0.625 lays them back to back at half the work. */
  partialsPerSecond?: number;
}

export interface SpeakerAnalysis {
  /** The utterance's embedding: the unit-length mean of its partials' (256 values). */
  embedding: Float32Array;
  /** Each 1.6 s partial utterance's embedding, in order. */
  partials: Float32Array[];
  /** The mel spectrogram the network saw, row-major [frames][40]. */
  mel: Float32Array;
  /** Seconds of audio left after silence trimming. */
  seconds: number;
}

/** Cosine similarity of two embeddings: near 1 for one speaker, lower for two. */
export function speakerSimilarity(a: Float32Array, b: Float32Array): number {
  return cosine(a, b);
}

export class SpeakerEncoder {
  private readonly thread: ModelThread<EncoderRequest, EncoderResult>;
  /** Made on first need: the server always passes the spans its intake found, and never needs one. */
  private detector: SpeechDetector | null = null;

  /** `vadModelPath`: Silero VAD, for silence trimming when no spans are given. */
  constructor(modelPath: string, private readonly vadModelPath: string, threads: number, maxWaiting: number) {
    this.thread = new ModelThread(new URL('./encoder-worker.js', import.meta.url), { modelPath, threads }, maxWaiting, 'the speaker encoder');
  }

  /** Resemblyzer's preprocessing: 16 kHz, volume raised to -30 dBFS, long silences shortened. */
  async preprocess(audio: Audio, options: EmbedOptions = {}): Promise<Float32Array> {
    return this.preprocess16k(await resample(audio, resemblyzerMel.sampleRate), options);
  }

  private preprocess16k(samples16k: Float32Array, options: EmbedOptions): Float32Array {
    const samples = normalizeVolume(samples16k, targetDbfs, true);
    if (options.trimSilence === false) return samples;
    const spans = options.speechSpans ?? (this.detector ??= new SpeechDetector(this.vadModelPath, 30, encoderTrimDetection)).detect({ samples, sampleRate: resemblyzerMel.sampleRate });
    return keepVoiced(samples, voicedWindows(spans, samples.length, resemblyzerTrim), resemblyzerTrim);
  }

  /** The embedding of one utterance, with its partials: `preprocess_wav` then `embed_utterance`. */
  async analyse(audio: Audio, options: EmbedOptions = {}): Promise<SpeakerAnalysis> {
    // 16 kHz audio (every upload's VAD copy) reaches the thread without an await first, so
    // within the caller's own call: a create cuts its reference after starting the one-voice
    // check, and the network then runs during the cut instead of after it (8-20 ms of a create).
    const trimmed = audio.sampleRate === resemblyzerMel.sampleRate ? this.preprocess16k(audio.samples, options) : await this.preprocess(audio, options);
    const { starts, paddedLength } = partialStarts(trimmed.length, { ...resemblyzerPartials, rate: options.partialsPerSecond ?? resemblyzerPartials.rate });
    const padded = new Float32Array(paddedLength);
    padded.set(trimmed);
    const frames = centredFrames(padded, resemblyzerMel);
    const partialFrames = new Int32Array(starts.length * resemblyzerPartials.partialFrames);
    starts.forEach((start, partial) => {
      for (let step = 0; step < resemblyzerPartials.partialFrames; step += 1) partialFrames[partial * resemblyzerPartials.partialFrames + step] = start + step;
    });
    const request: EncoderRequest = { frames, frameCount: frameCount(padded.length, resemblyzerMel), partialFrames, partialCount: starts.length };
    const result = await this.thread.run(request, [frames.buffer as ArrayBuffer, partialFrames.buffer as ArrayBuffer]);
    const size = result.partials.length / starts.length;
    const partials = starts.map((_, index) => result.partials.slice(index * size, (index + 1) * size));
    return { embedding: meanDirection(partials), partials, mel: result.mel, seconds: trimmed.length / resemblyzerMel.sampleRate };
  }

  async embed(audio: Audio, options: EmbedOptions = {}): Promise<Float32Array> {
    return (await this.analyse(audio, options)).embedding;
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}

export function speakerEncoderPath(modelsDir: string): string {
  return join(modelsDir, speakerEncoderFiles.folder, speakerEncoderFiles.graph);
}

/** The encoder when `timbre models pull|add speaker-encoder` has installed it, else null. */
export function openSpeakerEncoder(modelsDir: string, threads: number, maxWaiting: number): SpeakerEncoder | null {
  const path = speakerEncoderPath(modelsDir);
  if (!existsSync(path)) return null;
  return new SpeakerEncoder(path, join(modelsDir, 'silero_vad.onnx'), threads, maxWaiting);
}
