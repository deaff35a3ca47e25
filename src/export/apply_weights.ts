/**
 * Puts trained weights back into a graph, so writeTflite can save a copy of the original model with them.
 * The graph is never changed: the result shares every tensor but the replaced one (graphs are treated
 * as immutable values by every pass).
 */
import { McutrainError } from '../errors.ts';
import { elementCount, tensorBytes, type DType, type Graph } from '../ir/graph.ts';
import { packInt4 } from '../ir/int4.ts';
import { joinBlock, type TensorBlock } from '../ir/tensor_block.ts';

/**
 * New contents for a constant: its raw little-endian bytes as stored in the file (any dtype), or a typed
 * array of the tensor's element type, one element per value (int4 values as an Int8Array, packed here).
 */
export type ConstantValues =
  | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | BigInt64Array;

type ElementArray = new (n: number) => ConstantValues;

/** Which typed array holds one element of each dtype (float16 as its raw 16-bit patterns). */
const ELEMENT_ARRAY: Record<DType, ElementArray> = {
  float32: Float32Array, float16: Uint16Array, int32: Int32Array, uint8: Uint8Array, int64: BigInt64Array,
  bool: Uint8Array, int16: Int16Array, int8: Int8Array, int4: Int8Array, uint32: Uint32Array, uint16: Uint16Array,
};

/** A copy of `graph` in which constant tensor `tensorId` holds `values` instead of its current data. */
export function withConstantData(graph: Graph, tensorId: number, values: ConstantValues): Graph {
  const tensor = Number.isInteger(tensorId) ? graph.tensors[tensorId] : undefined;
  if (!tensor) {
    throw new McutrainError(`cannot replace the data of tensor ${tensorId}: graph '${graph.name}' has tensors 0 to ${graph.tensors.length - 1}`,
      'the weights belong to a different model; use the model they were trained from');
  }
  const label = `tensor ${tensorId} '${tensor.name}' (${tensor.dtype} [${tensor.shape.join(', ')}])`;
  if (!tensor.data) {
    throw new McutrainError(`cannot replace the data of ${label}: it is not a constant`,
      'only weights and biases stored in the model can be replaced');
  }
  const bytes = asBytes(values, tensor.dtype, elementCount(tensor.shape), label);
  if (bytes.length !== tensorBytes(tensor)) {
    throw new McutrainError(`cannot replace the data of ${label}: it takes ${tensorBytes(tensor)} bytes, got ${bytes.length}`,
      'the weights belong to a different model or layer; use the model they were trained from');
  }
  const tensors = graph.tensors.slice();
  tensors[tensorId] = { ...tensor, data: bytes };
  return { ...graph, tensors };
}

/**
 * A copy of `graph` in which block `b` of constant tensor `tensorId` (rows [0, b.rows) x their first
 * b.cols bytes, row by row) holds `block`: the learned part of a partly trained int8 weight tensor,
 * as a training build keeps it in SRAM. The rest of the tensor keeps its bytes.
 */
export function withConstantBlock(graph: Graph, tensorId: number, block: Uint8Array, b: TensorBlock): Graph {
  const tensor = graph.tensors[tensorId];
  const data = tensor?.data;
  if (!data || tensor.dtype !== 'int8' || data.length % b.rowSize !== 0 || b.rows * b.rowSize > data.length || b.cols > b.rowSize) {
    throw new McutrainError(`cannot put a ${b.rows}x${b.cols} block (rows of ${b.rowSize}) into tensor ${tensorId}${tensor ? ` '${tensor.name}' (${tensor.dtype} [${tensor.shape.join(', ')}])` : ''}`,
      'the weights belong to a different model; use the model they were trained from');
  }
  if (block.length !== b.rows * b.cols) {
    throw new McutrainError(`cannot put ${block.length} bytes into the ${b.rows}x${b.cols} trained block of tensor ${tensorId} '${tensor.name}'`,
      'the weights belong to a different model or layer; use the model they were trained from');
  }
  return withConstantData(graph, tensorId, joinBlock(data, block, b));
}

/** Where a trained tensor's learned bytes go: the tensor, or its trained block. */
type TrainedParam = { tensor: number; slice?: TensorBlock };

/**
 * A copy of `graph` with one trained tensor's learned bytes (`bytes`: its SRAM copy, as the device's
 * parameter space holds it) put back: the whole tensor, or its trained block when `slice` says so.
 */
export function withTrainedParam(graph: Graph, p: TrainedParam, bytes: Uint8Array): Graph {
  return p.slice ? withConstantBlock(graph, p.tensor, bytes, p.slice) : withConstantData(graph, p.tensor, bytes);
}

/**
 * A copy of `graph` with every trained tensor of `params` (a project's training.params) put back from
 * `bytes`, the device's parameter space (READ_PARAMS 'params': all of them, concatenated).
 */
export function withTrainedParams(graph: Graph, params: readonly (TrainedParam & { name: string; offset: number; bytes: number })[], bytes: Uint8Array): Graph {
  let result = graph;
  for (const p of params) {
    if (p.offset + p.bytes > bytes.length) {
      throw new McutrainError(`the project puts '${p.name}' at bytes ${p.offset}..${p.offset + p.bytes} but the device holds ${bytes.length}`,
        'compile the project again, build it and flash it');
    }
    result = withTrainedParam(result, p, bytes.subarray(p.offset, p.offset + p.bytes));
  }
  return result;
}

/** The values as the tensor's stored bytes (a private copy), after checking their element type. */
function asBytes(values: ConstantValues, dtype: DType, count: number, label: string): Uint8Array {
  // Raw bytes fit every dtype; their length is checked by the caller. (Copied element-wise: a Node
  // Buffer's slice() would be a view, and the result should be a plain Uint8Array anyway.)
  if (values instanceof Uint8Array) return new Uint8Array(values);
  const want = ELEMENT_ARRAY[dtype];
  if (!(values instanceof want)) {
    throw new McutrainError(`cannot replace the data of ${label} with a ${values.constructor.name}`,
      `pass a ${want.name} of ${count} values, or a Uint8Array of the ${dtype} data as stored in the model`);
  }
  if (values.length !== count) {
    throw new McutrainError(`cannot replace the data of ${label}: it has ${count} elements, got ${values.length}`,
      'the weights belong to a different model or layer; use the model they were trained from');
  }
  if (dtype === 'int4') {
    try {
      return packInt4(values as Int8Array);
    } catch (error) {
      throw new McutrainError(`cannot replace the data of ${label}: ${(error as Error).message}`, 'int4 weights must lie in [-8, 7]');
    }
  }
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}
