/**
 * Damaged copies of a .tflite model, reproducible from a seed, aimed where damage hurts.
 *
 * Byte-level damage (truncations, bit flips, byte and word rewrites) lands mostly on the flatbuffer's
 * structure: the importer reports which byte ranges it reads, and the first bytes of each range are
 * tables, vtables and vector headers rather than weights. Structural damage rewrites one value the file
 * stores with an absurd one (a dimension, a vector count, a tensor or buffer index, a quantization
 * parameter, an option). Graph-level damage keeps the file well-formed and breaks its dataflow: inputs
 * rewired to intermediates, operators dropped, operands pointing at the wrong tensors, weights emptied.
 */
import { FlatBufferReader, type Table, type TableSchema } from '../../src/import/flatbuffer_reader.ts';
import { importTflite } from '../../src/import/import_tflite.ts';
import {
  AddOptionsTable, BuiltinOptionsType, ConcatenationOptionsTable, Conv2DOptionsTable, DepthwiseConv2DOptionsTable,
  FullyConnectedOptionsTable, ModelTable, OperatorTable, Pool2DOptionsTable, QuantizationParametersTable, ReducerOptionsTable,
  SubGraphTable, TensorTable,
} from '../../src/import/tflite_schema.ts';
import { fieldPosition, patched } from '../import/tflite_patch.ts';

export interface Mutant { bytes: Uint8Array; kind: MutationKind; what: string }

/** How much of each range read counts as structure; the rest of a long range is tensor data. */
const STRUCTURE_BYTES_PER_SPAN = 24;

/** Byte ranges the importer reads on a clean import of `bytes`. */
export function spansRead(bytes: Uint8Array, file: string): [number, number][] {
  const spans: [number, number][] = [];
  importTflite(bytes, file, { onSpan: (start, end) => spans.push([start, end]) });
  return spans;
}

/** The truncation points worth trying: every boundary of a range the importer reads, and one byte either side. */
export function boundaryCuts(spans: [number, number][], length: number): number[] {
  const cuts = new Set<number>();
  for (const [start, end] of spans) for (const at of [start, end]) for (const d of [-1, 0, 1]) cuts.add(at + d);
  return [...cuts].filter((n) => n >= 0 && n < length).sort((a, b) => a - b);
}

/** Positions of the first bytes of every range read: where byte damage meets structure. */
export function structureBytes(spans: [number, number][]): number[] {
  return [...new Set(spans.flatMap(([start, end]) => {
    const stop = Math.min(end, start + STRUCTURE_BYTES_PER_SPAN);
    return Array.from({ length: stop - start }, (_, i) => start + i);
  }))];
}

/** 1 to 4 bit flips, byte or word rewrites, 85% of them in `structure`. */
export function mutateBytes(original: Uint8Array, structure: number[], random: () => number): { bytes: Uint8Array; what: string } {
  const bytes = original.slice();
  const view = new DataView(bytes.buffer);
  const edits: string[] = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    const pick = random();
    const pos = pick < 0.85 ? structure[Math.floor(random() * structure.length)] : Math.floor(random() * bytes.length);
    const kind = random();
    if (kind < 0.15) {
      // Rewrite a whole aligned word with a small number: a short offset or length pointing somewhere plausible.
      const word = pos & ~3;
      if (word + 4 <= bytes.length) view.setUint32(word, Math.floor(random() * 256), true);
      edits.push(`word @${word}=${word + 4 <= bytes.length ? view.getUint32(word, true) : 'n/a'}`);
    } else if (kind < 0.55) {
      const bit = Math.floor(random() * 8);
      bytes[pos] ^= 1 << bit;
      edits.push(`flip bit ${bit} @${pos}`);
    } else if (kind < 0.8) {
      bytes[pos] = Math.floor(random() * 256);
      edits.push(`byte @${pos}=${bytes[pos]}`);
    } else {
      // Extreme values are the classic way to break length and offset arithmetic.
      bytes[pos] = kind < 0.9 ? 0xff : 0x00;
      edits.push(`byte @${pos}=${bytes[pos]}`);
    }
  }
  return { bytes, what: edits.join(', ') };
}

// ---------------------------------------------------------------------------------------------------
// Structural and graph-level damage, on a parsed view of the model

type TensorT = Table<keyof typeof TensorTable.slots>;
type OperatorT = Table<keyof typeof OperatorTable.slots>;
type SubGraphT = Table<keyof typeof SubGraphTable.slots>;

/** Where the values worth damaging sit in one model. */
export interface ModelLayout {
  file: string;
  original: Uint8Array;
  spans: [number, number][];
  structure: number[];
  cuts: number[];
  subgraph: SubGraphT;
  tensors: TensorT[];
  operators: OperatorT[];
  bufferCount: number;
  opcodeCount: number;
  /** Tensors with a non-empty buffer (weights, biases, shapes). */
  constants: number[];
  /** Tensors an operator writes. */
  intermediates: number[];
}

export function modelLayout(original: Uint8Array, file: string): ModelLayout {
  const spans = spansRead(original, file);
  const model = new FlatBufferReader(original).root(ModelTable);
  const subgraph = model.tableAtIndex('subgraphs', 0, SubGraphTable)!;
  const tensors = subgraph.tables('tensors', TensorTable);
  const operators = subgraph.tables('operators', OperatorTable);
  const graph = importTflite(original, file);
  return {
    file, original, spans, structure: structureBytes(spans), cuts: boundaryCuts(spans, original.length),
    subgraph, tensors, operators,
    bufferCount: model.length('buffers'), opcodeCount: model.length('operator_codes'),
    constants: graph.tensors.filter((t) => t.data).map((t) => t.id),
    intermediates: graph.operators.flatMap((op) => op.outputs),
  };
}

export const MUTATION_KINDS = [
  'truncate', 'bytes', 'absurd-dim', 'absurd-count', 'bad-index', 'bad-buffer', 'quantization', 'options',
  'rewire-input', 'drop-operators', 'rewire-operand', 'rewire-output', 'empty-weights', 'no-io',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

const pick = <T>(list: readonly T[], random: () => number): T => list[Math.floor(random() * list.length)];
const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Position of the length word of a vector field, or undefined when the field is absent. */
function vectorAt<F extends string>(bytes: Uint8Array, table: Table<F>, field: F): number | undefined {
  const at = fieldPosition(bytes, table, field);
  return at === undefined ? undefined : at + view(bytes).getUint32(at, true);
}

/** Rewrites one int32 element of a vector field (a no-op mutant when the field is absent or empty). */
function setElement<F extends string>(bytes: Uint8Array, table: Table<F>, field: F, random: () => number, value: (index: number, old: number) => number): { bytes: Uint8Array; what: string } | undefined {
  const vector = vectorAt(bytes, table, field);
  if (vector === undefined) return undefined;
  const count = view(bytes).getUint32(vector, true);
  if (count === 0) return undefined;
  const index = Math.floor(random() * count);
  const at = vector + 4 + 4 * index;
  const old = view(bytes).getInt32(at, true);
  const now = value(index, old);
  if (now === old) return undefined;
  return { bytes: patched(bytes, (v) => v.setInt32(at, now, true)), what: `${table.where}.${field}[${index}]: ${old} -> ${now}` };
}

function setCount<F extends string>(bytes: Uint8Array, table: Table<F>, field: F, value: (old: number) => number): { bytes: Uint8Array; what: string } | undefined {
  const vector = vectorAt(bytes, table, field);
  if (vector === undefined) return undefined;
  const old = view(bytes).getUint32(vector, true);
  const now = value(old) >>> 0;
  if (now === old) return undefined;
  return { bytes: patched(bytes, (v) => v.setUint32(vector, now, true)), what: `${table.where}.${field} count: ${old} -> ${now}` };
}

function setScalar<F extends string>(bytes: Uint8Array, table: Table<F>, field: F, size: 1 | 4, value: number): { bytes: Uint8Array; what: string } | undefined {
  const at = fieldPosition(bytes, table, field);
  if (at === undefined) return undefined;
  const old = size === 1 ? view(bytes).getInt8(at) : view(bytes).getInt32(at, true);
  if (value === old) return undefined;
  const edited = patched(bytes, (v) => (size === 1 ? v.setInt8(at, value) : v.setInt32(at, value, true)));
  return { bytes: edited, what: `${table.where}.${field}: ${old} -> ${value}` };
}

const ABSURD_DIMS = [0, -1, -2, -7, 2 ** 31 - 1, -(2 ** 31), 65536, 1 << 20, 3, 1000];
const ABSURD_COUNTS = (old: number) => [0, old + 1, old * 1000, 0x7fffffff, 0xffffffff, old - 1, 1 << 24];
const ABSURD_INDICES = (n: number) => [-1, -2, -(2 ** 31), n, n + 1, 2 ** 31 - 1, 1000000];
const ABSURD_FLOATS = [0, -1, Number.NaN, Infinity, 1e30, 1e-30, 1e-45, 65504];
/** Option fields the importer reads, with their wire size, per options union tag (rewritten only where the file stores them). */
const OPTION_TABLES: Record<number, { schema: TableSchema; fields: [string, 1 | 4][] }> = {
  [BuiltinOptionsType.Conv2DOptions]: { schema: Conv2DOptionsTable, fields: [['padding', 1], ['stride_w', 4], ['stride_h', 4], ['fused_activation_function', 1], ['dilation_w_factor', 4], ['dilation_h_factor', 4]] },
  [BuiltinOptionsType.DepthwiseConv2DOptions]: { schema: DepthwiseConv2DOptionsTable, fields: [['padding', 1], ['stride_w', 4], ['stride_h', 4], ['depth_multiplier', 4], ['fused_activation_function', 1], ['dilation_w_factor', 4], ['dilation_h_factor', 4]] },
  [BuiltinOptionsType.Pool2DOptions]: { schema: Pool2DOptionsTable, fields: [['padding', 1], ['stride_w', 4], ['stride_h', 4], ['filter_width', 4], ['filter_height', 4], ['fused_activation_function', 1]] },
  [BuiltinOptionsType.FullyConnectedOptions]: { schema: FullyConnectedOptionsTable, fields: [['fused_activation_function', 1], ['weights_format', 1], ['keep_num_dims', 1]] },
  [BuiltinOptionsType.ConcatenationOptions]: { schema: ConcatenationOptionsTable, fields: [['axis', 4], ['fused_activation_function', 1]] },
  [BuiltinOptionsType.AddOptions]: { schema: AddOptionsTable, fields: [['fused_activation_function', 1]] },
  [BuiltinOptionsType.ReducerOptions]: { schema: ReducerOptionsTable, fields: [['keep_dims', 1]] },
};
const OPTION_VALUES = [-1, 0, 1, 2, 3, 5, 7, 100, -128];

/** One mutant of `kind`, or undefined when the model offers nothing to damage that way or the draw would change nothing. */
export function mutateModel(m: ModelLayout, kind: MutationKind, random: () => number): Mutant | undefined {
  const { original: bytes } = m;
  const tensorCount = m.tensors.length;
  const anyTensor = () => Math.floor(random() * tensorCount);
  const anyOp = () => pick(m.operators, random);
  const result = ((): { bytes: Uint8Array; what: string } | undefined => {
    switch (kind) {
      case 'truncate': {
        const at = random() < 0.7 ? pick(m.cuts, random) : Math.floor(random() * bytes.length);
        return { bytes: bytes.slice(0, at), what: `truncated to ${at} bytes` };
      }
      case 'bytes': return mutateBytes(bytes, m.structure, random);
      case 'absurd-dim':
        return setElement(bytes, m.tensors[anyTensor()], 'shape', random, () => pick(ABSURD_DIMS, random));
      case 'absurd-count': {
        const counts = ABSURD_COUNTS;
        const choice = Math.floor(random() * 5);
        if (choice === 0) return setCount(bytes, m.subgraph, pick(['tensors', 'operators', 'inputs', 'outputs'] as const, random), (o) => pick(counts(o), random));
        if (choice === 1) return setCount(bytes, m.tensors[anyTensor()], 'shape', (o) => pick(counts(o), random));
        if (choice === 2) return setCount(bytes, anyOp(), pick(['inputs', 'outputs'] as const, random), (o) => pick(counts(o), random));
        const quant = m.tensors[anyTensor()].table('quantization', QuantizationParametersTable);
        return quant && setCount(bytes, quant, pick(['scale', 'zero_point'] as const, random), (o) => pick(counts(o), random));
      }
      case 'bad-index': {
        const value = () => pick(ABSURD_INDICES(tensorCount), random);
        if (random() < 0.3) return setElement(bytes, m.subgraph, pick(['inputs', 'outputs'] as const, random), random, value);
        if (random() < 0.2) return setScalar(bytes, anyOp(), 'opcode_index', 4, pick(ABSURD_INDICES(m.opcodeCount), random));
        return setElement(bytes, anyOp(), pick(['inputs', 'outputs'] as const, random), random, value);
      }
      case 'bad-buffer': {
        const t = m.tensors[random() < 0.7 && m.constants.length > 0 ? pick(m.constants, random) : anyTensor()];
        const choices = [m.bufferCount, m.bufferCount + 1, 0xffffffff, 0x7fffffff, Math.floor(random() * m.bufferCount)];
        return setScalar(bytes, t, 'buffer', 4, pick(choices, random) | 0);
      }
      case 'quantization': {
        const quant = m.tensors[anyTensor()].table('quantization', QuantizationParametersTable);
        if (!quant) return undefined;
        if (random() < 0.6) {
          const scale = vectorAt(bytes, quant, 'scale');
          if (scale === undefined || view(bytes).getUint32(scale, true) === 0) return undefined;
          const index = Math.floor(random() * view(bytes).getUint32(scale, true));
          const value = pick(ABSURD_FLOATS, random);
          return { bytes: patched(bytes, (v) => v.setFloat32(scale + 4 + 4 * index, value, true)), what: `${quant.where}.scale[${index}] = ${value}` };
        }
        if (random() < 0.5) return setScalar(bytes, quant, 'quantized_dimension', 4, pick([-1, 1, 2, 3, 4, 100], random));
        const zeroPoint = vectorAt(bytes, quant, 'zero_point');
        if (zeroPoint === undefined || view(bytes).getUint32(zeroPoint, true) === 0) return undefined;
        const value = pick([-129n, 128n, 255n, -128n, 127n, 2n ** 40n, -(2n ** 63n)], random);
        return { bytes: patched(bytes, (v) => v.setBigInt64(zeroPoint + 4, value, true)), what: `${quant.where}.zero_point[0] = ${value}` };
      }
      case 'options': {
        const op = anyOp();
        const at = fieldPosition(bytes, op, 'builtin_options');
        if (at === undefined) return undefined;
        const typeAt = fieldPosition(bytes, op, 'builtin_options_type');
        if (random() < 0.15 && typeAt !== undefined) {
          const type = pick([0, 1, 2, 5, 8, 9, 10, 11, 27, 200], random);
          return { bytes: patched(bytes, (v) => v.setUint8(typeAt, type)), what: `${op.where}.builtin_options_type = ${type}` };
        }
        const options = OPTION_TABLES[typeAt === undefined ? 0 : bytes[typeAt]];
        if (!options) return undefined;
        const [field, size] = pick(options.fields, random);
        const table = new FlatBufferReader(bytes).tableAt(at + view(bytes).getUint32(at, true), options.schema, `${op.where}.builtin_options`);
        return setScalar(bytes, table, field, size, pick(OPTION_VALUES, random));
      }
      case 'rewire-input':
        return m.intermediates.length ? setElement(bytes, m.subgraph, 'inputs', random, () => pick(m.intermediates, random)) : undefined;
      case 'drop-operators':
        return setCount(bytes, m.subgraph, 'operators', (o) => Math.max(0, o - 1 - Math.floor(random() * Math.min(3, o))));
      case 'rewire-operand':
        return setElement(bytes, anyOp(), 'inputs', random, () => anyTensor());
      case 'rewire-output':
        return setElement(bytes, random() < 0.8 ? anyOp() : m.subgraph, 'outputs', random, () => anyTensor());
      case 'empty-weights':
        return m.constants.length ? setScalar(bytes, m.tensors[pick(m.constants, random)], 'buffer', 4, 0) : undefined;
      case 'no-io':
        return setCount(bytes, m.subgraph, pick(['inputs', 'outputs'] as const, random), () => 0);
    }
  })();
  return result && { ...result, kind };
}
