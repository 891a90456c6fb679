// Silero VAD v4 over a whole upload in one onnxruntime run, giving the spans sherpa-onnx's Vad
// gives window by window. Hand-written because no library runs Silero this way: sherpa-onnx (and
// Silero's own wrappers) call the network once per window, carrying the LSTM state from one
// call to the next, and over 20 s of 64 ms windows those 312 calls took 58-66 ms on the 2-core
// AMD EPYC. Only the LSTM carries anything between windows: the STFT, its normalisation and the
// convolutions read one window each. So the graph is rewritten here: the convolutions take
// every window at once as a batch, and the two LSTM layers read the windows' steps as one
// sequence, which is the same recurrence as carrying the state between calls. Over 20 s the
// probabilities agreed with onnxruntime running the original graph window by window to within
// 6e-7 (a scratch comparison); test/vad-batched.test.ts checks the spans against sherpa-onnx's.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { modelThreadSessionOptions } from './model-thread.js';
import type { Audio } from './types.js';
import { spansFromProbabilities } from './vad-segments.js';
import { requireVadRate, uploadDetection, type DetectorOptions, type SpeechSpan } from './vad.js';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type GraphProto = onnxProto.onnx.IGraphProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

/** Names in the rewritten graph. */
export const batchedSileroIo = {
  /** float [windows, windowSamples]: consecutive windows of 16 kHz audio. */
  windows: 'windows',
  /** float [windows, 1]: each window's speech probability. */
  probabilities: 'probabilities',
} as const;

class UnexpectedGraph extends Error {
  constructor(what: string) {
    super(`silero_vad.onnx is not the Silero VAD v4 graph Timbre rewrites (${what}); run \`npm install\` to restore the pinned model`);
  }
}

function subgraph(node: NodeProto, name: string): GraphProto {
  const graph = node.attribute?.find((attribute) => attribute.name === name)?.g;
  if (!graph) throw new UnexpectedGraph(`${node.name} has no ${name}`);
  return graph;
}

const inputsOf = (node: NodeProto | undefined): string[] => node?.input ?? [];
const outputsOf = (node: NodeProto | undefined): string[] => node?.output ?? [];

/** Every value name a node reads, its subgraphs' reads of outer names included. */
function reads(node: NodeProto): string[] {
  const names = [...inputsOf(node)];
  for (const attribute of node.attribute ?? []) for (const inner of attribute.g?.node ?? []) names.push(...reads(inner));
  return names.filter((name) => name !== '');
}

/**
 * The Silero VAD v4 graph (as exported by Silero, with `input, sr, h, c` in and `output, hn,
 * cn` out) rewritten for a batch of consecutive windows at 16 kHz, state starting at zero:
 * `windows` in, `probabilities` out. The 16 kHz branch of the top `If` becomes the graph; its
 * inner `If` that runs the LSTMs on the carried state is replaced by the same two LSTM layers
 * over all the windows' steps in order, reshaped back to [windows, steps, 64] for the decoder.
 */
export function batchedSileroGraph(model: Uint8Array): Uint8Array {
  const decoded = onnx.ModelProto.decode(model);
  const graph = decoded.graph;
  const top = graph?.node?.find((node) => node.opType === 'If');
  if (!graph || !top) throw new UnexpectedGraph('no sample-rate branch');
  // The branch taken when `sr` equals 16000 is the one whose STFT basis is the 16 kHz model's.
  const sixteen = subgraph(top, 'then_branch');
  const sixteenNodes = sixteen.node ?? [];
  const lstmIf = sixteenNodes.find((node) => node.opType === 'If' && (subgraph(node, 'then_branch').node ?? []).some((inner) => inner.opType === 'LSTM'));
  if (!lstmIf) throw new UnexpectedGraph('no LSTM branch');
  const carried = subgraph(lstmIf, 'then_branch');
  const lstms = (carried.node ?? []).filter((node) => node.opType === 'LSTM');
  const hidden = lstms.map((node) => node.attribute?.find((attribute) => attribute.name === 'hidden_size')?.i);
  if (lstms.length !== 2 || hidden.some((size) => Number(size) !== 64)) throw new UnexpectedGraph('not two LSTM layers of 64');
  const [first, second] = lstms as [NodeProto, NodeProto];
  // The LSTM reads [steps, batch, 64] made by a Transpose of the encoder's [batch, 64, steps].
  const lstmInput = sixteenNodes.find((node) => outputsOf(node).includes(inputsOf(first)[0] ?? ''));
  const encoded = inputsOf(lstmInput)[0];
  const sequenceOut = outputsOf(lstmIf)[0];
  const probabilityOut = sixteen.output?.[0]?.name;
  if (lstmInput?.opType !== 'Transpose' || !encoded || !sequenceOut || !probabilityOut) throw new UnexpectedGraph('the LSTM input is not a transpose of the encoder output');

  const int64s = (name: string, values: number[]) => onnx.TensorProto.create({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], int64Data: values });
  const node = (opType: string, input: string[], output: string, attribute: AttributeProto[] = []): NodeProto => ({ opType, input, output: [output], name: `batched_${output}`, attribute });
  const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
  const int = (name: string, value: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
  const recurrence = [
    // [windows, 64, steps] -> [windows, steps, 64] -> one sequence [windows * steps, 1, 64].
    node('Transpose', [encoded], 'batched_steps', [ints('perm', [0, 2, 1])]),
    node('Reshape', ['batched_steps', 'batched_sequence_shape'], 'batched_sequence'),
    // No initial state: zeros, as after a reset.
    node('LSTM', ['batched_sequence', ...inputsOf(first).slice(1, 4)], 'batched_lstm1', first.attribute ?? []),
    node('Squeeze', ['batched_lstm1', 'batched_direction_axis'], 'batched_lstm1_out'),
    node('LSTM', ['batched_lstm1_out', ...inputsOf(second).slice(1, 4)], 'batched_lstm2', second.attribute ?? []),
    node('Squeeze', ['batched_lstm2', 'batched_direction_axis'], 'batched_lstm2_out'),
    // Back to [windows, steps, 64], what the replaced branch gave the decoder.
    node('Shape', [encoded], 'batched_encoded_shape'),
    node('Gather', ['batched_encoded_shape', 'batched_steps_axis'], 'batched_step_count'),
    node('Concat', ['batched_any', 'batched_step_count', 'batched_hidden'], 'batched_window_shape', [int('axis', 0)]),
    node('Reshape', ['batched_lstm2_out', 'batched_window_shape'], sequenceOut),
  ];
  const kept = sixteenNodes.filter((each) => each !== lstmIf);
  const at = kept.findIndex((each) => inputsOf(each).includes(sequenceOut));
  if (at < 0) throw new UnexpectedGraph('nothing reads the LSTM output');
  kept.splice(at, 0, ...recurrence);
  // Rename the audio input and the probability output; drop what only fed the removed branch.
  for (const each of kept) {
    each.input = inputsOf(each).map((name) => (name === 'input' ? batchedSileroIo.windows : name));
    each.output = outputsOf(each).map((name) => (name === probabilityOut ? batchedSileroIo.probabilities : name));
  }
  const needed = new Set<string>([batchedSileroIo.probabilities]);
  const live: NodeProto[] = [];
  for (const each of [...kept].reverse()) {
    if (!outputsOf(each).some((name) => needed.has(name))) continue;
    live.unshift(each);
    for (const name of reads(each)) needed.add(name);
  }
  graph.node = live;
  graph.initializer = [...(graph.initializer ?? []), ...(sixteen.initializer ?? []), ...(carried.initializer ?? [])].filter((tensor) => needed.has(tensor.name ?? ''));
  graph.initializer.push(int64s('batched_sequence_shape', [-1, 1, 64]), int64s('batched_direction_axis', [1]), int64s('batched_steps_axis', [2]), int64s('batched_any', [-1]), int64s('batched_hidden', [64]));
  const floatType = (dims: (number | string)[]) =>
    onnx.TypeProto.create({ tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) } } });
  graph.input = [onnx.ValueInfoProto.create({ name: batchedSileroIo.windows, type: floatType(['windows', 'window_samples']) })];
  graph.output = [onnx.ValueInfoProto.create({ name: batchedSileroIo.probabilities, type: floatType(['windows', 1]) })];
  graph.valueInfo = [];
  return onnx.ModelProto.encode(decoded).finish();
}

/**
 * Silero VAD on the calling thread, every window in one run: spans as sherpa-onnx's Vad finds
 * them (see vad-segments.ts). `detect` blocks its thread (onnxruntime's run does), so it is
 * used on the VAD's own thread (vad-worker.ts).
 */
export class BatchedSpeechDetector {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly maxSpanSeconds: number,
    private readonly options: DetectorOptions,
  ) {}

  static async open(modelPath: string, maxSpanSeconds: number, threads: number, options: DetectorOptions = uploadDetection): Promise<BatchedSpeechDetector> {
    const graph = batchedSileroGraph(readFileSync(modelPath));
    const session = await ort.InferenceSession.create(graph, modelThreadSessionOptions(threads));
    return new BatchedSpeechDetector(session, maxSpanSeconds, options);
  }

  /** Each whole window's speech probability (a trailing part window is not read, as sherpa-onnx does not). */
  async probabilities(samples: Float32Array): Promise<Float32Array> {
    const size = this.options.windowSamples;
    const count = Math.floor(samples.length / size);
    if (count === 0) return new Float32Array(0);
    const windows = samples.length === count * size ? samples : samples.slice(0, count * size);
    const outputs = await this.session.run({ [batchedSileroIo.windows]: new ort.Tensor('float32', windows, [count, size]) });
    return outputs[batchedSileroIo.probabilities]!.data as Float32Array;
  }

  /** Spans of speech in 16 kHz audio, in order. */
  async detect(audio: Audio): Promise<SpeechSpan[]> {
    requireVadRate(audio);
    return spansFromProbabilities(await this.probabilities(audio.samples), this.options, this.maxSpanSeconds);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
