import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ModelThread } from '../model-thread.js';
import type { MoonshineFiles, MoonshineRequest } from './moonshine-protocol.js';

/** Speech recognition for the reference-text check. */
export interface Transcriber {
  /** ISO 639-1 codes of the languages it recognises. */
  readonly languages: readonly string[];
  /** Text of mono 16 kHz speech (one utterance of at most ~20 s). */
  transcribe(samples16k: Float32Array): Promise<string>;
  close(): Promise<void>;
}

export const moonshineFileNames = { encoder: 'moonshine-tiny-encoder.onnx', decoder: 'moonshine-tiny-decoder.onnx' } as const;

/** Less than 10 ms of audio holds no word (and is shorter than the encoder's first kernel). */
const minimumSamples = 160;

/** Moonshine-tiny (English) on one worker thread; jobs beyond it wait in a bounded queue. */
export class MoonshineTranscriber implements Transcriber {
  readonly languages = ['en'] as const;
  private readonly thread: ModelThread<MoonshineRequest, string>;

  constructor(files: MoonshineFiles, threads: number, maxWaiting: number) {
    this.thread = new ModelThread(new URL('./moonshine-worker.js', import.meta.url), { files, threads }, maxWaiting, 'the speech recognizer');
  }

  async transcribe(samples16k: Float32Array): Promise<string> {
    // The encoder's first convolution needs a whole kernel; shorter input is an onnxruntime error, not silence.
    if (samples16k.length < minimumSamples) return '';
    const samples = samples16k.slice();
    return this.thread.run({ samples }, [samples.buffer]);
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}

/** Moonshine when `npm install` has unpacked it into `modelsDir`, else null (no text check). */
export function openMoonshine(modelsDir: string, threads: number, maxWaiting: number): MoonshineTranscriber | null {
  const files: MoonshineFiles = { encoder: join(modelsDir, moonshineFileNames.encoder), decoder: join(modelsDir, moonshineFileNames.decoder) };
  if (!existsSync(files.encoder) || !existsSync(files.decoder)) return null;
  return new MoonshineTranscriber(files, threads, maxWaiting);
}
