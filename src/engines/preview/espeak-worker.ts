// One espeak-ng (WebAssembly) instance per worker thread: its synthesis is synchronous, so it
// runs here and never on the event loop. Chunks are posted as they are made.
import { parentPort, workerData } from 'node:worker_threads';
import createModule from '@echogarden/espeak-ng-emscripten';
import { analyseVoice, spectrumBands } from '../../audio/analysis.js';
import type { FromWorker, ToWorker } from './espeak-protocol.js';

if (!parentPort) throw new Error('espeak-worker runs as a worker thread');
const port = parentPort;
/** The engine sets this to 1 to cancel the running job (the thread is busy, so no message would arrive). */
const cancelFlag = new Int32Array(workerData.cancelBuffer as SharedArrayBuffer);

const espeak = new (await createModule()).eSpeakNGWorker();
const sampleRate = espeak.get_samplerate();

interface Biquad {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
  x1: number;
  x2: number;
  y1: number;
  y2: number;
}

/**
 * RBJ peaking filters, one per octave band. Hand-written: a few lines per sample, applied to
 * each chunk as it streams out; an ffmpeg process per request would delay the first chunk.
 */
function peakingFilters(gainsDb: number[]): Biquad[] {
  return spectrumBands.flatMap((centre, index) => {
    const gainDb = gainsDb[index] ?? 0;
    if (Math.abs(gainDb) < 0.25 || centre * 1.41 >= sampleRate / 2) return [];
    const a = 10 ** (gainDb / 40);
    const w0 = (2 * Math.PI * centre) / sampleRate;
    const alpha = Math.sin(w0) * Math.sinh((Math.LN2 / 2) * (w0 / Math.sin(w0)));
    const a0 = 1 + alpha / a;
    return [
      {
        b0: (1 + alpha * a) / a0,
        b1: (-2 * Math.cos(w0)) / a0,
        b2: (1 - alpha * a) / a0,
        a1: (-2 * Math.cos(w0)) / a0,
        a2: (1 - alpha / a) / a0,
        x1: 0,
        x2: 0,
        y1: 0,
        y2: 0,
      },
    ];
  });
}

function filterInPlace(samples: Float32Array, filters: Biquad[], gain: number): void {
  for (let i = 0; i < samples.length; i += 1) {
    let value = samples[i]!;
    for (const f of filters) {
      const out = f.b0 * value + f.b1 * f.x1 + f.b2 * f.x2 - f.a1 * f.y1 - f.a2 * f.y2;
      f.x2 = f.x1;
      f.x1 = value;
      f.y2 = f.y1;
      f.y1 = out;
      value = out;
    }
    samples[i] = Math.max(-1, Math.min(1, value * gain));
  }
}

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'analyse') {
    try {
      send({ type: 'analysed', job: message.job, stats: analyseVoice({ samples: message.samples, sampleRate: message.sampleRate }) });
    } catch (error) {
      send({ type: 'failed', job: message.job, message: (error as Error).message });
    }
    return;
  }
  const { job, text, settings } = message;
  try {
    espeak.set_voice(settings.voice);
    espeak.set_rate(settings.wordsPerMinute);
    espeak.set_pitch(settings.pitch);
    espeak.set_range(settings.range);
    const filters = peakingFilters(settings.eqGainsDb);
    espeak.synthesize(text, (chunk) => {
      if (Atomics.load(cancelFlag, 0) === 1) return 1;
      if (chunk && chunk.length > 0) {
        const samples = new Float32Array(chunk.length);
        for (let i = 0; i < chunk.length; i += 1) samples[i] = chunk[i]! / 32768;
        filterInPlace(samples, filters, settings.gain);
        send({ type: 'chunk', job, samples }, [samples.buffer]);
      }
      return 0;
    });
    send({ type: 'done', job });
  } catch (error) {
    send({ type: 'failed', job, message: (error as Error).message });
  }
});

send({ type: 'ready', sampleRate });
