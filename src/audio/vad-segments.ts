// Speech spans from Silero's per-window probabilities, decided as sherpa-onnx 1.13's
// VoiceActivityDetector decides them when fed one window per call (SileroVadModel::IsSpeech and
// VoiceActivityDetector::AcceptWaveform / Flush, read in k2-fsa/sherpa-onnx): the same
// hysteresis, minimum speech and silence, the stricter settings once an utterance outgrows the
// longest span, and the same sample offsets. Written out so the probabilities can come from one
// batched run (vad-batched.ts); test/vad-batched.test.ts checks the spans against sherpa-onnx's.
import { vadSampleRate, type DetectorOptions, type SpeechSpan } from './vad.js';

/** sherpa-onnx keeps its settings in 32-bit floats and counts samples in 32-bit integers. */
const float32 = Math.fround;
const samplesOf = (seconds: number) => Math.trunc(float32(vadSampleRate * float32(seconds)));

/** What sherpa-onnx switches to while the unended utterance is longer than the longest span. */
const overlong = { threshold: 0.9, minSilenceSeconds: 0.1 } as const;

/**
 * The spans of speech, in order, from each consecutive window's probability (`options`'
 * window size). `maxSpanSeconds`: sherpa-onnx's max_speech_duration.
 */
export function spansFromProbabilities(probabilities: ArrayLike<number>, options: DetectorOptions, maxSpanSeconds: number): SpeechSpan[] {
  const window = options.windowSamples;
  const minSpeech = samplesOf(options.minSpeechSeconds);
  const longest = samplesOf(maxSpanSeconds);
  const spans: SpeechSpan[] = [];
  // The detector's buffer holds samples [head, tail); `start` is where the open utterance began (-1: none).
  let head = 0;
  let tail = 0;
  let start = -1;
  // The model's state (SileroVadModel): hysteresis and the pending start and end of speech.
  let current = 0;
  let triggered = false;
  let pendingStart = 0;
  let pendingEnd = 0;

  const segment = (from: number, to: number): void => {
    // CircularBuffer::Get answers nothing for a range it does not hold: an empty segment.
    const valid = from >= head && from < tail && to >= from && to <= tail;
    const length = valid ? to - from : 0;
    spans.push({ startSeconds: from / vadSampleRate, endSeconds: (from + length) / vadSampleRate });
  };
  const pop = (count: number): void => {
    if (count >= 0 && count <= tail - head) head += count;
  };

  /** SileroVadModel::IsSpeech for one window. */
  const isSpeech = (probability: number, threshold: number, minSilence: number): boolean => {
    current += window;
    if (probability > threshold && pendingEnd !== 0) pendingEnd = 0;
    if (probability > threshold && pendingStart === 0) {
      pendingStart = current;
      return false;
    }
    if (probability > threshold && pendingStart !== 0 && !triggered) {
      if (current - pendingStart < minSpeech) return false;
      triggered = true;
      return true;
    }
    if (probability < threshold && !triggered) {
      pendingStart = 0;
      pendingEnd = 0;
      return false;
    }
    if (probability > float32(Math.max(float32(threshold - float32(0.15)), float32(0.01))) && triggered) return true;
    if (probability < threshold && triggered) {
      if (pendingEnd === 0) pendingEnd = current;
      if (current - pendingEnd < minSilence) return true;
      pendingStart = 0;
      pendingEnd = 0;
      triggered = false;
      return false;
    }
    return false;
  };

  for (let index = 0; index < probabilities.length; index += 1) {
    const long = tail - head > longest;
    const threshold = float32(long ? overlong.threshold : options.threshold);
    const minSilence = samplesOf(long ? overlong.minSilenceSeconds : options.minSilenceSeconds);
    tail += window;
    if (isSpeech(float32(probabilities[index]!), threshold, minSilence)) {
      if (start === -1) start = Math.max(tail - 2 * window - minSpeech, head);
      continue;
    }
    if (start !== -1 && tail - head > 0) {
      const end = tail - minSilence;
      segment(start, end);
      pop(end - head);
    }
    if (start === -1) pop(Math.max(0, tail - 2 * window - minSpeech - head));
    start = -1;
  }
  // Flush: an utterance still open at the end runs to the last whole window.
  if (start !== -1 && tail - head > 0 && tail > start) segment(start, tail);
  return spans;
}
