/**
 * Writes a graph as a .tflite file (schema version 3, one subgraph), the inverse of the importer:
 * importing the written bytes gives back the same Graph, constants and options included.
 *
 * What the file holds beyond the IR follows the TFLite converter: buffer 0 is the empty sentinel and each
 * constant tensor gets its own buffer, 16-byte aligned as schema.fbs asks (`force_align: 16`); one
 * operator code per (operator, version), the version being the converter's for those tensor types
 * (operator_version.ts); an options table for every operator that has one. Per-tensor quantization is
 * written with quantized_dimension 0, which is also the only axis a per-channel vector can have (the
 * full interpreter refuses anything else there). Scales are stored as float32, as the format defines them.
 *
 * The output depends only on the graph: the same graph always gives the same bytes.
 */
import { Builder } from 'flatbuffers';
import { McutrainError } from '../errors.ts';
import { tensorBytes, type DType, type Graph, type Operator, type Tensor } from '../ir/graph.ts';
import type { TableSchema } from '../import/flatbuffer_reader.ts';
import {
  ACTIVATION_NAMES, AddOptionsTable, BufferTable, BuiltinOperator, BuiltinOptionsType, ConcatenationOptionsTable,
  Conv2DOptionsTable, DepthwiseConv2DOptionsTable, FullyConnectedOptionsTable, ModelTable, OperatorCodeTable,
  OperatorTable, PADDING_NAMES, Pool2DOptionsTable, QuantizationParametersTable, ReducerOptionsTable,
  ReshapeOptionsTable, SoftmaxOptionsTable, SubGraphTable, TENSOR_TYPE_NAMES, TensorTable, TFLITE_FILE_IDENTIFIER,
  TFLITE_SCHEMA_VERSION, WriterOnlyOptionsType, type TensorTypeName,
} from '../import/tflite_schema.ts';
import { OPERATOR_TRAITS } from '../ir/operator_traits.ts';
import { operatorVersion } from './operator_version.ts';

export interface WriteOptions {
  /** Model.description; defaults to the graph's name (which the importer falls back to). */
  description?: string;
}

/** BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES: the byte-sized code field saturates here. */
const DEPRECATED_CODE_LIMIT = 127;
/** Buffer.data is declared `force_align: 16` so weights can be used in place (mmap, flash). */
const BUFFER_ALIGNMENT = 16;
/** A flatbuffer addresses itself with 32-bit offsets; keep well clear of the 2 GB limit. */
const MAX_FILE_BYTES = 2 ** 31 - 2 ** 20;

const TENSOR_TYPE_OF: Record<DType, TensorTypeName> = {
  float32: 'FLOAT32', float16: 'FLOAT16', int32: 'INT32', uint8: 'UINT8', int64: 'INT64', bool: 'BOOL',
  int16: 'INT16', int8: 'INT8', int4: 'INT4', uint32: 'UINT32', uint16: 'UINT16',
};

export function writeTflite(graph: Graph, opts: WriteOptions = {}): Uint8Array {
  checkGraph(graph);
  const dataBytes = graph.tensors.reduce((sum, t) => sum + (t.data ? t.data.length + BUFFER_ALIGNMENT : 0), 0);
  const b = new Builder(Math.min(MAX_FILE_BYTES, dataBytes + 4096 + 256 * (graph.tensors.length + graph.operators.length)));

  // Built first, the constants end up at the back of the file, after all the tables.
  const buffers = [new TableWriter(b, BufferTable).end()];
  const bufferOf = graph.tensors.map((t) => {
    if (!t.data) return 0;
    b.prep(BUFFER_ALIGNMENT, t.data.length); // createByteVector then needs no further padding
    const data = b.createByteVector(t.data);
    buffers.push(new TableWriter(b, BufferTable).offset('data', data).end());
    return buffers.length - 1;
  });

  const tensors = graph.tensors.map((t) => writeTensor(b, t, bufferOf[t.id]));

  // One operator code per (operator, version), in order of first use.
  const codes: { code: number; version: number }[] = [];
  const codeIndex = new Map<string, number>();
  const operators = graph.operators.map((op) => {
    const code = BuiltinOperator[op.kind];
    const version = operatorVersion(graph, op);
    const key = `${code}/${version}`;
    let index = codeIndex.get(key);
    if (index === undefined) {
      index = codes.length;
      codes.push({ code, version });
      codeIndex.set(key, index);
    }
    return writeOperator(b, graph, op, index);
  });
  const operatorCodes = codes.map(({ code, version }) => new TableWriter(b, OperatorCodeTable)
    .int32('builtin_code', code, 0)
    .int32('version', version, 1)
    .int8('deprecated_builtin_code', Math.min(code, DEPRECATED_CODE_LIMIT), 0)
    .end());

  const tensorsVec = offsetVector(b, tensors);
  const inputsVec = int32Vector(b, graph.inputs);
  const outputsVec = int32Vector(b, graph.outputs);
  const operatorsVec = offsetVector(b, operators);
  const subgraphName = b.createString('main');
  const subgraph = new TableWriter(b, SubGraphTable)
    .offset('tensors', tensorsVec).offset('inputs', inputsVec).offset('outputs', outputsVec)
    .offset('operators', operatorsVec).offset('name', subgraphName)
    .end();

  const operatorCodesVec = offsetVector(b, operatorCodes);
  const subgraphsVec = offsetVector(b, [subgraph]);
  const description = b.createString(opts.description ?? graph.name);
  const buffersVec = offsetVector(b, buffers);
  const model = new TableWriter(b, ModelTable)
    .uint32('version', TFLITE_SCHEMA_VERSION, 0)
    .offset('operator_codes', operatorCodesVec)
    .offset('subgraphs', subgraphsVec)
    .offset('description', description)
    .offset('buffers', buffersVec)
    .end();
  b.finish(model, TFLITE_FILE_IDENTIFIER);
  const bytes = b.asUint8Array().slice();
  if (bytes.length > MAX_FILE_BYTES) {
    throw new McutrainError(`cannot write '${graph.name}': the model would take ${bytes.length} bytes, beyond the 2 GB a .tflite flatbuffer can address`,
      'a model this large cannot run on a microcontroller; reduce it first');
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------------
// Tables

function writeTensor(b: Builder, t: Tensor, buffer: number): number {
  const shape = int32Vector(b, t.shape);
  const name = b.createString(t.name);
  const quantization = t.quant ? writeQuantization(b, t) : 0;
  return new TableWriter(b, TensorTable)
    .offset('shape', shape)
    .uint32('buffer', buffer, 0)
    .offset('name', name)
    .offset('quantization', quantization)
    .int8('type', TENSOR_TYPE_NAMES.indexOf(TENSOR_TYPE_OF[t.dtype]), 0)
    // The IR always knows the rank; without has_rank a scalar would read as a tensor of unknown rank.
    .bool('has_rank', true, false)
    .end();
}

function writeQuantization(b: Builder, t: Tensor): number {
  const q = t.quant!;
  const scale = float32Vector(b, q.scale);
  const zeroPoint = int64Vector(b, q.zeroPoint);
  return new TableWriter(b, QuantizationParametersTable)
    .offset('scale', scale)
    .offset('zero_point', zeroPoint)
    // One scale is per-tensor whatever the axis says; 0 is valid for every rank (and the only axis of a vector).
    .int32('quantized_dimension', q.scale.length > 1 ? q.axis : 0, 0)
    .end();
}

function writeOperator(b: Builder, graph: Graph, op: Operator, opcodeIndex: number): number {
  const inputs = int32Vector(b, op.inputs);
  const outputs = int32Vector(b, op.outputs);
  const options = writeOptions(b, graph, op);
  const w = new TableWriter(b, OperatorTable)
    .uint32('opcode_index', opcodeIndex, 0)
    .offset('inputs', inputs)
    .offset('outputs', outputs);
  if (options) w.offset('builtin_options', options.table).uint8('builtin_options_type', options.type, 0);
  return w.end();
}

/** The operator's builtin options table and its union tag, or undefined for operators without one (RELU, RELU6). */
function writeOptions(b: Builder, graph: Graph, op: Operator): { type: number; table: number } | undefined {
  const activation = (name: string) => ACTIVATION_NAMES.indexOf(name as (typeof ACTIVATION_NAMES)[number]);
  const padding = (name: string) => PADDING_NAMES.indexOf(name as (typeof PADDING_NAMES)[number]);
  const empty = (type: number) => ({ type, table: new TableWriter(b, EMPTY_TABLE).end() });
  switch (op.kind) {
    case 'CONV_2D': {
      const o = op.options;
      return {
        type: BuiltinOptionsType.Conv2DOptions,
        table: new TableWriter(b, Conv2DOptionsTable)
          .int32('stride_w', o.strideW, 0).int32('stride_h', o.strideH, 0)
          .int32('dilation_w_factor', o.dilationW, 1).int32('dilation_h_factor', o.dilationH, 1)
          .int8('padding', padding(o.padding), 0).int8('fused_activation_function', activation(o.activation), 0)
          .end(),
      };
    }
    case 'DEPTHWISE_CONV_2D': {
      const o = op.options;
      return {
        type: BuiltinOptionsType.DepthwiseConv2DOptions,
        table: new TableWriter(b, DepthwiseConv2DOptionsTable)
          .int32('stride_w', o.strideW, 0).int32('stride_h', o.strideH, 0)
          .int32('depth_multiplier', o.depthMultiplier, 0)
          .int32('dilation_w_factor', o.dilationW, 1).int32('dilation_h_factor', o.dilationH, 1)
          .int8('padding', padding(o.padding), 0).int8('fused_activation_function', activation(o.activation), 0)
          .end(),
      };
    }
    case 'FULLY_CONNECTED':
      return {
        type: BuiltinOptionsType.FullyConnectedOptions,
        table: new TableWriter(b, FullyConnectedOptionsTable)
          .int8('fused_activation_function', activation(op.options.activation), 0)
          .bool('keep_num_dims', op.options.keepNumDims, false)
          .end(),
      };
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D': {
      const o = op.options;
      return {
        type: BuiltinOptionsType.Pool2DOptions,
        table: new TableWriter(b, Pool2DOptionsTable)
          .int32('stride_w', o.strideW, 0).int32('stride_h', o.strideH, 0)
          .int32('filter_width', o.filterW, 0).int32('filter_height', o.filterH, 0)
          .int8('padding', padding(o.padding), 0).int8('fused_activation_function', activation(o.activation), 0)
          .end(),
      };
    }
    case 'ADD':
      return {
        type: BuiltinOptionsType.AddOptions,
        table: new TableWriter(b, AddOptionsTable).int8('fused_activation_function', activation(op.options.activation), 0).end(),
      };
    case 'MEAN':
      return {
        type: BuiltinOptionsType.ReducerOptions,
        table: new TableWriter(b, ReducerOptionsTable).bool('keep_dims', op.options.keepDims, false).end(),
      };
    case 'SOFTMAX':
      return {
        type: BuiltinOptionsType.SoftmaxOptions,
        table: new TableWriter(b, SoftmaxOptionsTable).float32('beta', op.options.beta, 0).end(),
      };
    case 'CONCATENATION':
      return {
        type: BuiltinOptionsType.ConcatenationOptions,
        table: new TableWriter(b, ConcatenationOptionsTable)
          .int32('axis', op.options.axis, 0)
          .int8('fused_activation_function', activation(op.options.activation), 0)
          .end(),
      };
    case 'RESHAPE': {
      // The interpreter falls back to new_shape when there is no shape input; the output's shape is the target.
      const newShape = int32Vector(b, graph.tensors[op.outputs[0]].shape);
      return { type: WriterOnlyOptionsType.ReshapeOptions, table: new TableWriter(b, ReshapeOptionsTable).offset('new_shape', newShape).end() };
    }
    case 'PAD': return empty(WriterOnlyOptionsType.PadOptions);
    case 'QUANTIZE': return empty(WriterOnlyOptionsType.QuantizeOptions);
    case 'DEQUANTIZE': return empty(WriterOnlyOptionsType.DequantizeOptions);
    case 'RELU':
    case 'RELU6':
      return undefined;
    default:
      return op satisfies never; // every kind has a case (a new one fails to type-check here)
  }
}

/** PadOptions, QuantizeOptions and DequantizeOptions have no fields. */
const EMPTY_TABLE: TableSchema = { name: 'EmptyOptions', slots: {} };

/**
 * Adds one table's fields by name (slots from the schema slice). A scalar equal to its schema default is
 * left out, as flatc's generated code does, so readers see the default either way.
 */
class TableWriter<F extends string> {
  constructor(private readonly b: Builder, private readonly schema: TableSchema<F>) {
    b.startObject(Object.keys(schema.slots).length);
  }

  int8(field: F, value: number, fallback: number): this { this.b.addFieldInt8(this.slot(field), value, fallback); return this; }
  uint8(field: F, value: number, fallback: number): this { this.b.addFieldInt8(this.slot(field), value, fallback); return this; }
  bool(field: F, value: boolean, fallback: boolean): this { this.b.addFieldInt8(this.slot(field), +value, +fallback); return this; }
  int32(field: F, value: number, fallback: number): this { this.b.addFieldInt32(this.slot(field), value, fallback); return this; }
  uint32(field: F, value: number, fallback: number): this { this.b.addFieldInt32(this.slot(field), value | 0, fallback); return this; }
  float32(field: F, value: number, fallback: number): this { this.b.addFieldFloat32(this.slot(field), value, fallback); return this; }

  /** A table, vector or string built earlier; 0 (absent) writes nothing. */
  offset(field: F, value: number): this {
    if (value !== 0) this.b.addFieldOffset(this.slot(field), value, 0);
    return this;
  }

  end(): number { return this.b.endObject(); }

  private slot(field: F): number { return this.schema.slots[field]; }
}

function int32Vector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
  return b.endVector();
}

function float32Vector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]);
  return b.endVector();
}

function int64Vector(b: Builder, values: readonly number[]): number {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]));
  return b.endVector();
}

function offsetVector(b: Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

// ---------------------------------------------------------------------------------------------------
// What the file format needs of the graph

/**
 * Refuses graphs that would make an invalid or misleading file: the writer trusts tensor ids as buffer
 * positions, data sizes as shapes, and enum names as TFLite's. Every pass should produce graphs that pass.
 */
function checkGraph(graph: Graph): void {
  const fail = (what: string): never => {
    throw new McutrainError(`cannot write '${graph.name}' as .tflite: ${what}`,
      'the graph is malformed; this is a bug in the pass that produced it, please report it');
  };
  const isInt32 = (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
  const ref = (id: number, optional: boolean) => Number.isInteger(id) && ((optional && id === -1) || (id >= 0 && id < graph.tensors.length));

  graph.tensors.forEach((t, index) => {
    const label = `tensor ${index} '${t.name}'`;
    if (t.id !== index) fail(`${label} has id ${t.id}; tensor ids must equal their position`);
    if (!(t.dtype in TENSOR_TYPE_OF)) fail(`${label} has element type '${String(t.dtype)}'`);
    if (!t.shape.every((d) => isInt32(d) && d >= 0)) fail(`${label} has shape [${t.shape.join(', ')}]`);
    if (t.data && t.data.length !== tensorBytes(t)) {
      fail(`${label} (${t.dtype} [${t.shape.join(', ')}]) holds ${t.data.length} bytes of data, expected ${tensorBytes(t)}`);
    }
    const q = t.quant;
    if (!q) return;
    if (q.scale.length === 0 || q.scale.length !== q.zeroPoint.length) {
      fail(`${label} has ${q.scale.length} scales and ${q.zeroPoint.length} zero points`);
    }
    if (!q.scale.every((s) => Number.isFinite(s) && s >= 0)) fail(`${label} has a scale that is negative or not finite`);
    if (!q.zeroPoint.every(isInt32)) fail(`${label} has a zero point outside int32`);
    if (q.scale.length > 1 && (!Number.isInteger(q.axis) || q.axis < 0 || t.shape[q.axis] !== q.scale.length)) {
      fail(`${label} has ${q.scale.length} scales along axis ${q.axis}, which does not match its shape [${t.shape.join(', ')}]`);
    }
  });
  graph.operators.forEach((op, index) => {
    const label = `operator ${index} (${op.kind})`;
    if (!(op.kind in OPERATOR_TRAITS)) fail(`${label} is not an operator kind the writer knows`);
    if (!op.inputs.every((id) => ref(id, true)) || !op.outputs.every((id) => ref(id, false))) fail(`${label} refers to a tensor the graph does not have`);
    if (op.kind === 'RESHAPE' && op.outputs.length !== 1) fail(`${label} has ${op.outputs.length} outputs, expected 1`);
    const options = op.options as Partial<Record<'activation' | 'padding', string>>;
    if (options.activation !== undefined && !(ACTIVATION_NAMES as readonly string[]).includes(options.activation)) {
      fail(`${label} has activation '${options.activation}'`);
    }
    if (options.padding !== undefined && !(PADDING_NAMES as readonly string[]).includes(options.padding)) fail(`${label} has padding '${options.padding}'`);
  });
  if (!graph.inputs.every((id) => ref(id, false)) || !graph.outputs.every((id) => ref(id, false))) {
    fail('its inputs or outputs refer to a tensor the graph does not have');
  }
  const total = graph.tensors.reduce((sum, t) => sum + (t.data?.length ?? 0), 0);
  if (total > MAX_FILE_BYTES) {
    throw new McutrainError(`cannot write '${graph.name}': its constants take ${total} bytes, beyond the 2 GB a .tflite flatbuffer can address`,
      'a model this large cannot run on a microcontroller; reduce it first');
  }
}
