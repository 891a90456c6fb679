// Runs the speaker encoder's ONNX graph on its own thread (see model-thread.ts).
import { workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { modelThreadSessionOptions, serveModelThread } from '../model-thread.js';
import { encoderGraphIo } from './encoder-graph.js';
import type { EncoderRequest, EncoderResult } from './encoder-protocol.js';

const { modelPath, threads } = workerData as { modelPath: string; threads: number };

serveModelThread<EncoderRequest, EncoderResult>(async () => {
  const session = await ort.InferenceSession.create(modelPath, modelThreadSessionOptions(threads));
  return async (request) => {
    const steps = request.partialFrames.length / request.partialCount;
    const outputs = await session.run({
      [encoderGraphIo.frames]: new ort.Tensor('float32', request.frames, [request.frameCount, request.frames.length / request.frameCount]),
      [encoderGraphIo.partialFrames]: new ort.Tensor('int64', BigInt64Array.from(request.partialFrames, BigInt), [request.partialCount, steps]),
    });
    const partials = (outputs[encoderGraphIo.embeddings]!.data as Float32Array).slice();
    const mel = (outputs[encoderGraphIo.mel]!.data as Float32Array).slice();
    return { result: { partials, mel }, transfer: [partials.buffer, mel.buffer] };
  };
});
