// Sample-rate conversion inside the process. ffmpeg would do it as well, but spawning it from
// a process of several hundred MB blocks the event loop for 8-10 ms (fork copies the page
// tables) before the first byte. Streams go through the polyphase filter (polyphase-resampler.ts);
// whole signals (the watermark's sequences) through libsamplerate (WebAssembly, MIT).
import libsamplerate from '@alexanderolsen/libsamplerate-js';
import { PolyphaseResampler } from './polyphase-resampler.js';

type Converter = Awaited<ReturnType<typeof libsamplerate.create>>;

export interface Resampler {
  /** Resamples the next chunk of one continuous stream. */
  process(chunk: Float32Array): Float32Array;
  /** The stream's last samples; the stream ends here. */
  finish(): Float32Array;
}

/** A resampler for one stream; synchronous, as it holds no WebAssembly instance. */
export function streamResampler(inputRate: number, outputRate: number): Resampler {
  return new PolyphaseResampler(inputRate, outputRate);
}

const idlePerRatePair = 16;

/** libsamplerate converters by rate pair, reused: creating one instantiates a WebAssembly module (3-15 ms). */
export class ResamplerPool {
  private readonly idle = new Map<string, Converter[]>();

  /**
   * Resamples one whole signal from a fresh filter state (libsamplerate's one-call API): the
   * same input gives the same output, whatever the pooled converter did before.
   */
  async resampleWhole(samples: Float32Array, inputRate: number, outputRate: number): Promise<Float32Array> {
    const converter = await this.take(inputRate, outputRate);
    try {
      return converter.simple(samples).slice();
    } finally {
      this.giveBack(converter);
    }
  }

  private async take(inputRate: number, outputRate: number): Promise<Converter> {
    return (
      this.idle.get(`${inputRate}>${outputRate}`)?.pop() ??
      (await libsamplerate.create(1, inputRate, outputRate, { converterType: libsamplerate.ConverterType.SRC_SINC_FASTEST }))
    );
  }

  private giveBack(converter: Converter): void {
    const pairKey = `${converter.inputSampleRate}>${converter.outputSampleRate}`;
    const idle = this.idle.get(pairKey) ?? [];
    if (idle.length < idlePerRatePair) {
      idle.push(converter);
      this.idle.set(pairKey, idle);
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
