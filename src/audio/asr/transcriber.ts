import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ModelThread } from '../model-thread.js';
import type { MoonshineFiles, MoonshineHeard, MoonshineRequest } from './moonshine-protocol.js';

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
/** Speech shorter than 2 s that loops is kept as heard (one copy of the loop), not split. */
const shortestSplit = 2 * 16000;
/** The split point is the quietest 30 ms in the middle third, where a pause most likely is. */
const splitWindow = 480;

/** Moonshine-tiny (English) on one worker thread; jobs beyond it wait in a bounded queue. */
export class MoonshineTranscriber implements Transcriber {
  readonly languages = ['en'] as const;
  private readonly thread: ModelThread<MoonshineRequest, MoonshineHeard>;

  constructor(files: MoonshineFiles, threads: number, maxWaiting: number) {
    this.thread = new ModelThread(new URL('./moonshine-worker.js', import.meta.url), { files, threads }, maxWaiting, 'the speech recognizer');
  }

  async transcribe(samples16k: Float32Array): Promise<string> {
    // The encoder's first convolution needs a whole kernel; shorter input is an onnxruntime error, not silence.
    if (samples16k.length < minimumSamples) return '';
    const samples = samples16k.slice();
    const heard = await this.thread.run({ samples }, [samples.buffer]);
    if (!heard.looped || samples16k.length < shortestSplit) return heard.text;
    // A loop hides whatever follows it: each half is heard on its own (and split again if it loops too).
    const middle = quietestPointInMiddleThird(samples16k);
    const halves = [await this.transcribe(samples16k.subarray(0, middle)), await this.transcribe(samples16k.subarray(middle))];
    return halves.filter((text) => text !== '').join(' ');
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}

/** Where to split `samples`: the middle of the 30 ms of least energy in their middle third. */
export function quietestPointInMiddleThird(samples: Float32Array): number {
  const from = Math.trunc(samples.length / 3);
  const to = Math.trunc((samples.length * 2) / 3) - splitWindow;
  let energy = 0;
  for (let index = from; index < from + splitWindow; index += 1) energy += samples[index]! ** 2;
  let quietest = from;
  let least = energy;
  for (let start = from + 1; start <= to; start += 1) {
    energy += samples[start + splitWindow - 1]! ** 2 - samples[start - 1]! ** 2;
    if (energy < least) {
      least = energy;
      quietest = start;
    }
  }
  return quietest + splitWindow / 2;
}

/** Moonshine when `npm install` has unpacked it into `modelsDir`, else null (no text check). */
export function openMoonshine(modelsDir: string, threads: number, maxWaiting: number): MoonshineTranscriber | null {
  const files: MoonshineFiles = { encoder: join(modelsDir, moonshineFileNames.encoder), decoder: join(modelsDir, moonshineFileNames.decoder) };
  if (!existsSync(files.encoder) || !existsSync(files.decoder)) return null;
  return new MoonshineTranscriber(files, threads, maxWaiting);
}
