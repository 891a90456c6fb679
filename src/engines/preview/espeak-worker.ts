// One espeak-ng (WebAssembly) instance per worker thread: its synthesis is synchronous, so it
// runs here and never on the event loop. Chunks are posted as they are made.
import { parentPort, workerData } from 'node:worker_threads';
import createModule, { type EspeakEvent } from '@echogarden/espeak-ng-emscripten';
import { analyseVoice, measureSyllableRate, spectrumBands } from '../../audio/analysis.js';
import { OctaveBiquad } from '../../audio/biquad.js';
import { resampleLinear } from '../../audio/resampler.js';
import { joinSamples } from '../../audio/types.js';
import { correctionLayout } from '../../audio/spectral-frames.js';
import type { EspeakSettings, FromWorker, ToWorker } from './espeak-protocol.js';
import { CorrectionFilter, spectralCorrection } from './spectral-correction.js';

if (!parentPort) throw new Error('espeak-worker runs as a worker thread');
const port = parentPort;
/** The engine sets this to 1 to cancel the running job (the thread is busy, so no message would arrive). */
const cancelFlag = new Int32Array(workerData.cancelBuffer as SharedArrayBuffer);

const espeakModule = await createModule();
const espeak = new espeakModule.eSpeakNGWorker();
const variantDir = '/usr/share/espeak-ng-data/voices/!v/';

/**
 * Consonant amplitude (percent, unvoiced and voiced) of Timbre's variants. espeak's male
 * variants speak them at 100 and f5 at 150; at 250 Moonshine-tiny got about half as many of the
 * low voice's words wrong with m3 (16.5 % -> 7.8 % on twelve sentences at the same settings),
 * the fast voice's 42 % -> 36 %, and no voice did worse.
 */
const consonantAmplitude = 250;

/**
 * Timbre's copy of the voice's variant: a variant file written once into espeak's (in-memory)
 * data folder, with its formant frequencies multiplied by `scales` (F1, F2, F3 and above) and
 * the consonants louder. A voice without a variant (espeak's own, the bare baseline) is left as
 * it is. espeak-ng ignores a voice name longer than about 40 characters, so the name stays short.
 */
function timbreVariant(voice: string, scales: [number, number, number]): string {
  const percents = scales.map((scale) => Math.round(scale * 100));
  const [language, variant] = voice.split('+') as [string, string | undefined];
  if (!variant) return voice;
  const name = `timbre_${variant}_${percents.join('_')}`;
  if (!espeakModule.FS.analyzePath(variantDir + name).exists) {
    const original = espeakModule.FS.readFile(variantDir + variant, { encoding: 'utf8' }) as string;
    const copy = original
      .replace(/^name .*$/m, `name ${name}`)
      .replace(/^consonants\b.*$/gm, '')
      .replace(/^formant\s+(\d+)\s+(\d+)/gm, (_, index: string, frequency: string) => {
        // Formant 0, espeak-ng's low-frequency component under F1, moves with F1.
        const percent = percents[Math.min(2, Math.max(0, Number(index) - 1))]!;
        return `formant ${index} ${Math.round((Number(frequency) * percent) / 100)}`;
      });
    espeakModule.FS.writeFile(variantDir + name, `${copy}\nconsonants ${consonantAmplitude} ${consonantAmplitude}\n`);
  }
  return `${language}+${name}`;
}
const sampleRate = espeak.get_samplerate();

/** Peaking filters toward the voice's spectrum, one per octave band that needs one. */
function peakingFilters(gainsDb: number[]): OctaveBiquad[] {
  return spectrumBands.flatMap((centre, index) => {
    const gainDb = gainsDb[index] ?? 0;
    const filter = Math.abs(gainDb) < 0.25 ? null : OctaveBiquad.peaking(centre, sampleRate, gainDb);
    return filter ? [filter] : [];
  });
}

function filterInPlace(samples: Float32Array, filters: OctaveBiquad[], gain: number): void {
  for (const filter of filters) filter.filter(samples);
  for (let i = 0; i < samples.length; i += 1) samples[i] = Math.max(-1, Math.min(1, samples[i]! * gain));
}

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * Sets espeak up for `settings` and synthesizes `text`, handing each chunk (as floats, before
 * EQ and gain) to `onChunk`, and each event espeak reached to `onEvent`.
 */
function speak(text: string, settings: EspeakSettings, onChunk: (samples: Float32Array<ArrayBuffer>) => void, onEvent: (event: EspeakEvent) => void = () => undefined): void {
  espeak.set_voice(timbreVariant(settings.voice, settings.formantScales));
  espeak.set_rate(settings.wordsPerMinute);
  espeak.set_pitch(settings.pitch);
  espeak.set_range(settings.range);
  espeak.synthesize(text, (chunk, events) => {
    events.forEach(onEvent);
    if (Atomics.load(cancelFlag, 0) === 1) return 1;
    if (chunk && chunk.length > 0) {
      const samples = new Float32Array(chunk.length);
      for (let i = 0; i < chunk.length; i += 1) samples[i] = chunk[i]! / 32768;
      onChunk(samples);
    }
    return 0;
  });
}

/**
 * All of espeak's reading of `text` at `settings`, in one array, and the part of it that reads
 * `text`'s first `prefixLength` characters: up to where the first sentence after them starts
 * (all of it when none does).
 */
function spokenWithPrefix(text: string, settings: EspeakSettings, prefixLength: number): { whole: Float32Array; prefix: Float32Array } {
  const parts: Float32Array[] = [];
  let prefixMs: number | null = null;
  speak(text, settings, (samples) => parts.push(samples), (event) => {
    if (prefixMs === null && event.type === 'sentence' && event.text_position > prefixLength) prefixMs = event.audio_position;
  });
  const whole = joinSamples(parts);
  const prefixEnd = prefixMs === null ? whole.length : Math.min(whole.length, Math.round((prefixMs * sampleRate) / 1000));
  return { whole, prefix: whole.subarray(0, prefixEnd) };
}

function correction(message: Extract<ToWorker, { type: 'correct' }>): void {
  const reference = resampleLinear(message.reference, message.sampleRate, sampleRate);
  // One reading serves both: it took two, and the second reading of the same sentences was
  // 60-130 ms of a voice's preparation.
  const { whole, prefix } = spokenWithPrefix(message.text, message.settings, message.correctedLength);
  const syllableRate = measureSyllableRate({ samples: whole, sampleRate });
  const measured = spectralCorrection(reference, prefix, { ...correctionLayout, sampleRate }, whole, syllableRate);
  send({ type: 'corrected', job: message.job, correction: measured, syllableRate });
}

/** Streams espeak's reading of `text`, through the voice's correction (or EQ) and gain, chunk by chunk. */
function synthesis(message: Extract<ToWorker, { type: 'synthesize' }>): void {
  const { job, text, settings } = message;
  const corrector = settings.correction ? new CorrectionFilter(settings.correction, { ...correctionLayout, sampleRate }) : null;
  const filters = corrector ? [] : peakingFilters(settings.eqGainsDb);
  const emit = (samples: Float32Array<ArrayBuffer>) => {
    if (samples.length === 0) return;
    filterInPlace(samples, filters, settings.gain);
    send({ type: 'chunk', job, samples }, [samples.buffer]);
  };
  speak(text, settings, (samples) => emit(corrector ? corrector.push(samples) : samples));
  if (corrector) emit(corrector.flush());
  send({ type: 'done', job });
}

function rehearsal(message: Extract<ToWorker, { type: 'rehearse' }>): void {
  for (const sentence of message.sentences) speak(sentence, message.settings, () => undefined);
  send({ type: 'rehearsed', job: message.job });
}

port.on('message', (message: ToWorker) => {
  try {
    if (message.type === 'analyse') send({ type: 'analysed', job: message.job, stats: analyseVoice({ samples: message.samples, sampleRate: message.sampleRate }) });
    else if (message.type === 'correct') correction(message);
    else if (message.type === 'rehearse') rehearsal(message);
    else synthesis(message);
  } catch (error) {
    send({ type: 'failed', job: message.job, message: (error as Error).message });
  }
});

send({ type: 'ready', sampleRate });
