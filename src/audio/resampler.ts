// Sample-rate conversion inside the process, for raw PCM output. ffmpeg would do it as
// well, but spawning it from a process of several hundred MB blocks the event loop for
// 8-10 ms (fork copies the page tables) before the first byte; libsamplerate (compiled to
// WebAssembly, MIT) needs no process and keeps its filter state across chunks.
import libsamplerate from '@alexanderolsen/libsamplerate-js';

type Converter = Awaited<ReturnType<typeof libsamplerate.create>>;

export interface Resampler {
  /** Resamples the next chunk of one continuous stream. */
  process(chunk: Float32Array): Float32Array;
  /** Returns the converter for reuse (its filter history is flushed first). */
  release(): void;
}

/** Enough silence to push any earlier audio out of the sinc filter's history. */
const flushSamples = new Float32Array(2048);
const idlePerRatePair = 16;

/** Converters by rate pair, reused: creating one instantiates a WebAssembly module (3-15 ms). */
export class ResamplerPool {
  /** Idle converters for streams (`full`) and for whole signals (`simple`), kept apart: a `simple` call leaves a converter's `full` state unusable (NaN out). */
  private readonly idle = { streaming: new Map<string, Converter[]>(), whole: new Map<string, Converter[]>() };

  async acquire(inputRate: number, outputRate: number): Promise<Resampler> {
    const converter = await this.take(this.idle.streaming, inputRate, outputRate);
    let released = false;
    return {
      // `full` keeps state between calls; its result is a view into WebAssembly memory, so copy it.
      process: (chunk) => converter.full(chunk).slice(),
      release: () => {
        if (released) return;
        released = true;
        converter.full(flushSamples);
        this.giveBack(this.idle.streaming, converter);
      },
    };
  }

  /**
   * Resamples one whole signal from a fresh filter state (libsamplerate's one-call API): the
   * same input gives the same output, whatever the pooled converter did before.
   */
  async resampleWhole(samples: Float32Array, inputRate: number, outputRate: number): Promise<Float32Array> {
    const converter = await this.take(this.idle.whole, inputRate, outputRate);
    try {
      return converter.simple(samples).slice();
    } finally {
      this.giveBack(this.idle.whole, converter);
    }
  }

  private async take(shelf: Map<string, Converter[]>, inputRate: number, outputRate: number): Promise<Converter> {
    return (
      shelf.get(`${inputRate}>${outputRate}`)?.pop() ??
      (await libsamplerate.create(1, inputRate, outputRate, { converterType: libsamplerate.ConverterType.SRC_SINC_FASTEST }))
    );
  }

  private giveBack(shelf: Map<string, Converter[]>, converter: Converter): void {
    const pairKey = `${converter.inputSampleRate}>${converter.outputSampleRate}`;
    const idle = shelf.get(pairKey) ?? [];
    if (idle.length < idlePerRatePair) {
      idle.push(converter);
      shelf.set(pairKey, idle);
    } else {
      converter.destroy();
    }
  }
}

export const resamplers = new ResamplerPool();

/**
 * Linear interpolation between rates, for analysis only: enough to read spectral envelopes
 * below 7 kHz (what aliases from above the new Nyquist lands above that too), at a fraction
 * of libsamplerate's cost on a whole reference (2 ms against 60-90 ms for 20 s), and
 * synchronous, for worker threads.
 */
export function resampleLinear(samples: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return samples;
  const out = new Float32Array(Math.floor((samples.length * to) / from));
  const step = from / to;
  for (let i = 0; i < out.length; i += 1) {
    const at = i * step;
    const lower = Math.floor(at);
    const next = samples[lower + 1] ?? samples[lower]!;
    out[i] = samples[lower]! + (at - lower) * (next - samples[lower]!);
  }
  return out;
}
