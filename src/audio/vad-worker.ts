// Runs Silero VAD on its own thread (see SpeechDetectorThread in vad.ts).
import { workerData } from 'node:worker_threads';
import { serveModelThread } from './model-thread.js';
import { SpeechDetector, vadSampleRate, type DetectorOptions, type SpeechSpan } from './vad.js';

const { modelPath, maxSpanSeconds, options } = workerData as { modelPath: string; maxSpanSeconds: number; options: DetectorOptions };

serveModelThread<Float32Array, SpeechSpan[]>(async () => {
  const detector = new SpeechDetector(modelPath, maxSpanSeconds, options);
  return async (samples) => ({ result: detector.detect({ samples, sampleRate: vadSampleRate }) });
});
