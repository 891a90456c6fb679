/**
 * One-octave RBJ biquads (Audio EQ Cookbook), Direct Form I. Hand-written: a few lines per
 * sample that run on streaming chunks inside worker threads; no maintained npm package
 * offers stateful biquads, and an ffmpeg process per request would delay the first chunk.
 */
export class OctaveBiquad {
  private x1 = 0;
  private x2 = 0;
  private y1 = 0;
  private y2 = 0;

  private constructor(
    private readonly b0: number,
    private readonly b1: number,
    private readonly b2: number,
    private readonly a1: number,
    private readonly a2: number,
  ) {}

  /** Null when the band's upper edge lies above Nyquist. */
  private static shape(centre: number, sampleRate: number): { w0: number; alpha: number } | null {
    if (centre * 1.41 >= sampleRate / 2) return null;
    const w0 = (2 * Math.PI * centre) / sampleRate;
    return { w0, alpha: Math.sin(w0) * Math.sinh((Math.LN2 / 2) * (w0 / Math.sin(w0))) };
  }

  static bandPass(centre: number, sampleRate: number): OctaveBiquad | null {
    const shape = OctaveBiquad.shape(centre, sampleRate);
    if (!shape) return null;
    const a0 = 1 + shape.alpha;
    return new OctaveBiquad(shape.alpha / a0, 0, -shape.alpha / a0, (-2 * Math.cos(shape.w0)) / a0, (1 - shape.alpha) / a0);
  }

  static peaking(centre: number, sampleRate: number, gainDb: number): OctaveBiquad | null {
    const shape = OctaveBiquad.shape(centre, sampleRate);
    if (!shape) return null;
    const a = 10 ** (gainDb / 40);
    const a0 = 1 + shape.alpha / a;
    const cosine = (-2 * Math.cos(shape.w0)) / a0;
    return new OctaveBiquad((1 + shape.alpha * a) / a0, cosine, (1 - shape.alpha * a) / a0, cosine, (1 - shape.alpha / a) / a0);
  }

  /**
   * Filters a block into `output` (which may be `input`); state carries over to the next
   * block. Locals keep the loop fast.
   */
  filter(input: Float32Array, output: Float32Array = input): void {
    const { b0, b1, b2, a1, a2 } = this;
    let { x1, x2, y1, y2 } = this;
    for (let i = 0; i < input.length; i += 1) {
      const x = input[i]!;
      const y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = x;
      y2 = y1;
      y1 = y;
      output[i] = y;
    }
    Object.assign(this, { x1, x2, y1, y2 });
  }
}
