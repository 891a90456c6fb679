// A small ONNX graph builder: the speaker encoder's graph is written with it at install time
// (weights read from a checkpoint), and the test suite's synthetic models (random weights, real
// graphs). onnx-proto supplies the protobuf types; this only assembles nodes and tensors.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type DataType = 'float' | 'int64' | 'bool';
const dataTypes: Record<DataType, number> = { float: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64, bool: onnx.TensorProto.DataType.BOOL };

/** A dimension: a fixed size, or a name for a dynamic one. */
export type Dim = number | string;

export interface ValueSpec {
  name: string;
  type: DataType;
  shape: Dim[];
}

/** Deterministic pseudo-random numbers (mulberry32), so every generated model is the same. */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private counter = 0;

  constructor(
    private readonly inputs: ValueSpec[],
    private readonly outputs: ValueSpec[],
  ) {}

  private fresh(op: string): string {
    this.counter += 1;
    return `${op.toLowerCase()}_${this.counter}`;
  }

  /** Adds a node; returns its (first) output name. `output` names it (for graph outputs). */
  op(type: string, inputs: string[], attributes: Record<string, number | number[]> = {}, output?: string): string {
    return this.opWithOutputs(type, inputs, attributes, [output ?? this.fresh(type)])[0]!;
  }

  /** Adds a node with `outputCount` fresh outputs (an LSTM's Y, Y_h, Y_c); returns their names. */
  multi(type: string, inputs: string[], attributes: Record<string, number | number[]>, outputCount: number): string[] {
    const first = this.fresh(type);
    return this.opWithOutputs(type, inputs, attributes, Array.from({ length: outputCount }, (_, index) => `${first}_${index}`));
  }

  private opWithOutputs(type: string, inputs: string[], attributes: Record<string, number | number[]>, outputs: string[]): string[] {
    this.nodes.push(
      onnx.NodeProto.create({
        opType: type,
        input: inputs,
        output: outputs,
        name: `${outputs[0]}_node`,
        attribute: Object.entries(attributes).map(([key, value]) =>
          Array.isArray(value)
            ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INTS, ints: value })
            : Number.isInteger(value)
              ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: value })
              : onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.FLOAT, f: value }),
        ),
      }),
    );
    return outputs;
  }

  /** A constant float tensor. */
  floats(dims: number[], values: ArrayLike<number>): string {
    const name = this.fresh('weight');
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: dataTypes.float, rawData: new Uint8Array(Float32Array.from(values).buffer) }));
    return name;
  }

  /** A constant float tensor of uniform random values in [-scale, scale]. */
  random(dims: number[], scale: number, random: () => number): string {
    const count = dims.reduce((product, dim) => product * dim, 1);
    return this.floats(dims, Array.from({ length: count }, () => (random() * 2 - 1) * scale));
  }

  int64s(dims: number[], values: number[]): string {
    const name = this.fresh('ints');
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: dataTypes.int64, rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) }));
    return name;
  }

  scalar(value: number): string {
    return this.floats([], [value]);
  }

  /** Dimension `axis` of `input` as a float tensor of shape [1, 1]. */
  dimAsFloat(input: string, axis: number): string {
    const shape = this.op('Shape', [input]);
    const dim = this.op('Gather', [shape, this.int64s([1], [axis])], { axis: 0 });
    const asFloat = this.op('Cast', [dim], { to: dataTypes.float });
    return this.op('Reshape', [asFloat, this.int64s([2], [1, 1])]);
  }

  encode(metadata: Record<string, string> = {}, producerName = 'timbre-test-suite'): Uint8Array {
    const valueInfo = (spec: ValueSpec) =>
      onnx.ValueInfoProto.create({
        name: spec.name,
        type: onnx.TypeProto.create({
          tensorType: onnx.TypeProto.Tensor.create({
            elemType: dataTypes[spec.type],
            shape: onnx.TensorShapeProto.create({
              dim: spec.shape.map((dim) => (typeof dim === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: dim }) : onnx.TensorShapeProto.Dimension.create({ dimParam: dim }))),
            }),
          }),
        }),
      });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })],
      metadataProps: Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
      graph: onnx.GraphProto.create({
        name: 'synthetic',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
