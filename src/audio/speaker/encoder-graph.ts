// Resemblyzer's voice encoder (GE2E, Wan et al. 2018, "Generalized End-to-End Loss for Speaker
// Verification") as one ONNX graph, written from the checkpoint's weights: the mel front end's
// products (windowed DFT, power, Slaney filterbank), the partial utterances gathered from the
// mel frames, a 3-layer LSTM of 256 units, the last layer's final hidden state through a linear
// layer, ReLU and L2 normalisation: `VoiceEncoder.forward` in resemblyzer/voice_encoder.py.
import { GraphBuilder } from '../../onnx/graph-builder.js';
import { binCount, melFilterbank, windowedDftBasis, type MelOptions } from './mel.js';
import { CheckpointError, type Tensor } from './torch-checkpoint.js';

export const encoderGraphIo = {
  /** float [frames, fftSize]: the centred, unwindowed STFT frames of the whole utterance. */
  frames: 'frames',
  /** int64 [partials, partialFrames]: the frame index of each step of each partial utterance. */
  partialFrames: 'partial_frames',
  /** float [partials, 256]: each partial utterance's embedding, unit length. */
  embeddings: 'partial_embeddings',
  /** float [frames, melCount]: the mel spectrogram (for checks against librosa). */
  mel: 'mel',
} as const;

export interface EncoderShape {
  layers: number;
  hidden: number;
  embedding: number;
  melCount: number;
}

function weight(tensors: ReadonlyMap<string, Tensor>, name: string, shape: number[]): Float32Array {
  const tensor = tensors.get(name);
  if (!tensor) throw new CheckpointError(`the checkpoint has no ${name}: not a Resemblyzer voice encoder`);
  if (tensor.shape.join('x') !== shape.join('x')) throw new CheckpointError(`${name} has shape ${tensor.shape.join('x')}, expected ${shape.join('x')}`);
  return tensor.data;
}

/** The shape the checkpoint's LSTM and linear layer imply. */
export function encoderShape(tensors: ReadonlyMap<string, Tensor>): EncoderShape {
  const first = tensors.get('lstm.weight_ih_l0');
  const linear = tensors.get('linear.weight');
  if (!first || !linear || first.shape.length !== 2 || linear.shape.length !== 2) throw new CheckpointError('the checkpoint has no lstm and linear weights: not a Resemblyzer voice encoder');
  let layers = 0;
  while (tensors.has(`lstm.weight_ih_l${layers}`)) layers += 1;
  return { layers, hidden: first.shape[0]! / 4, embedding: linear.shape[0]!, melCount: first.shape[1]! };
}

/**
 * PyTorch stacks an LSTM's gates as (input, forget, cell, output); ONNX as (input, output,
 * forget, cell). Reorders the 4 row blocks of a [4H, columns] matrix or a [4H] bias.
 */
function onnxGateOrder(values: Float32Array): Float32Array {
  const block = values.length / 4;
  const out = new Float32Array(values.length);
  [0, 3, 1, 2].forEach((torchGate, onnxGate) => out.set(values.subarray(torchGate * block, (torchGate + 1) * block), onnxGate * block));
  return out;
}

function toFloat32(values: Float64Array): Float32Array {
  return Float32Array.from(values);
}

/** Transposes a row-major [rows][columns] matrix. */
function transpose(values: Float64Array, rows: number, columns: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let row = 0; row < rows; row += 1) for (let column = 0; column < columns; column += 1) out[column * rows + row] = values[row * columns + column]!;
  return out;
}

/** The serialized ONNX model of the encoder with its front end, from Resemblyzer's state dict. */
export function buildEncoderGraph(tensors: ReadonlyMap<string, Tensor>, mel: MelOptions, provenance: Record<string, string>): Uint8Array {
  const shape = encoderShape(tensors);
  if (shape.melCount !== mel.melCount) throw new CheckpointError(`the encoder takes ${shape.melCount} mel channels; the front end makes ${mel.melCount}`);
  const bins = binCount(mel);
  const graph = new GraphBuilder(
    [
      { name: encoderGraphIo.frames, type: 'float', shape: ['frames', mel.fftSize] },
      { name: encoderGraphIo.partialFrames, type: 'int64', shape: ['partials', 'steps'] },
    ],
    [
      { name: encoderGraphIo.embeddings, type: 'float', shape: ['partials', shape.embedding] },
      { name: encoderGraphIo.mel, type: 'float', shape: ['frames', mel.melCount] },
    ],
  );
  const basis = windowedDftBasis(mel);
  const real = graph.op('MatMul', [encoderGraphIo.frames, graph.floats([mel.fftSize, bins], toFloat32(basis.cos))]);
  const imaginary = graph.op('MatMul', [encoderGraphIo.frames, graph.floats([mel.fftSize, bins], toFloat32(basis.sin))]);
  const power = graph.op('Add', [graph.op('Mul', [real, real]), graph.op('Mul', [imaginary, imaginary])]);
  const melFrames = graph.op('MatMul', [power, graph.floats([bins, mel.melCount], toFloat32(transpose(melFilterbank(mel), mel.melCount, bins)))], {}, encoderGraphIo.mel);
  // [partials, steps, mel] -> [steps, partials, mel]: ONNX's LSTM takes the sequence first.
  const partials = graph.op('Gather', [melFrames, encoderGraphIo.partialFrames], { axis: 0 });
  let sequence = graph.op('Transpose', [partials], { perm: [1, 0, 2] });
  let finalHidden = '';
  for (let layer = 0; layer < shape.layers; layer += 1) {
    const inputSize = layer === 0 ? shape.melCount : shape.hidden;
    const gates = 4 * shape.hidden;
    const inputWeights = onnxGateOrder(weight(tensors, `lstm.weight_ih_l${layer}`, [gates, inputSize]));
    const recurrentWeights = onnxGateOrder(weight(tensors, `lstm.weight_hh_l${layer}`, [gates, shape.hidden]));
    const bias = new Float32Array(2 * gates);
    bias.set(onnxGateOrder(weight(tensors, `lstm.bias_ih_l${layer}`, [gates])), 0);
    bias.set(onnxGateOrder(weight(tensors, `lstm.bias_hh_l${layer}`, [gates])), gates);
    const [allHidden, lastHidden] = graph.multi(
      'LSTM',
      [sequence, graph.floats([1, gates, inputSize], inputWeights), graph.floats([1, gates, shape.hidden], recurrentWeights), graph.floats([1, 2 * gates], bias)],
      { hidden_size: shape.hidden },
      2,
    ) as [string, string];
    // Y is [steps, directions = 1, partials, hidden]; the next layer takes [steps, partials, hidden].
    sequence = graph.op('Squeeze', [allHidden, graph.int64s([1], [1])]);
    finalHidden = lastHidden;
  }
  const lastState = graph.op('Squeeze', [finalHidden, graph.int64s([1], [0])]);
  const linearWeights = weight(tensors, 'linear.weight', [shape.embedding, shape.hidden]);
  const projected = graph.op('Gemm', [lastState, graph.floats([shape.embedding, shape.hidden], linearWeights), graph.floats([shape.embedding], weight(tensors, 'linear.bias', [shape.embedding]))], { transB: 1 });
  const rectified = graph.op('Relu', [projected]);
  graph.op('LpNormalization', [rectified], { axis: -1, p: 2 }, encoderGraphIo.embeddings);
  return graph.encode(provenance, 'timbre');
}
