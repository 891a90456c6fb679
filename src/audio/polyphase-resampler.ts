// Streaming sample-rate conversion by a polyphase FIR filter: upsample by L, low-pass,
// downsample by M, computing only the outputs kept (Crochiere & Rabiner, "Interpolation and
// decimation of digital signals: a tutorial review", Proc. IEEE 69(3), 1981), with a
// Kaiser-windowed sinc as the low-pass (Kaiser's design formulas, as in Oppenheim & Schafer,
// "Discrete-Time Signal Processing", 7.6).
//
// Hand-written because the maintained option, libsamplerate compiled to WebAssembly, cost the
// event loop more than everything else a realtime stream does there put together: 7-22 ms of CPU
// per second of audio at 22.05 -> 24 kHz (each converter is its own WebAssembly instance, slow
// until V8 tiers it up, and its sinc interpolates coefficients for every output sample). A
// rational ratio between fixed rates needs no interpolated coefficients: one table of L phases.

export interface PolyphaseOptions {
  /** Upper edge of the passband, as a fraction of the lower rate's Nyquist frequency (libsamplerate's fastest sinc keeps 80 %). */
  passbandFraction: number;
  /** Attenuation from the lower rate's Nyquist frequency up, in dB. */
  stopbandDb: number;
}

export const defaultPolyphaseOptions: PolyphaseOptions = { passbandFraction: 0.8, stopbandDb: 80 };

/** The filter for one pair of rates: `taps` coefficients for each of `phases` phases, each row stored oldest input first. */
interface PolyphaseFilter {
  /** L: output samples fall on a grid L times finer than the input's. */
  phases: number;
  /** M: the step between outputs on that grid. */
  step: number;
  taps: number;
  /** phases x taps; row p, column t weighs input sample (newest - taps + 1 + t). */
  coefficients: Float32Array;
  /** Where output 0 falls on the fine grid: the filter's centre, so the output is not delayed. */
  offset: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The zeroth-order modified Bessel function of the first kind (its power series), for the Kaiser window. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k += 1) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

/** Kaiser's β for a stopband attenuation of `stopbandDb`. */
function kaiserBeta(stopbandDb: number): number {
  if (stopbandDb > 50) return 0.1102 * (stopbandDb - 8.7);
  if (stopbandDb >= 21) return 0.5842 * (stopbandDb - 21) ** 0.4 + 0.07886 * (stopbandDb - 21);
  return 0;
}

/** Tables made once per pair of rates and options, shared by every stream between them. */
const filters = new Map<string, PolyphaseFilter>();
/** A bound on a table's size: rates whose ratio reduces to huge integers are not audio rates. */
const maxCoefficients = 1 << 21;

function filterFor(inputRate: number, outputRate: number, options: PolyphaseOptions): PolyphaseFilter {
  const key = `${inputRate}>${outputRate}:${options.passbandFraction}:${options.stopbandDb}`;
  const known = filters.get(key);
  if (known) return known;
  const divisor = gcd(inputRate, outputRate);
  const phases = outputRate / divisor;
  const step = inputRate / divisor;
  const fineRate = inputRate * phases;
  const nyquist = Math.min(inputRate, outputRate) / 2;
  const transitionHz = nyquist * (1 - options.passbandFraction);
  const cutoffHz = nyquist - transitionHz / 2;
  // Kaiser's length estimate for the transition width, on the fine grid.
  const estimated = (options.stopbandDb - 8) / (2.285 * ((2 * Math.PI * transitionHz) / fineRate));
  const taps = Math.max(2, Math.ceil(estimated / phases));
  const length = taps * phases;
  if (length > maxCoefficients) throw new Error(`no resampling filter for ${inputRate} -> ${outputRate} Hz: the ratio needs ${length} coefficients`);
  const beta = kaiserBeta(options.stopbandDb);
  // The centre sits on a sample of the fine grid (a half-sample centre would delay every output
  // by half a fine sample: a quarter of an output sample at 24 -> 48 kHz), and the window
  // reaches zero one sample past the longer side.
  const centre = Math.floor((length - 1) / 2);
  const halfWidth = length - centre;
  const normalisedCutoff = (2 * cutoffHz) / fineRate;
  const window0 = besselI0(beta);
  // The prototype's gain is L: the zeros stuffed between input samples took that much energy.
  const prototype = new Float64Array(length);
  for (let n = 0; n < length; n += 1) {
    const t = n - centre;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * normalisedCutoff * t) / (Math.PI * normalisedCutoff * t);
    const ratio = t / halfWidth;
    prototype[n] = phases * normalisedCutoff * sinc * (besselI0(beta * Math.sqrt(Math.max(0, 1 - ratio * ratio))) / window0);
  }
  // Output at fine position u = k0 * L + p sums prototype[p + j * L] * x[k0 - j]; rows are stored
  // reversed (oldest input first) so the inner loop walks the input forward.
  const coefficients = new Float32Array(length);
  for (let p = 0; p < phases; p += 1) {
    for (let j = 0; j < taps; j += 1) coefficients[p * taps + (taps - 1 - j)] = prototype[p + j * phases]!;
  }
  const filter: PolyphaseFilter = { phases, step, taps, coefficients, offset: centre };
  filters.set(key, filter);
  return filter;
}

/**
 * One continuous stream from `inputRate` to `outputRate`: `process` takes each chunk and gives
 * every output sample it already determines; `finish` gives the rest, so the whole stream comes
 * out exactly round(input length x outputRate / inputRate) samples long and not delayed.
 */
export class PolyphaseResampler {
  private readonly filter: PolyphaseFilter;
  /** The input the next outputs still need; `history[0]` is input sample `historyStart`. */
  private history: Float32Array;
  private historyStart: number;
  private received = 0;
  private produced = 0;
  private finished = false;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
    options: PolyphaseOptions = defaultPolyphaseOptions,
  ) {
    this.filter = filterFor(inputRate, outputRate, options);
    // The stream is silent before its first sample.
    this.history = new Float32Array(this.filter.taps - 1);
    this.historyStart = -(this.filter.taps - 1);
  }

  process(chunk: Float32Array): Float32Array {
    if (this.finished) throw new Error('the stream has already finished');
    if (chunk.length > 0) {
      const joined = new Float32Array(this.history.length + chunk.length);
      joined.set(this.history);
      joined.set(chunk, this.history.length);
      this.history = joined;
      this.received += chunk.length;
    }
    return this.drain(Infinity);
  }

  /** The stream's last samples (those that needed input after its end, which is silence); the stream ends here. */
  finish(): Float32Array {
    if (this.finished) throw new Error('the stream has already finished');
    this.finished = true;
    const total = Math.round((this.received * this.outputRate) / this.inputRate);
    const { offset, phases, step } = this.filter;
    const lastNeeded = Math.floor(((total - 1) * step + offset) / phases);
    const padding = Math.max(0, lastNeeded + 1 - this.received);
    const joined = new Float32Array(this.history.length + padding);
    joined.set(this.history);
    this.history = joined;
    return this.drain(total, this.received + padding);
  }

  /** Every output whose input is here (up to `available`), stopping before output `limit`. */
  private drain(limit: number, available = this.received): Float32Array {
    const { phases, step, taps, coefficients, offset } = this.filter;
    // Output m needs input up to floor((m * step + offset) / phases), which must be below `available`.
    const computable = Math.floor((available * phases - 1 - offset) / step) + 1;
    const count = Math.max(0, Math.min(limit, computable) - this.produced);
    const out = new Float32Array(count);
    const history = this.history;
    for (let i = 0; i < count; i += 1) {
      const fine = (this.produced + i) * step + offset;
      const newest = Math.floor(fine / phases);
      const row = (fine - newest * phases) * taps;
      const first = newest - taps + 1 - this.historyStart;
      // Four running sums: independent multiply-adds overlap (a quarter faster than one sum here).
      let sum0 = 0;
      let sum1 = 0;
      let sum2 = 0;
      let sum3 = 0;
      let t = 0;
      for (; t + 3 < taps; t += 4) {
        const c = row + t;
        const h = first + t;
        sum0 += coefficients[c]! * history[h]!;
        sum1 += coefficients[c + 1]! * history[h + 1]!;
        sum2 += coefficients[c + 2]! * history[h + 2]!;
        sum3 += coefficients[c + 3]! * history[h + 3]!;
      }
      for (; t < taps; t += 1) sum0 += coefficients[row + t]! * history[first + t]!;
      out[i] = sum0 + sum1 + sum2 + sum3;
    }
    this.produced += count;
    // Keep only the input the next output still needs.
    const nextNewest = Math.floor((this.produced * step + offset) / phases);
    const keepFrom = Math.min(nextNewest - taps + 1, this.historyStart + history.length) - this.historyStart;
    if (keepFrom > 0) {
      this.history = history.slice(keepFrom);
      this.historyStart += keepFrom;
    }
    return out;
  }
}
