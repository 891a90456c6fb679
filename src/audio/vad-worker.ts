// Runs Silero VAD on its own thread (see SpeechDetectorThread in vad.ts), every window of an
// upload in one batched run (see vad-batched.ts).
import { workerData } from 'node:worker_threads';
import { serveModelThread } from './model-thread.js';
import { BatchedSpeechDetector } from './vad-batched.js';
import { vadSampleRate, type DetectorOptions, type SpeechSpan } from './vad.js';

const { modelPath, maxSpanSeconds, threads, options } = workerData as { modelPath: string; maxSpanSeconds: number; threads: number; options: DetectorOptions };

serveModelThread<Float32Array, SpeechSpan[]>(async () => {
  const detector = await BatchedSpeechDetector.open(modelPath, maxSpanSeconds, threads, options);
  return async (samples) => ({ result: await detector.detect({ samples, sampleRate: vadSampleRate }) });
});
