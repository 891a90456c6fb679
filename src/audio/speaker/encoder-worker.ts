// Runs the speaker encoder's ONNX graph on its own thread: onnxruntime-node's `run()` blocks
// the thread it is called on for the whole inference.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { encoderGraphIo } from './encoder-graph.js';
import type { FromEncoder, ToEncoder } from './encoder-protocol.js';

const { modelPath, threads } = workerData as { modelPath: string; threads: number };
const port = parentPort!;

function post(message: FromEncoder, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function main(): Promise<void> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  port.on('message', (message: ToEncoder) => {
    const steps = message.partialFrames.length / message.partialCount;
    const feeds = {
      [encoderGraphIo.frames]: new ort.Tensor('float32', message.frames, [message.frameCount, message.frames.length / message.frameCount]),
      [encoderGraphIo.partialFrames]: new ort.Tensor('int64', BigInt64Array.from(message.partialFrames, BigInt), [message.partialCount, steps]),
    };
    session.run(feeds).then(
      (outputs) => {
        const partials = (outputs[encoderGraphIo.embeddings]!.data as Float32Array).slice();
        const mel = (outputs[encoderGraphIo.mel]!.data as Float32Array).slice();
        post({ type: 'embedded', job: message.job, partials, mel }, [partials.buffer as ArrayBuffer, mel.buffer as ArrayBuffer]);
      },
      (error: unknown) => post({ type: 'failed', job: message.job, message: error instanceof Error ? error.message : String(error) }),
    );
  });
  post({ type: 'ready' });
}

main().catch((error: unknown) => post({ type: 'load-failed', message: error instanceof Error ? error.message : String(error) }));
