/**
 * Reads a .tflite file (subgraph 0) into the graph IR.
 *
 * The importer takes int8 and float models alike and keeps every tensor and option as the file states
 * it; deciding what the int8 engine can run is a later pass's job. It refuses only what cannot be put
 * into the IR faithfully (operators it has no kind for, sparse or dynamic tensors, options outside the
 * enums) and files that are not well-formed TFLite, always with a McutrainError saying where and why.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { McutrainError } from '../errors.ts';
import {
  DTYPE_BYTES, elementCount, type Activation, type ConvOptions, type DType, type Graph, type OpKind, type OpOf, type Operator,
  type Padding, type Quantization, type Tensor,
} from '../ir/graph.ts';
import { inputCounts } from '../ir/operator_traits.ts';
import { emptyTable, FlatBufferError, FlatBufferReader, type ReaderOptions, type Table, type TableSchema } from './flatbuffer_reader.ts';
import {
  ACTIVATION_NAMES, AddOptionsTable, BufferTable, BuiltinOperator, builtinOperatorLabel, BuiltinOptionsType,
  ConcatenationOptionsTable, Conv2DOptionsTable, DepthwiseConv2DOptionsTable, FC_WEIGHTS_FORMAT_NAMES,
  FullyConnectedOptionsTable, ModelTable, OperatorCodeTable, OperatorTable, PADDING_NAMES, Pool2DOptionsTable,
  QUANTIZATION_DETAILS_NAMES, QuantizationParametersTable, ReducerOptionsTable, SoftmaxOptionsTable, SubGraphTable,
  TENSOR_TYPE_NAMES, TensorTable, TFLITE_FILE_IDENTIFIER, TFLITE_SCHEMA_VERSION, type TensorTypeName,
} from './tflite_schema.ts';
import { validateGraph } from './validate_graph.ts';

/** BuiltinOperator 127: in deprecated_builtin_code it means "the code is too large for this byte; see builtin_code". */
const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;
const CORRUPT_HINT = 'the file is truncated or damaged: copy it again, or re-export it with the TensorFlow Lite converter';
/** No real microcontroller model has a tensor near this size; beyond it a shape is corrupt or the model is not for an MCU. */
const MAX_TENSOR_BYTES = 2 ** 31;
/** Error messages show at most this many dimensions of a shape (a damaged one can claim thousands). */
const MAX_DIMS_SHOWN = 8;

type ModelT = Table<keyof typeof ModelTable.slots>;
type OperatorT = Table<keyof typeof OperatorTable.slots>;

/** Reads the .tflite file at `path`; the graph is named after the file. */
export function importTfliteFile(path: string): Graph {
  let bytes: Uint8Array;
  try {
    if (!statSync(path).isFile()) {
      throw new McutrainError(`'${path}' is not a file`, 'pass the path of a .tflite model file');
    }
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    if (error instanceof McutrainError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new McutrainError(`model file '${path}' does not exist`, 'check the path (relative paths start from the current directory)');
    throw new McutrainError(`cannot read model file '${path}': ${(error as Error).message}`, 'check that the file is readable');
  }
  return importTflite(bytes, basename(path));
}

/**
 * Imports subgraph 0 of a .tflite model (further subgraphs, used by control flow, are ignored).
 * `options.onSpan` sees every byte range read, for fuzzing and coverage tools.
 */
export function importTflite(bytes: Uint8Array, name?: string, options: ReaderOptions = {}): Graph {
  const label = name ?? 'model';
  if (bytes.byteLength < 8) {
    throw notTflite(label, bytes, `it is only ${bytes.byteLength} bytes long`);
  }
  const reader = new FlatBufferReader(bytes, options);
  const hasIdentifier = reader.fileIdentifier() === TFLITE_FILE_IDENTIFIER;
  let graph: Graph;
  try {
    graph = readGraph(reader, label, name, hasIdentifier);
  } catch (error) {
    if (!(error instanceof FlatBufferError)) throw error;
    // The identifier is optional in FlatBuffers, so a file without it gets a chance to parse; if it
    // does not, it most likely is some other kind of file rather than a damaged model.
    if (!hasIdentifier) throw notTflite(label, bytes, `it has no '${TFLITE_FILE_IDENTIFIER}' identifier and does not parse as one (${error.message})`);
    throw new McutrainError(`'${label}' is truncated or corrupt: ${error.message}`, CORRUPT_HINT);
  }
  validateGraph(graph, label);
  return graph;
}

function readGraph(reader: FlatBufferReader, label: string, name: string | undefined, hasIdentifier: boolean): Graph {
  const model = reader.root(ModelTable);
  const version = model.uint32('version');
  if (version !== TFLITE_SCHEMA_VERSION) {
    if (!hasIdentifier) throw new FlatBufferError('Model.version', `is ${version}, expected ${TFLITE_SCHEMA_VERSION}`);
    throw new McutrainError(`'${label}' uses TFLite schema version ${version}; mcutrain reads version ${TFLITE_SCHEMA_VERSION}`,
      're-export the model with a current TensorFlow Lite converter');
  }
  const subgraph = model.tableAtIndex('subgraphs', 0, SubGraphTable);
  if (!subgraph) throw new FlatBufferError('Model.subgraphs', 'the model has no subgraph');

  const tensors = subgraph.tables('tensors', TensorTable).map((t, id) => readTensor(t, id, model));
  const tensorIndex = (where: string, index: number, optional: boolean): number => {
    if ((optional && index === -1) || (index >= 0 && index < tensors.length)) return index;
    throw new FlatBufferError(where, `tensor index ${index} is out of range (the subgraph has ${tensors.length} tensors)`);
  };
  const opcodes = model.tables('operator_codes', OperatorCodeTable).map(readOperatorCode);
  const operators = readOperators(subgraph.tables('operators', OperatorTable), opcodes, tensorIndex);
  const inputs = subgraph.int32s('inputs').map((i, n) => tensorIndex(`${subgraph.where}.inputs[${n}]`, i, false));
  const outputs = subgraph.int32s('outputs').map((i, n) => tensorIndex(`${subgraph.where}.outputs[${n}]`, i, false));
  return { name: name ?? model.string('description') ?? 'model', tensors, operators, inputs, outputs };
}

// ---------------------------------------------------------------------------------------------------
// Tensors

const DTYPE_OF: Partial<Record<TensorTypeName, DType>> = {
  FLOAT32: 'float32', FLOAT16: 'float16', INT32: 'int32', UINT8: 'uint8', INT64: 'int64', BOOL: 'bool',
  INT16: 'int16', INT8: 'int8', INT4: 'int4', UINT32: 'uint32', UINT16: 'uint16',
};

function readTensor(t: Table<keyof typeof TensorTable.slots>, id: number, model: ModelT): Tensor {
  const name = t.string('name') ?? `tensor_${id}`;
  const label = `tensor ${id} '${name}'`;
  const typeCode = t.int8('type');
  const typeName = TENSOR_TYPE_NAMES[typeCode];
  const dtype = typeName && DTYPE_OF[typeName];
  if (!typeName) throw new FlatBufferError(`${t.where}.type`, `${label} has element type code ${typeCode}, which is not a TFLite TensorType`);
  if (!dtype) {
    throw new McutrainError(`${label} has element type ${typeName}, which mcutrain does not support`,
      `supported element types: ${Object.keys(DTYPE_OF).join(', ')}`);
  }
  if (t.has('sparsity')) {
    throw new McutrainError(`${label} is stored sparse, which mcutrain does not support`,
      're-export the model without sparsity (do not apply the sparsity optimization in the converter)');
  }
  if (t.uint32('external_buffer') !== 0) {
    throw new McutrainError(`${label} keeps its data in an external file, which mcutrain does not support`,
      're-export the model with all weights embedded in the .tflite file');
  }
  const shape = readShape(t, label, dtype);
  const bytes = elementCount(shape) * DTYPE_BYTES[dtype];
  const tensor: Tensor = { id, name, dtype, shape };
  const quant = readQuantization(t.table('quantization', QuantizationParametersTable), shape, label);
  if (quant) tensor.quant = quant;
  const data = readConstantData(model, t.uint32('buffer'), `${t.where}.buffer`, label, Math.ceil(bytes));
  if (data) tensor.data = data;
  return tensor;
}

/**
 * The tensor's shape, told apart three ways when it is unusable: -1 is how a converter marks a dynamic
 * dimension; any other negative value, or one dimension that alone exceeds any memory, is not something a
 * converter writes, so the file is damaged (typically the shape vector points into other data).
 */
function readShape(t: Table<keyof typeof TensorTable.slots>, label: string, dtype: DType): number[] {
  const shape = t.int32s('shape');
  const shown = `[${shape.slice(0, MAX_DIMS_SHOWN).join(', ')}${shape.length > MAX_DIMS_SHOWN ? `, ... (${shape.length} dimensions)` : ''}]`;
  const absurd = shape.findIndex((d) => d < -1 || d * DTYPE_BYTES[dtype] > MAX_TENSOR_BYTES);
  if (absurd >= 0) {
    throw new FlatBufferError(`${t.where}.shape`,
      `${label} has shape ${shown}, whose dimension ${absurd} = ${shape[absurd]} is not a size any model has`);
  }
  if (shape.some((d) => d === -1)) {
    throw new McutrainError(`${label} has a dynamic shape ${shown}`,
      'give the model a fixed input shape (including batch size 1) before converting it');
  }
  const bytes = elementCount(shape) * DTYPE_BYTES[dtype];
  if (bytes > MAX_TENSOR_BYTES) {
    throw new McutrainError(`${label} has shape ${shown} (${bytes} bytes), far too large for a microcontroller`,
      'check the model\'s input size; the file may also be corrupt');
  }
  return shape;
}

function readQuantization(q: Table<keyof typeof QuantizationParametersTable.slots> | undefined, shape: number[], label: string): Quantization | undefined {
  if (!q) return undefined;
  const details = q.uint8('details_type');
  if (details !== 0) {
    throw new McutrainError(`${label} uses ${QUANTIZATION_DETAILS_NAMES[details] ?? `quantization scheme ${details}`}, which mcutrain does not support`,
      'quantize the model with standard per-tensor or per-channel affine int8 quantization');
  }
  const scale = q.float32s('scale');
  // min/max alone (no scale) is calibration information, not a quantized tensor.
  if (scale.length === 0) return undefined;
  const zeroPoints = q.int64s('zero_point');
  const where = q.where;
  if (zeroPoints.length !== scale.length) {
    throw new FlatBufferError(where, `${label} has ${scale.length} scales but ${zeroPoints.length} zero points`);
  }
  if (scale.some((s) => !Number.isFinite(s) || s < 0)) {
    throw new FlatBufferError(`${where}.scale`, `${label} has a scale that is negative or not finite`);
  }
  const zeroPoint = zeroPoints.map((z) => {
    if (z < -(2n ** 31n) || z >= 2n ** 31n) throw new FlatBufferError(`${where}.zero_point`, `${label} has zero point ${z}, outside int32`);
    return Number(z);
  });
  // One scale means per-tensor whatever quantized_dimension says, as TFLM reads it.
  if (scale.length === 1) return { scale, zeroPoint, axis: 0 };
  // A vector can only be quantized along its one dimension. TOCO wrote the filter's dimension (3) on
  // per-channel biases too (person_detect does); TFLM never looks at it, so neither do we.
  if (shape.length === 1 && shape[0] === scale.length) return { scale, zeroPoint, axis: 0 };
  const axis = q.int32('quantized_dimension');
  if (axis < 0 || axis >= shape.length || shape[axis] !== scale.length) {
    throw new FlatBufferError(`${where}.quantized_dimension`,
      `${label} has ${scale.length} scales along dimension ${axis}, which does not match its shape [${shape.join(', ')}]`);
  }
  return { scale, zeroPoint, axis };
}

/** The tensor's constant contents, copied out of the file, or undefined for activations (buffer 0 or empty). */
function readConstantData(model: ModelT, index: number, where: string, label: string, expectedBytes: number): Uint8Array | undefined {
  // Buffer 0 is the empty sentinel every activation points at.
  if (index === 0) return undefined;
  const buffer = model.tableAtIndex('buffers', index, BufferTable);
  if (!buffer) throw new FlatBufferError(where, `${label} refers to buffer ${index}, but the model has ${model.length('buffers')}`);
  // offset/size are "valid if > 1" per the schema: the data then lives after the flatbuffer (models over 2 GB).
  if (buffer.uint64('offset') > 1n) {
    throw new McutrainError(`${label} keeps its data outside the flatbuffer (the format for models over 2 GB), which mcutrain does not support`,
      'a model that needs this format is far too large for a microcontroller; reduce it before converting');
  }
  const data = buffer.bytes('data');
  if (!data || data.length === 0) return undefined;
  if (data.length !== expectedBytes) {
    throw new FlatBufferError(`${buffer.where}.data`, `${label} needs ${expectedBytes} bytes but its buffer holds ${data.length}`);
  }
  // A copy, never a view: on a Node Buffer slice() would share the file's memory.
  return new Uint8Array(data);
}

// ---------------------------------------------------------------------------------------------------
// Operators

interface OperatorCode { code: number; customName?: string }

/**
 * The operator's code as the schema defines it: max(builtin_code, deprecated_builtin_code). Converters
 * write deprecated_builtin_code = min(code, 127) (or leave it 0) and, since TF 2.4, the real code in
 * builtin_code; files from before then have only the byte. Anything else (a negative code, the byte
 * saying "look in builtin_code" when builtin_code is missing, the two disagreeing) is damage, and is
 * named as such rather than passed on as an operator called PLACEHOLDER_FOR_GREATER_OP_CODES.
 */
function readOperatorCode(t: Table<keyof typeof OperatorCodeTable.slots>): OperatorCode {
  const deprecated = t.int8('deprecated_builtin_code');
  const builtin = t.int32('builtin_code');
  const fields = `deprecated_builtin_code = ${deprecated}, builtin_code = ${t.has('builtin_code') ? builtin : 'absent'}`;
  if (deprecated < 0 || builtin < 0) throw new FlatBufferError(t.where, `negative operator code (${fields})`);
  if (deprecated === PLACEHOLDER_FOR_GREATER_OP_CODES && builtin === 0) {
    throw new FlatBufferError(t.where, `deprecated_builtin_code is ${deprecated} (PLACEHOLDER_FOR_GREATER_OP_CODES: the code is in builtin_code), but builtin_code is absent`);
  }
  if (builtin !== 0 && deprecated !== 0 && deprecated !== Math.min(builtin, PLACEHOLDER_FOR_GREATER_OP_CODES)) {
    throw new FlatBufferError(t.where, `the two operator code fields disagree (${fields}: ${builtinOperatorLabel(deprecated)} or ${builtinOperatorLabel(builtin)})`);
  }
  const code = Math.max(deprecated, builtin);
  return code === BuiltinOperator.CUSTOM ? { code, customName: t.string('custom_code') ?? '' } : { code };
}

/**
 * How to read one operator kind's typed options. Its code is BuiltinOperator[kind] (IR kinds are named as
 * in TFLite), its inputs are the slots of ir/operator_traits.ts.
 */
interface OperatorSpec<K extends OpKind> {
  options: (op: OperatorT, label: string) => OpOf<K>['options'];
}

const NO_OPTIONS = (): Record<string, never> => ({});

/** The fields CONV_2D and DEPTHWISE_CONV_2D options share (same names and slots in both tables). */
type ConvField = 'padding' | 'stride_h' | 'stride_w' | 'dilation_h_factor' | 'dilation_w_factor' | 'fused_activation_function';
function convOptions(o: Table<ConvField>, label: string): ConvOptions {
  return {
    padding: padding(o.int8('padding'), o.where),
    strideH: atLeastOne(o.int32('stride_h'), 'stride_h', label),
    strideW: atLeastOne(o.int32('stride_w'), 'stride_w', label),
    dilationH: atLeastOne(o.int32('dilation_h_factor', 1), 'dilation_h_factor', label),
    dilationW: atLeastOne(o.int32('dilation_w_factor', 1), 'dilation_w_factor', label),
    activation: activation(o.int8('fused_activation_function'), label),
  };
}

const OPERATOR_SPECS: { [K in OpKind]: OperatorSpec<K> } = {
  CONV_2D: {
    options: (op, label) => {
      return convOptions(optionsOf(op, BuiltinOptionsType.Conv2DOptions, Conv2DOptionsTable, label), label);
    },
  },
  DEPTHWISE_CONV_2D: {
    options: (op, label) => {
      const o = optionsOf(op, BuiltinOptionsType.DepthwiseConv2DOptions, DepthwiseConv2DOptionsTable, label);
      // depth_multiplier as stored; TFLite 2.x kernels derive it from the shapes (output / input channels).
      return { ...convOptions(o, label), depthMultiplier: o.int32('depth_multiplier') };
    },
  },
  FULLY_CONNECTED: {
    options: (op, label) => {
      const o = optionsOf(op, BuiltinOptionsType.FullyConnectedOptions, FullyConnectedOptionsTable, label);
      const format = o.int8('weights_format');
      if (format !== 0) {
        throw new McutrainError(`${label} stores its weights as ${FC_WEIGHTS_FORMAT_NAMES[format] ?? `format ${format}`}; mcutrain reads only the DEFAULT [out, in] layout`,
          're-export the model without the shuffled-weights optimization');
      }
      return { activation: activation(o.int8('fused_activation_function'), label), keepNumDims: o.bool('keep_num_dims') };
    },
  },
  AVERAGE_POOL_2D: { options: poolOptions },
  MAX_POOL_2D: { options: poolOptions },
  ADD: {
    options: (op, label) => {
      const o = optionsOf(op, BuiltinOptionsType.AddOptions, AddOptionsTable, label);
      return { activation: activation(o.int8('fused_activation_function'), label) };
    },
  },
  MEAN: {
    options: (op, label) => ({ keepDims: optionsOf(op, BuiltinOptionsType.ReducerOptions, ReducerOptionsTable, label).bool('keep_dims') }),
  },
  PAD: { options: NO_OPTIONS },
  // The target shape is the second input (or the output's shape); ReshapeOptions.new_shape only repeats it.
  RESHAPE: { options: NO_OPTIONS },
  SOFTMAX: {
    options: (op, label) => {
      const beta = optionsOf(op, BuiltinOptionsType.SoftmaxOptions, SoftmaxOptionsTable, label).float32('beta');
      if (!Number.isFinite(beta)) throw new McutrainError(`${label} has softmax beta ${beta}`, 'beta must be a finite number; re-export the model');
      return { beta };
    },
  },
  CONCATENATION: {
    options: (op, label) => {
      const o = optionsOf(op, BuiltinOptionsType.ConcatenationOptions, ConcatenationOptionsTable, label);
      return { axis: o.int32('axis'), activation: activation(o.int8('fused_activation_function'), label) };
    },
  },
  QUANTIZE: { options: NO_OPTIONS },
  DEQUANTIZE: { options: NO_OPTIONS },
  RELU: { options: NO_OPTIONS },
  RELU6: { options: NO_OPTIONS },
};

const KIND_OF_CODE = new Map<number, OpKind>(
  (Object.keys(OPERATOR_SPECS) as OpKind[]).map((kind) => [BuiltinOperator[kind], kind]),
);

function poolOptions(op: OperatorT, label: string): OpOf<'AVERAGE_POOL_2D'>['options'] {
  const o = optionsOf(op, BuiltinOptionsType.Pool2DOptions, Pool2DOptionsTable, label);
  return {
    padding: padding(o.int8('padding'), o.where),
    strideH: atLeastOne(o.int32('stride_h'), 'stride_h', label),
    strideW: atLeastOne(o.int32('stride_w'), 'stride_w', label),
    filterH: atLeastOne(o.int32('filter_height'), 'filter_height', label),
    filterW: atLeastOne(o.int32('filter_width'), 'filter_width', label),
    activation: activation(o.int8('fused_activation_function'), label),
  };
}

/**
 * The operator's options table, or an empty one (all schema defaults) when the file has none.
 * A table of another options type means the union tag is damaged.
 */
function optionsOf<G extends string>(op: OperatorT, type: number, schema: TableSchema<G>, label: string): Table<G> {
  const options = op.union('builtin_options_type', 'builtin_options');
  const where = `${op.where}.builtin_options`;
  if (options.type === BuiltinOptionsType.NONE) return emptyTable(schema, where);
  if (options.type !== type) {
    throw new FlatBufferError(`${where}_type`, `${label} carries options of union type ${options.type}, expected ${schema.name} (${type})`);
  }
  return options.open(schema) ?? emptyTable(schema, where);
}

function padding(value: number, where: string): Padding {
  const name = PADDING_NAMES[value];
  if (!name) throw new FlatBufferError(`${where}.padding`, `padding ${value} is neither SAME (0) nor VALID (1)`);
  return name;
}

function activation(value: number, label: string): Activation {
  const name = ACTIVATION_NAMES[value];
  if (!name) {
    throw new McutrainError(`${label} has fused activation ${value}, which is not a TFLite ActivationFunctionType (${ACTIVATION_NAMES.join(', ')})`,
      'the file was written by a non-standard converter or is corrupt; re-export it');
  }
  return name;
}

function atLeastOne(value: number, field: string, label: string): number {
  if (value < 1) {
    throw new McutrainError(`${label} has ${field} = ${value}; it must be at least 1`,
      'the operator\'s options are missing or damaged; re-export the model');
  }
  return value;
}

function readOperators(
  ops: OperatorT[], opcodes: OperatorCode[], tensorIndex: (where: string, index: number, optional: boolean) => number,
): Operator[] {
  const kinds = ops.map((op) => {
    const index = op.uint32('opcode_index');
    const opcode = opcodes[index];
    if (!opcode) throw new FlatBufferError(`${op.where}.opcode_index`, `is ${index}, but the model has ${opcodes.length} operator codes`);
    return { opcode, kind: KIND_OF_CODE.get(opcode.code) };
  });
  rejectUnsupported(kinds);
  return ops.map((op, id) => {
    const kind = kinds[id].kind as OpKind;
    const spec = OPERATOR_SPECS[kind] as OperatorSpec<OpKind>;
    const label = `operator ${id} (${kind})`;
    const inputs = op.int32s('inputs');
    // The first `required` inputs must be present; up to `optional` more may follow (and may be -1).
    const { required, optional } = inputCounts(kind);
    if (inputs.length < required || inputs.length > required + optional) {
      const expected = optional === 0 ? `${required}` : optional === Infinity ? `at least ${required}` : `${required} to ${required + optional}`;
      throw new FlatBufferError(`${op.where}.inputs`, `${label} has ${inputs.length} inputs, expected ${expected}`);
    }
    const outputs = op.int32s('outputs');
    if (outputs.length !== 1) throw new FlatBufferError(`${op.where}.outputs`, `${label} has ${outputs.length} outputs, expected 1`);
    return {
      id, kind,
      inputs: inputs.map((t, n) => tensorIndex(`${op.where}.inputs[${n}]`, t, n >= required)),
      outputs: outputs.map((t, n) => tensorIndex(`${op.where}.outputs[${n}]`, t, false)),
      options: spec.options(op, label),
    } as Operator;
  });
}

/** One error naming every operator the importer has no kind for, so the user sees the whole list at once. */
function rejectUnsupported(kinds: { opcode: OperatorCode; kind?: OpKind }[]): void {
  // Grouped by operator, so a model with fifty LSTMs says so in one entry.
  const where = new Map<string, number[]>();
  kinds.forEach(({ opcode, kind }, id) => {
    if (kind) return;
    const what = opcode.customName !== undefined ? `custom operator '${opcode.customName}'` : builtinOperatorLabel(opcode.code);
    const ids = where.get(what);
    if (ids) ids.push(id);
    else where.set(what, [id]);
  });
  if (where.size === 0) return;
  const count = [...where.values()].reduce((n, ids) => n + ids.length, 0);
  const listed = [...where].map(([what, ids]) => ids.length === 1 ? `${what} at operator ${ids[0]}`
    : `${what} at operators ${ids.slice(0, 4).join(', ')}${ids.length > 4 ? ` and ${ids.length - 4} more` : ''}`);
  const shown = listed.slice(0, 8).join(', ') + (listed.length > 8 ? `, and ${listed.length - 8} more kinds` : '');
  const custom = kinds.some(({ opcode, kind }) => !kind && opcode.customName !== undefined);
  throw new McutrainError(
    `the model uses ${count === 1 ? 'an operator' : `${count} operators`} mcutrain does not support: ${shown}`,
    `supported operators: ${Object.keys(OPERATOR_SPECS).join(', ')}. ` +
      (custom ? 'Custom operators cannot be compiled: convert without custom ops / Select TF ops. ' : '') +
      'Re-export the model using builtin ops only, or replace those layers with supported ones.',
  );
}

// ---------------------------------------------------------------------------------------------------
// Files that are not TFLite at all

function notTflite(label: string, bytes: Uint8Array, why: string): McutrainError {
  return new McutrainError(`'${label}' is not a TensorFlow Lite model: ${why}`, foreignFormatHint(bytes));
}

/** Recognizes the files people most often pass by mistake, to say what to do with them. */
function foreignFormatHint(bytes: Uint8Array): string {
  const convert = 'convert it with tf.lite.TFLiteConverter (and quantize it to int8) to get a .tflite file';
  const starts = (magic: number[]) => magic.every((b, i) => bytes[i] === b);
  if (starts([0x89, 0x48, 0x44, 0x46])) return `this looks like a Keras HDF5 (.h5) model: ${convert}`;
  if (starts([0x50, 0x4b, 0x03, 0x04])) return `this looks like a zip archive (a .keras model?): ${convert}`;
  const head = bytes.subarray(0, 256);
  const isText = head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
  if (isText) {
    return 'this looks like a text file; if it is a C array (xxd -i model.tflite), pass the binary .tflite file instead';
  }
  return 'pass a .tflite file produced by the TensorFlow Lite converter';
}
