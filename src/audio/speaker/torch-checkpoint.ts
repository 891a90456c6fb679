// Reads the float tensors of a PyTorch checkpoint in the legacy serialization (torch < 1.6:
// a magic-number pickle, a protocol pickle, a system-info pickle, the object pickle whose
// tensors name their storages by persistent id, a pickle listing the storage keys, then each
// storage as an int64 element count and its raw little-endian bytes). Resemblyzer's
// pretrained.pt is in this form.
//
// Hand-written because no npm package reads torch checkpoints, and the pickle parsers on npm
// neither resolve persistent ids nor say where a pickle ends, which this layout needs (the
// storages follow the pickles back to back). Only the opcodes torch's pickler emits for a
// state dict are understood; anything else is refused by name, never guessed at.

export class CheckpointError extends Error {}

/** A float32 tensor, C-contiguous. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

const legacyMagic = 0x1950a86a20f9469cfc6cn;

interface StorageRef {
  kind: 'storage';
  key: string;
  type: string;
}

interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

interface Global {
  kind: 'global';
  module: string;
  name: string;
}

type Value = null | boolean | number | bigint | string | Uint8Array | Value[] | Map<Value, Value> | Global | StorageRef | TensorRef | { kind: 'object'; of: Global; args: Value };

const mark = Symbol('mark');

/** One pickle from `offset`; returns its value and where the next byte after STOP is. */
function unpickle(bytes: Buffer, offset: number): { value: Value; end: number } {
  const stack: (Value | typeof mark)[] = [];
  const memo = new Map<number, Value>();
  let at = offset;
  const popToMark = (): Value[] => {
    const index = stack.lastIndexOf(mark);
    if (index < 0) throw new CheckpointError('pickle MARK missing');
    const items = stack.splice(index) as Value[];
    return items.slice(1);
  };
  const pop = (): Value => {
    const value = stack.pop();
    if (value === undefined || value === mark) throw new CheckpointError('pickle stack underflow');
    return value;
  };
  const top = (): Value => stack[stack.length - 1] as Value;
  const readLine = (): string => {
    const end = bytes.indexOf(0x0a, at);
    const line = bytes.toString('latin1', at, end);
    at = end + 1;
    return line;
  };
  const text = (length: number): string => {
    const value = bytes.toString('utf8', at, at + length);
    at += length;
    return value;
  };
  const setItems = (target: Value, items: Value[]): void => {
    if (!(target instanceof Map)) throw new CheckpointError('pickle SETITEMS on a non-dict');
    for (let index = 0; index + 1 < items.length; index += 2) target.set(items[index]!, items[index + 1]!);
  };
  const append = (target: Value, items: Value[]): void => {
    if (!Array.isArray(target)) throw new CheckpointError('pickle APPENDS on a non-list');
    target.push(...items);
  };
  for (;;) {
    if (at >= bytes.length) throw new CheckpointError('the checkpoint ends inside a pickle');
    const opcode = bytes[at++]!;
    switch (opcode) {
      case 0x80: at += 1; break; // PROTO
      case 0x95: at += 8; break; // FRAME
      case 0x2e: return { value: pop(), end: at }; // STOP
      case 0x28: stack.push(mark); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(bytes[at]!); at += 1; break; // BININT1
      case 0x4d: stack.push(bytes.readUInt16LE(at)); at += 2; break; // BININT2
      case 0x4a: stack.push(bytes.readInt32LE(at)); at += 4; break; // BININT
      case 0x47: stack.push(bytes.readDoubleBE(at)); at += 8; break; // BINFLOAT
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const length = bytes[at]!;
        at += 1;
        let value = 0n;
        for (let index = length - 1; index >= 0; index -= 1) value = (value << 8n) | BigInt(bytes[at + index]!);
        if (length > 0 && bytes[at + length - 1]! >= 0x80) value -= 1n << BigInt(8 * length);
        at += length;
        stack.push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        break;
      }
      case 0x58: { const length = bytes.readUInt32LE(at); at += 4; stack.push(text(length)); break; } // BINUNICODE
      case 0x8c: { const length = bytes[at]!; at += 1; stack.push(text(length)); break; } // SHORT_BINUNICODE
      case 0x55: { const length = bytes[at]!; at += 1; stack.push(bytes.toString('latin1', at, at + length)); at += length; break; } // SHORT_BINSTRING
      case 0x54: { const length = bytes.readUInt32LE(at); at += 4; stack.push(bytes.toString('latin1', at, at + length)); at += length; break; } // BINSTRING
      case 0x43: { const length = bytes[at]!; at += 1; stack.push(bytes.subarray(at, at + length)); at += length; break; } // SHORT_BINBYTES
      case 0x42: { const length = bytes.readUInt32LE(at); at += 4; stack.push(bytes.subarray(at, at + length)); at += length; break; } // BINBYTES
      case 0x71: memo.set(bytes[at]!, top()); at += 1; break; // BINPUT
      case 0x72: memo.set(bytes.readUInt32LE(at), top()); at += 4; break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memo.get(bytes[at]!) ?? null); at += 1; break; // BINGET
      case 0x6a: stack.push(memo.get(bytes.readUInt32LE(at)) ?? null); at += 4; break; // LONG_BINGET
      case 0x30: pop(); break; // POP
      case 0x74: stack.push(popToMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const second = pop(); stack.push([pop(), second]); break; } // TUPLE2
      case 0x87: { const third = pop(); const second = pop(); stack.push([pop(), second, third]); break; } // TUPLE3
      case 0x6c: stack.push(popToMark()); break; // LIST
      case 0x64: { const items = popToMark(); const dict = new Map<Value, Value>(); setItems(dict, items); stack.push(dict); break; } // DICT
      case 0x61: { const item = pop(); append(top(), [item]); break; } // APPEND
      case 0x65: { const items = popToMark(); append(top(), items); break; } // APPENDS
      case 0x73: { const value = pop(); const key = pop(); setItems(top(), [key, value]); break; } // SETITEM
      case 0x75: { const items = popToMark(); setItems(top(), items); break; } // SETITEMS
      case 0x63: { const module = readLine(); stack.push({ kind: 'global', module, name: readLine() }); break; } // GLOBAL
      case 0x93: { const name = pop(); stack.push({ kind: 'global', module: String(pop()), name: String(name) }); break; } // STACK_GLOBAL
      case 0x51: stack.push(persistent(pop())); break; // BINPERSID
      case 0x52: { const args = pop(); stack.push(reduce(pop(), args)); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(reduce(pop(), args)); break; } // NEWOBJ
      case 0x62: pop(); break; // BUILD: the state of objects we do not need (tensor hooks, metadata)
      default:
        throw new CheckpointError(`unsupported pickle opcode 0x${opcode.toString(16)} at byte ${at - 1}: not a checkpoint Timbre can read`);
    }
  }
}

function isGlobal(value: Value, module: string, name: string): value is Global {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'global' && value.module === module && value.name === name;
}

/** ('storage', storage type, key, location, size[, view]) -> a reference resolved after the pickles. */
function persistent(id: Value): StorageRef {
  if (!Array.isArray(id) || id[0] !== 'storage') throw new CheckpointError('unknown persistent id in the checkpoint');
  const type = id[1];
  const typeName = type && typeof type === 'object' && 'kind' in type && type.kind === 'global' ? type.name : 'unknown';
  return { kind: 'storage', key: String(id[2]), type: typeName };
}

function reduce(callable: Value, args: Value): Value {
  if (isGlobal(callable, 'collections', 'OrderedDict')) return new Map();
  if (isGlobal(callable, 'torch._utils', '_rebuild_tensor_v2') && Array.isArray(args)) {
    const [storage, offset, shape, stride] = args as [StorageRef, number, number[], number[]];
    return { kind: 'tensor', storage, offset, shape: [...shape], stride: [...stride] };
  }
  return { kind: 'object', of: callable as unknown as Global, args };
}

/** How many bytes one element of each storage type takes. */
const elementBytes: Record<string, number> = { FloatStorage: 4, DoubleStorage: 8, HalfStorage: 2, LongStorage: 8, IntStorage: 4, ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1 };

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let axis = shape.length - 1; axis >= 0; axis -= 1) {
    if (shape[axis]! > 1 && stride[axis] !== expected) return false;
    expected *= shape[axis]!;
  }
  return true;
}

/**
 * The float tensors of `checkpoint[stateKey]` (a state dict) by parameter name. Throws
 * CheckpointError for another format (a zip-format checkpoint, a truncated file).
 */
export function readLegacyCheckpoint(bytes: Buffer, stateKey = 'model_state'): Map<string, Tensor> {
  if (bytes.subarray(0, 2).toString('latin1') === 'PK') {
    throw new CheckpointError('this is a zip-format checkpoint (torch >= 1.6); Timbre reads the legacy format Resemblyzer ships');
  }
  let at = 0;
  let magic: Value;
  try {
    ({ value: magic, end: at } = unpickle(bytes, at));
  } catch (error) {
    throw new CheckpointError(`not a PyTorch checkpoint (${(error as Error).message})`);
  }
  if (BigInt(magic as number | bigint) !== legacyMagic) throw new CheckpointError('not a PyTorch checkpoint (wrong magic number)');
  at = unpickle(bytes, at).end; // protocol version
  at = unpickle(bytes, at).end; // system info (little endian, type sizes)
  const { value: root, end: afterRoot } = unpickle(bytes, at);
  const { value: keys, end: afterKeys } = unpickle(bytes, afterRoot);
  const storages = new Map<string, Buffer>();
  at = afterKeys;
  const tensorsOf = root instanceof Map ? root.get(stateKey) : undefined;
  if (!(tensorsOf instanceof Map)) throw new CheckpointError(`the checkpoint holds no ${stateKey}`);
  const types = new Map<string, string>();
  for (const value of tensorsOf.values()) {
    if (value && typeof value === 'object' && 'kind' in value && value.kind === 'tensor') types.set(value.storage.key, value.storage.type);
  }
  for (const key of keys as Value[]) {
    if (at + 8 > bytes.length) throw new CheckpointError('the checkpoint is truncated (a storage is missing)');
    const count = Number(bytes.readBigInt64LE(at));
    at += 8;
    const width = elementBytes[types.get(String(key)) ?? 'FloatStorage'] ?? 4;
    const end = at + count * width;
    if (end > bytes.length) throw new CheckpointError('the checkpoint is truncated (a storage is cut short)');
    storages.set(String(key), bytes.subarray(at, end));
    at = end;
  }
  const tensors = new Map<string, Tensor>();
  for (const [name, value] of tensorsOf) {
    if (!value || typeof value !== 'object' || !('kind' in value) || value.kind !== 'tensor') continue;
    if (value.storage.type !== 'FloatStorage') continue;
    if (!isContiguous(value.shape, value.stride)) throw new CheckpointError(`tensor ${String(name)} is not contiguous`);
    const storage = storages.get(value.storage.key);
    if (!storage) throw new CheckpointError(`tensor ${String(name)} names a storage the file does not hold`);
    const count = value.shape.reduce((product, dim) => product * dim, 1);
    const start = value.offset * 4;
    if (start + count * 4 > storage.length) throw new CheckpointError(`tensor ${String(name)} reaches past its storage`);
    // Copy out: the storage bytes need not be 4-byte aligned inside the file.
    const data = new Float32Array(count);
    for (let index = 0; index < count; index += 1) data[index] = storage.readFloatLE(start + index * 4);
    tensors.set(String(name), { shape: value.shape, data });
  }
  return tensors;
}
