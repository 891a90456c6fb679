// Runs one watermark detection off the event loop: band filters and FFTs over up to a minute
// of audio take long enough (hundreds of ms) to stall every other request.
import { parentPort, workerData } from 'node:worker_threads';
import { resamplers } from './resampler.js';
import { detectWatermark, WatermarkKey, type WatermarkIdentity } from './watermark.js';

const { key, samples, candidates } = workerData as { key: Uint8Array; samples: Float32Array; candidates: WatermarkIdentity[] };
parentPort!.postMessage(detectWatermark(samples, new WatermarkKey(Buffer.from(key), resamplers), candidates));
