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

  process(x: number): number {
    const y = this.b0 * x + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
    this.x2 = this.x1;
    this.x1 = x;
    this.y2 = this.y1;
    this.y1 = y;
    return y;
  }
}
