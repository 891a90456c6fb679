import { AudioRejected } from '../errors.js';
import type { SpeechSpan } from './vad.js';
import { durationSeconds, type Audio } from './types.js';

export const referenceLimits = {
  minSpeechSeconds: 3,
  recommendedSpeechSeconds: 10,
  maxSourceSeconds: 60,
  maxReferenceSeconds: 20,
  /** Silence kept around each speech span; longer pauses inside are shortened to twice this. */
  edgePadSeconds: 0.25,
  silentPeak: 0.001,
  /** Share of speech samples at full scale beyond which audio is refused as clipped. */
  clippedShareRefused: 0.01,
  clippedShareNoted: 0.001,
  narrowbandHz: 16000,
  targetRms: 0.1,
  peakCeiling: 0.89,
} as const;

export interface PreparedReference {
  reference: Audio;
  speechSeconds: number;
  /** Reasons the voice is usable but poorer than it could be; empty when the audio is good. */
  fallbackReasons: string[];
}

interface Piece {
  start: number;
  end: number;
  speech: number;
}

/** Pads each span, merges the ones whose padding touches, and totals the speech in each. */
function piecesOf(spans: SpeechSpan[], totalSeconds: number): Piece[] {
  const pieces: Piece[] = [];
  for (const span of spans) {
    const start = Math.max(0, span.startSeconds - referenceLimits.edgePadSeconds);
    const end = Math.min(totalSeconds, span.endSeconds + referenceLimits.edgePadSeconds);
    const speech = span.endSeconds - span.startSeconds;
    const last = pieces[pieces.length - 1];
    if (last && start <= last.end) {
      last.end = end;
      last.speech += speech;
    } else {
      pieces.push({ start, end, speech });
    }
  }
  return pieces;
}

/** The contiguous run of pieces holding the most speech within `maxSeconds` of output. */
function bestWindow(pieces: Piece[], maxSeconds: number): Piece[] {
  let best: [number, number] = [0, 0];
  let bestSpeech = -1;
  let length = 0;
  let speech = 0;
  let first = 0;
  for (let last = 0; last < pieces.length; last += 1) {
    const piece = pieces[last]!;
    length += piece.end - piece.start;
    speech += piece.speech;
    while (length > maxSeconds && first < last) {
      const dropped = pieces[first]!;
      length -= dropped.end - dropped.start;
      speech -= dropped.speech;
      first += 1;
    }
    const usable = Math.min(speech, maxSeconds);
    if (usable > bestSpeech) {
      bestSpeech = usable;
      best = [first, last + 1];
    }
  }
  return pieces.slice(best[0], best[1]);
}

/**
 * The upload's speech as pieces of at most `maxSeconds`, cut at pauses, for a recognizer
 * that takes one utterance at a time. A single span longer than that is cut where it must be.
 */
export function speechPieces(audio: Audio, spans: SpeechSpan[], maxSeconds: number): Float32Array[] {
  const rate = audio.sampleRate;
  const pieces: Float32Array[] = [];
  let groupStart = -1;
  let groupEnd = -1;
  const flush = () => {
    for (let from = groupStart; from < groupEnd; from += maxSeconds) {
      pieces.push(audio.samples.subarray(Math.round(from * rate), Math.round(Math.min(groupEnd, from + maxSeconds) * rate)));
    }
  };
  for (const piece of piecesOf(spans, durationSeconds(audio))) {
    if (groupStart >= 0 && piece.end - groupStart > maxSeconds) {
      flush();
      groupStart = -1;
    }
    if (groupStart < 0) groupStart = piece.start;
    groupEnd = piece.end;
  }
  if (groupStart >= 0) flush();
  return pieces;
}

/** Refuses an upload longer than a reference's source may be: checked before its speech is looked for. */
export function refuseOverlong(audio: Audio): void {
  if (durationSeconds(audio) > referenceLimits.maxSourceSeconds) {
    throw new AudioRejected('too_long', `the audio is longer than ${referenceLimits.maxSourceSeconds} s; send 10-20 s of speech`);
  }
}

/**
 * Turns a decoded upload and its speech spans into the stored reference: the best window of
 * at most 20 s of speech, edge silence trimmed, long pauses shortened, loudness normalised.
 * Refuses audio that cannot make a voice (an upload too long for one is refused before, by
 * `refuseOverlong`). The arithmetic is hand-written: it is a few passes over one array, and an
 * ffmpeg filter graph would need the spans as input anyway.
 */
export function prepareReference(audio: Audio, spans: SpeechSpan[], sourceSampleRate: number | null): PreparedReference {
  const totalSeconds = durationSeconds(audio);
  // Indexed loops over the samples: for-of over a typed array took this function from 9 to
  // 30 ms for a 20 s upload (V8 on Node 20), on the path of every create.
  let peak = 0;
  const source = audio.samples;
  for (let i = 0; i < source.length; i += 1) peak = Math.max(peak, Math.abs(source[i]!));
  if (peak < referenceLimits.silentPeak) {
    throw new AudioRejected('silent', 'the audio is silent');
  }
  const foundSpeech = spans.reduce((sum, span) => sum + span.endSeconds - span.startSeconds, 0);
  if (foundSpeech < referenceLimits.minSpeechSeconds) {
    throw new AudioRejected(
      'too_little_speech',
      `only ${foundSpeech.toFixed(1)} s of speech was found; at least ${referenceLimits.minSpeechSeconds} s is needed and 10-20 s is recommended`,
    );
  }

  const window = bestWindow(piecesOf(spans, totalSeconds), referenceLimits.maxReferenceSeconds);
  const rate = audio.sampleRate;
  const maxSamples = Math.round(referenceLimits.maxReferenceSeconds * rate);
  const parts: Float32Array[] = [];
  let kept = 0;
  for (const piece of window) {
    const from = Math.round(piece.start * rate);
    const to = Math.min(Math.round(piece.end * rate), from + maxSamples - kept);
    if (to <= from) break;
    parts.push(audio.samples.subarray(from, to));
    kept += to - from;
  }
  const samples = new Float32Array(kept);
  const fadeSamples = Math.round(0.005 * rate);
  let offset = 0;
  for (const part of parts) {
    samples.set(part, offset);
    // A 5 ms fade at each join so cut pauses do not click.
    for (let i = 0; i < Math.min(fadeSamples, part.length); i += 1) {
      const gain = i / fadeSamples;
      samples[offset + i]! *= gain;
      samples[offset + part.length - 1 - i]! *= gain;
    }
    offset += part.length;
  }

  const speechSeconds = Math.min(
    window.reduce((sum, piece) => sum + piece.speech, 0),
    referenceLimits.maxReferenceSeconds,
  );
  let sumSquares = 0;
  let clipped = 0;
  let keptPeak = 0;
  for (let i = 0; i < samples.length; i += 1) {
    const sample = samples[i]!;
    const magnitude = Math.abs(sample);
    sumSquares += sample * sample;
    if (magnitude >= 0.985) clipped += 1;
    keptPeak = Math.max(keptPeak, magnitude);
  }
  const clippedShare = clipped / Math.max(1, samples.length);
  if (clippedShare > referenceLimits.clippedShareRefused) {
    throw new AudioRejected('clipped', `the audio is clipped beyond repair: ${(clippedShare * 100).toFixed(1)} % of samples are at full scale`);
  }

  const fallbackReasons: string[] = [];
  if (speechSeconds < referenceLimits.recommendedSpeechSeconds) {
    fallbackReasons.push(`only ${speechSeconds.toFixed(1)} s of speech; 10-20 s gives a closer voice`);
  }
  if (sourceSampleRate !== null && sourceSampleRate < referenceLimits.narrowbandHz) {
    fallbackReasons.push(`narrowband audio (${sourceSampleRate} Hz); record at 16 kHz or more for a fuller voice`);
  }
  if (clippedShare > referenceLimits.clippedShareNoted) {
    fallbackReasons.push(`some clipping (${(clippedShare * 100).toFixed(2)} % of samples at full scale)`);
  }

  const rms = Math.sqrt(sumSquares / Math.max(1, samples.length));
  const gain = Math.min(referenceLimits.targetRms / Math.max(rms, 1e-9), referenceLimits.peakCeiling / Math.max(keptPeak, 1e-9));
  for (let i = 0; i < samples.length; i += 1) samples[i]! *= gain;

  return { reference: { samples, sampleRate: rate }, speechSeconds, fallbackReasons };
}
