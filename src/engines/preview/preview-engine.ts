import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { analyseVoice, spectrumBands, type VoiceStats } from '../../audio/analysis.js';
import type { Formants } from '../../audio/formants.js';
import { collectAudio, type Audio } from '../../audio/types.js';
import type { Engine, LanguageCode, SynthesisOptions, VoicePrompt } from '../engine.js';
import type { EspeakSettings } from './espeak-protocol.js';
import { EspeakPool } from './espeak-pool.js';
import type { SpectralCorrection } from './spectral-correction.js';
import { shippedCalibration } from './calibration-tables.js';

/** espeak-ng voice for each language Timbre offers. */
const espeakLanguages: Record<string, string> = { zh: 'cmn', en: 'en-us', de: 'de', it: 'it', pt: 'pt', es: 'es', ja: 'ja', ko: 'ko', fr: 'fr', ru: 'ru' };

/**
 * Variants span the F0 of typical voices; each is calibrated at start. Chosen by how well
 * Moonshine-tiny understands them (`npm run bench:intelligibility`, three runs of twelve
 * sentences): m6 for lower voices (low voice 9.5 % of words wrong, m3 13-13.3 %, m5 15.8 %; the
 * fast voice 26 % with m6 or m3), f5 for higher ones (high voice 13.5-17.5 % where f2 gave 18-20 %).
 */
const variants = [
  { name: 'm6', maxF0: 150 },
  { name: 'f5', maxF0: Infinity },
] as const;

/** The F0 a voice is spoken at: its median, times the request's pitch rate. */
function targetF0For(stats: VoiceStats, options: SynthesisOptions): number {
  return (Number.isFinite(stats.medianF0) ? stats.medianF0 : 120) * (options.pitchRate ?? 1);
}

function variantFor(targetF0: number): (typeof variants)[number]['name'] {
  return variants.find((candidate) => targetF0 <= candidate.maxF0)!.name;
}

/**
 * Several everyday sentences: espeak's variants add random jitter and a short text's median
 * F0 or syllable count is noisy, so each setting is measured on ~25 s of speech. Short plain
 * sentences, because the syllable rate read off a text depends on the text: the literary,
 * comma-laden text this replaced read 7-13 % slower than the references' passage, the tests'
 * sentences and the intelligibility bench's twelve (which agree within 2-4 %), so every voice
 * came out that much too fast.
 */
const calibrationText =
  'The bus was late again this morning, so I walked to work along the river. A man was selling fresh bread from a cart near the station. ' +
  'I bought two rolls and ate one on the way. At the office everyone was talking about the weather, because the forecast said it would snow tonight. ' +
  'My sister called at lunch to ask if I could help her move on Saturday. I told her I would bring some boxes and my old van.';
/**
 * What espeak reads at enrollment to compare itself with the reference (about 7 s at an
 * ordinary rate): the calibration text's first sentences, plain everyday sounds. Comparing
 * the whole text (25 s) took four times as long; the whole text is still read, to judge the
 * pace, and these sentences are cut from that one reading (espeak marks where each sentence
 * starts), not read a second time.
 */
const correctionText = calibrationText.split(/(?<=\.) /).slice(0, 3).join(' ');
/**
 * Read by each synthesizer thread before the server listens. The espeak-ng build is wasm2js
 * output (JavaScript, not WebAssembly), so V8 compiles it like any script: until its large
 * functions are optimised for many kinds of words, a sentence's first chunk took 15-20 ms more
 * (V8 kept deoptimising one at an indirect call it had not seen), after these sentences read
 * twice 1-3 ms. Varied on purpose: numbers, money, times, questions, exclamations, commas,
 * semicolons, abbreviations, most of English's spellings.
 */
const rehearsalSentences = [
  'Quick, check the gauge before the valve jams!',
  'Why does the yellow jacket hang by the zipper?',
  'Six thick thistle sticks were stacked in June.',
  'Would you join us for breakfast at 7:45 on the 3rd of August?',
  'The judge measured the huge bridge with a rusty chain.',
  'Oh, I thought you knew: the choir sings every Thursday evening.',
  "Vivid violet vases vanished overnight, didn't they?",
  'She paid $12.50 for three pounds of plums and a jar of honey.',
  'Few pilots fly through foggy valleys in winter.',
  'Is it true that the oyster shop opened in 1998?',
  'We watched whales leap near the wharf; everyone cheered.',
  'Kindly bring the box of sharp knives to the kitchen.',
  'Although tired, the young engineer kept working until midnight.',
  'Mmm, the soup smells wonderful, is that thyme or sage?',
  'Please call Dr. Smith at extension 4021 tomorrow.',
  'The azure ocean glowed under a pale, quiet moon.',
  'Every January, Zoe visits her cousins in Ohio.',
  'Hurry up! The train to Boston leaves in ten minutes.',
];
/**
 * What the formant tables are read on (about 75 s): a median formant depends on the text's
 * vowels. espeak's m6 gave the calibration text alone an F1 of 506 Hz, five other passages
 * 430-486 Hz (F2 1539-1647 Hz; F3 within 0.5 %); with the rehearsal sentences, 478 Hz and
 * 1608 Hz, near the six passages together (473 and 1598 Hz).
 */
export const formantText = [calibrationText, ...rehearsalSentences].join(' ');
const pitchGrid = [0, 12, 25, 37, 50, 75, 99];
const rangeGrid = [0, 33, 66, 99];
const rateGrid = [80, 110, 140, 175, 200, 230, 260, 300, 350, 450];
const formantScaleGrid = [0.8, 0.9, 1, 1.1, 1.2];
/**
 * How far each formant of a variant is moved at most. Below 0.85 espeak's F1 hardly moves
 * (m6: 455 Hz at 0.8, 461 Hz at 0.9, 506 Hz at 1 on the calibration text); 17 of the first 40
 * LibriSpeech voices sit at that limit for F1 and 11 for F2, and a limit of 0.8 gave the same
 * likeness. Up to 1.2 the test voices' word error rates stayed within 2 points.
 */
const formantScaleLimits = { min: 0.85, max: 1.2 } as const;
/** The range the formants at each pitch are measured at. */
const formantRange = 33;
export const calibrationVersion = 8;
/** Band levels at or below this are bands the analysis could not measure. */
const unmeasuredBandDb = -100;
/** EQ beyond this per band costs intelligibility more than it gains likeness. */
const maxEqDb = 9;
/** A voice's `paceRatio` at most, or its inverse at least: beyond is a failed reading, not a voice. */
const maxPaceRatio = 1.25;
/** espeak ranges above this make its vowels harder to understand (measured with Moonshine). */
const maxRange = 40;
/** espeak-ng's own defaults: the bare synthesizer, and the base every calibration varies. */
const espeakDefaults: EspeakSettings = { voice: 'en-us', wordsPerMinute: 175, pitch: 50, range: 50, eqGainsDb: [], gain: 1, formantScales: [1, 1, 1] };

export interface Calibration {
  /** Measured median F0 at each pitch of `pitchGrid`, one row per range of `rangeGrid` (null: no voiced frame). */
  f0ByRangeAndPitch: (number | null)[][];
  /** Measured F0 spread (semitones) at each range of `rangeGrid`, at pitch 50. */
  semitonesByRange: number[];
  syllableRateByWpm: number[];
  /** The unscaled variant's median formants on `formantText` at each pitch of `pitchGrid` (range `formantRange`): F0 moves them a little. */
  formantsByPitch: Formants[];
  /** Its median formants on `formantText` with every formant scaled by each factor of `formantScaleGrid`, at espeak's defaults. */
  formantsByScale: Formants[];
  /** The bare variant's stats at espeak's defaults. */
  bare: VoiceStats;
}

export interface PreviewVoicePrompt extends VoicePrompt {
  engine: 'preview';
  stats: VoiceStats;
  /** The voice's spectral correction (absent: too little speech to measure one; the octave EQ stands in). */
  correction?: SpectralCorrection;
  /**
   * espeak's syllable rate on the calibration text at the voice's settings, over the rate the
   * tables give for its words per minute (absent: 1). The tables are read at espeak's default
   * pitch, range and formants; a voice's own settings move the rate read off the same text
   * (0.936-1.045 on the four test voices, eighteen enrollments), and the engine divides its target by this.
   */
  paceRatio?: number;
}

/**
 * Inverse of a monotonic table by linear interpolation, clamped to the grid. Settings whose
 * measurement failed (no voiced frame: NaN, or null once cached as JSON) are left out.
 */
function invert(grid: number[], measured: (number | null)[], target: number): number {
  const pairs = grid
    .flatMap((setting, index) => {
      const value = measured[index];
      return typeof value === 'number' && Number.isFinite(value) ? [[value, setting] as const] : [];
    })
    .sort((a, b) => a[0] - b[0]);
  if (target <= pairs[0]![0]) return pairs[0]![1];
  for (let i = 1; i < pairs.length; i += 1) {
    const [x1, y1] = pairs[i]!;
    const [x0, y0] = pairs[i - 1]!;
    if (target <= x1) return y0 + ((target - x0) / Math.max(1e-9, x1 - x0)) * (y1 - y0);
  }
  return pairs[pairs.length - 1]![1];
}

/** Interpolates, between the two measured range rows around `range`, a value read from each row. */
function betweenRangeRows(calibration: Calibration, range: number, read: (row: (number | null)[]) => number): number {
  const upper = Math.max(1, rangeGrid.findIndex((setting) => setting >= range));
  const [r0, r1] = [rangeGrid[upper - 1]!, rangeGrid[upper]!];
  const share = Math.max(0, Math.min(1, (range - r0) / (r1 - r0)));
  const low = read(calibration.f0ByRangeAndPitch[upper - 1]!);
  return low + share * (read(calibration.f0ByRangeAndPitch[upper]!) - low);
}

/** The formants of a calibration reading: espeak's own speech always shows them. */
function measuredFormants(stats: VoiceStats): Formants {
  if (!stats.formants) throw new Error('espeak-ng\'s calibration reading showed no formants');
  return stats.formants;
}

/** The pitch setting that gives `targetF0` at `range`. */
function pitchFor(calibration: Calibration, range: number, targetF0: number): number {
  return betweenRangeRows(calibration, range, (row) => invert(pitchGrid, row, targetF0));
}

function measuredF0s(row: (number | null)[]): number[] {
  return row.filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
}

/** Whether espeak can reach `targetF0` at `range`, between its lowest and highest measured F0. */
function reachable(calibration: Calibration, range: number, targetF0: number): boolean {
  const lowest = betweenRangeRows(calibration, range, (row) => Math.min(...measuredF0s(row)));
  const highest = betweenRangeRows(calibration, range, (row) => Math.max(...measuredF0s(row)));
  return targetF0 >= lowest && targetF0 <= highest;
}

/**
 * Each formant's scale that puts the variant's median F1, F2 and F3 (at the pitch it will speak
 * at) where the voice's are. One scale for the whole vocal tract (the shift of the long-term
 * envelope, prompt version 5) put 11 of the first 12 LibriSpeech voices at its lower limit
 * (0.88), while their median formants lay above those of espeak's reading at that scale: the
 * envelope's shift followed its tilt as well.
 */
function formantScalesFor(calibration: Calibration, formants: Formants, pitch: number): EspeakSettings['formantScales'] {
  const upper = Math.max(1, pitchGrid.findIndex((setting) => setting >= pitch));
  const share = Math.max(0, Math.min(1, (pitch - pitchGrid[upper - 1]!) / (pitchGrid[upper]! - pitchGrid[upper - 1]!)));
  const below = calibration.formantsByPitch[upper - 1]!;
  const above = calibration.formantsByPitch[upper]!;
  const atDefaults = calibration.formantsByScale[formantScaleGrid.indexOf(1)]!;
  return formants.map((voiceHz, index) => {
    const atPitch = below[index]! + share * (above[index]! - below[index]!);
    // The tables' scales are measured at espeak's default pitch: take the pitch's own shift out.
    const scale = invert(formantScaleGrid, calibration.formantsByScale.map((measured) => measured[index]!), (voiceHz * atDefaults[index]!) / atPitch);
    return Math.round(Math.max(formantScaleLimits.min, Math.min(formantScaleLimits.max, scale)) * 100) / 100;
  }) as EspeakSettings['formantScales'];
}

function detectLanguage(text: string): LanguageCode | null {
  if (/[\u3040-\u30ff]/.test(text)) return 'ja';
  if (/[\uac00-\ud7af]/.test(text)) return 'ko';
  if (/[\u4e00-\u9fff]/.test(text)) return 'zh';
  if (/[\u0400-\u04ff]/.test(text)) return 'ru';
  return null;
}

/**
 * The embedded default: espeak-ng (WebAssembly, in worker threads) steered toward the
 * enrolled voice. Pitch, pitch range and speaking rate are set through espeak's own
 * parameters, mapped through tables measured at start with the same analysis that is run on
 * references; the voice variant follows F0; each of the variant's first formants is scaled (a variant
 * file written at run time) until its median sits where the reference's does, which is how
 * the vocal tract's length and shape show; an octave-band EQ moves espeak's long-term spectrum
 * toward the reference's; loudness follows the reference.
 */
export class PreviewEngine implements Engine {
  readonly id = 'preview';
  /**
   * 2: the syllable rate is read in the octave around 1 kHz (version 1 read the whole band).
   * 3: a spectral correction toward the reference (version 2 had the octave EQ only).
   * 4: `paceRatio`, the voice's settings' effect on the syllable rate.
   * 5: the spectral correction varies with the sound being made (sound classes).
   * 6: the voice's median F1, F2 and F3, each formant scaled on its own (version 5 had one
   *    scale, from the long-term envelope's shift).
   * 7: the sound classes' corrections at 0.75 of their measured difference (0.5 before).
   */
  readonly promptVersion = 7;
  readonly languages = Object.keys(espeakLanguages);
  readonly sampleRate: number;
  private readonly pool: EspeakPool;
  private readonly calibrations = new Map<string, Promise<Calibration>>();

  private constructor(
    pool: EspeakPool,
    sampleRate: number,
    private readonly cacheDir: string | null,
  ) {
    this.pool = pool;
    this.sampleRate = sampleRate;
  }

  /**
   * `cacheDir` keeps tables measured here across starts (only when the shipped ones are out of
   * date); `measureOnly`: load and measure nothing at start (`npm run calibrate` measures itself).
   */
  static async start(options: { threads: number; maxQueued: number; cacheDir: string | null; measureOnly?: boolean }): Promise<PreviewEngine> {
    const pool = new EspeakPool(options.threads, options.maxQueued);
    const engine = new PreviewEngine(pool, await pool.sampleRate(), options.cacheDir);
    if (!options.measureOnly) engine.ready().catch(() => undefined);
    return engine;
  }

  private collect(text: string, settings: EspeakSettings): Promise<Audio> {
    return collectAudio(this.pool.synthesize(text, settings), this.sampleRate);
  }

  /** How one variant answers to pitch, range and rate (loaded once). */
  private calibration(variant: string): Promise<Calibration> {
    let pending = this.calibrations.get(variant);
    if (!pending) {
      pending = this.loadOrMeasure(variant);
      this.calibrations.set(variant, pending);
    }
    return pending;
  }

  /**
   * The shipped tables (measured when this version of Timbre was built: `npm run calibrate`),
   * else the cache file, else measured now: only when espeak-ng or the tables' layout changed
   * and nobody ran the script.
   */
  private async loadOrMeasure(variant: string): Promise<Calibration> {
    const shipped = shippedCalibration.version === calibrationVersion ? shippedCalibration.variants[variant] : undefined;
    if (shipped) return shipped;
    const cacheFile = this.cacheDir ? join(this.cacheDir, `preview-calibration-${variant}.json`) : null;
    if (cacheFile) {
      const cached = await readFile(cacheFile, 'utf8').then((text) => JSON.parse(text) as { version: number; calibration: Calibration }, () => null);
      if (cached?.version === calibrationVersion) return cached.calibration;
    }
    const calibration = await this.measureCalibration(variant);
    if (cacheFile) await writeFile(cacheFile, JSON.stringify({ version: calibrationVersion, calibration })).catch(() => undefined);
    return calibration;
  }

  /** Measures how one variant answers to pitch, range, rate and formant scales (about 40 s). */
  async measureCalibration(variant: string): Promise<Calibration> {
    const base: EspeakSettings = { ...espeakDefaults, voice: `${espeakDefaults.voice}+${variant}` };
    const measure = async (text: string, settings: Partial<EspeakSettings>) => analyseVoice(await this.collect(text, { ...base, ...settings }));
    // One job at a time, so calibration never fills the queue that requests share.
    const f0ByRangeAndPitch: (number | null)[][] = [];
    const formantsByPitch: Formants[] = [];
    const semitonesByRange: number[] = [];
    for (const range of rangeGrid) {
      const row: (number | null)[] = [];
      for (const pitch of pitchGrid) {
        const stats = await measure(calibrationText, { pitch, range });
        row.push(stats.medianF0);
        if (pitch === 50) semitonesByRange.push(stats.f0RangeSemitones);
        if (range === formantRange) formantsByPitch.push(measuredFormants(await measure(formantText, { pitch, range })));
      }
      f0ByRangeAndPitch.push(row);
    }
    const syllableRateByWpm: number[] = [];
    let bare: VoiceStats | null = null;
    for (const wordsPerMinute of rateGrid) {
      const stats = await measure(calibrationText, { wordsPerMinute });
      syllableRateByWpm.push(stats.syllableRate);
      if (wordsPerMinute === base.wordsPerMinute) bare = stats;
    }
    const formantsByScale: Formants[] = [];
    for (const scale of formantScaleGrid) {
      formantsByScale.push(measuredFormants(await measure(formantText, { formantScales: [scale, scale, scale] })));
    }
    return { f0ByRangeAndPitch, semitonesByRange, syllableRateByWpm, formantsByPitch, formantsByScale, bare: bare! };
  }

  /** Every variant's tables, measured now, as `npm run calibrate` ships them. */
  async measureAllCalibrations(): Promise<{ version: number; variants: Record<string, Calibration> }> {
    const measured: Record<string, Calibration> = {};
    for (const variant of variants) measured[variant.name] = await this.measureCalibration(variant.name);
    return { version: calibrationVersion, variants: measured };
  }

  async prepareVoice(reference: Audio, _transcript: string | null = null, language: LanguageCode | null = null): Promise<PreviewVoicePrompt> {
    const prompt: PreviewVoicePrompt = { engine: 'preview', version: this.promptVersion, stats: await this.pool.analyse(reference) };
    const spokenIn = language ?? 'en';
    const settings = await this.settingsFor(prompt, spokenIn, {});
    // Too little speech to compare gives none: the voice keeps the octave EQ.
    // The pace is judged on the whole calibration text, as the rate tables were.
    const { correction, syllableRate } = await this.pool.correct(reference, calibrationText, correctionText.length, { ...settings, eqGainsDb: [], gain: 1, correction: null });
    if (correction) prompt.correction = correction;
    // Only an English reading is the tables' reading at other settings; another language reads
    // the same letters with other syllables.
    if (spokenIn === 'en' && syllableRate > 0) {
      const { syllableRateByWpm } = await this.calibration(variantFor(targetF0For(prompt.stats, {})));
      const tableRate = invert(syllableRateByWpm, rateGrid, settings.wordsPerMinute);
      if (tableRate > 0) prompt.paceRatio = Math.min(maxPaceRatio, Math.max(1 / maxPaceRatio, syllableRate / tableRate));
    }
    return prompt;
  }

  /** espeak settings that bring its output closest to the voice. */
  async settingsFor(voice: PreviewVoicePrompt, language: LanguageCode, options: SynthesisOptions): Promise<EspeakSettings> {
    const { stats } = voice;
    const targetF0 = targetF0For(stats, options);
    const variant = variantFor(targetF0);
    const calibration = await this.calibration(variant);
    // A band above one side's Nyquist (espeak's 8 kHz band at 22.05 kHz) reads as silence:
    // leave it out, or its huge difference would tilt every other band.
    const measured = spectrumBands.map((_, band) => (stats.spectrum[band] ?? -120) > unmeasuredBandDb && (calibration.bare.spectrum[band] ?? -120) > unmeasuredBandDb);
    const differences = spectrumBands.map((_, band) => (measured[band] ? stats.spectrum[band]! - calibration.bare.spectrum[band]! : 0));
    // Only the shape of the spectrum: level is set by the gain below.
    const meanShift = differences.reduce((sum, gain) => sum + gain, 0) / Math.max(1, measured.filter(Boolean).length);
    const eqGainsDb = differences.map((difference, band) => (measured[band] ? difference - meanShift : 0));
    const volume = options.volume ?? 50;
    // A wide range lifts espeak's median pitch: narrow it until the target F0 is reachable,
    // since the median matters more to the ear than the spread.
    let range = Math.min(maxRange, invert(rangeGrid, calibration.semitonesByRange, stats.f0RangeSemitones));
    while (range > 0 && !reachable(calibration, range, targetF0)) range = Math.max(0, range - 5);
    const pitch = Math.round(pitchFor(calibration, range, targetF0));
    const correction = voice.correction ?? null;
    // The voice's settings (paceRatio) and its correction (see SpectralCorrection) move the
    // syllable rate read off espeak; by how much depends on the text. Half of the shift measured
    // on the calibration text (in log terms) kept the four test voices' pace within 6 % on
    // another text (three enrollments each: slow -2.1 to -2.6 %, high +5.1 to +5.7 %, low and
    // fast within 2 %). All of it left the slow voice 1.4-8.4 % fast; half of the correction's
    // shift alone, as prompt version 3 had it, 5.5-10 % slow (the high voice +5.8 to +7.5 %).
    const rateShift = Math.sqrt((correction?.syllableRateRatio ?? 1) * (voice.paceRatio ?? 1));
    return {
      correction,
      voice: `${espeakLanguages[language] ?? 'en-us'}+${variant}`,
      pitch,
      wordsPerMinute: Math.round(invert(rateGrid, calibration.syllableRateByWpm, (stats.syllableRate * (options.speechRate ?? 1)) / rateShift)),
      range: Math.round(range),
      eqGainsDb: correction ? [] : eqGainsDb.map((gain) => Math.max(-maxEqDb, Math.min(maxEqDb, gain))),
      gain: 10 ** ((stats.rmsDb - calibration.bare.rmsDb) / 20) * (volume / 50),
      // The vocal tract: where its resonances sit (a voice analysed without them keeps the variant's).
      formantScales: stats.formants ? formantScalesFor(calibration, stats.formants, pitch) : [1, 1, 1],
    };
  }

  async *synthesize(text: string, voice: VoicePrompt, options: SynthesisOptions = {}): AsyncGenerator<Float32Array> {
    if (voice.engine !== 'preview') throw new Error(`voice was prepared for engine ${voice.engine}, not preview`);
    const language = options.language ?? detectLanguage(text) ?? 'en';
    const settings = await this.settingsFor(voice as PreviewVoicePrompt, language, options);
    yield* this.pool.synthesize(text, settings, options.signal);
  }

  /** The synthesizer without adaptation (espeak-ng's own voice), at its default or a given rate: the baseline of benchmarks and tests. */
  synthesizeBare(text: string, options: { wordsPerMinute?: number; signal?: AbortSignal } = {}): AsyncGenerator<Float32Array> {
    return this.pool.synthesize(text, { ...espeakDefaults, wordsPerMinute: options.wordsPerMinute ?? espeakDefaults.wordsPerMinute }, options.signal);
  }

  queueDepth(): { running: number; waiting: number } {
    return this.pool.queue.depth();
  }

  /**
   * Prepares as many voices from espeak's own speech as there are synthesizer threads, side by
   * side, so each thread has run a preparation before the first real one: a 20 s reference took
   * 1.5 s the first time in a process and 0.7 s after (2-core AMD EPYC), the difference being
   * first runs (the JIT, espeak's first long reading in the thread). Each thread then reads the
   * rehearsal sentences twice at one voice's settings (see `rehearsalSentences`). Gives the
   * voices made, for rehearsing the rest of a request's path with.
   */
  async rehearse(): Promise<PreviewVoicePrompt[]> {
    await this.ready();
    const speech = await this.collect(correctionText, espeakDefaults);
    const voices = await Promise.all(Array.from({ length: this.pool.threads }, () => this.prepareVoice(speech)));
    await Promise.all(voices.map(async (voice) => this.pool.rehearse([...rehearsalSentences, ...rehearsalSentences], await this.settingsFor(voice, 'en', {}))));
    return voices;
  }

  /** Every synthesizer thread has loaded and every variant's tables are read. */
  async ready(): Promise<void> {
    await Promise.all([this.pool.ready(), ...variants.map((variant) => this.calibration(variant.name))]);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
