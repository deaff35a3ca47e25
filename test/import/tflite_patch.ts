/**
 * In-place edits of a real .tflite file's graph (which tensor is the input, how many operators there are,
 * which buffer a tensor reads), for the validator tests and the model fuzzer. Each edit rewrites a value
 * the file already stores, so the rest of the flatbuffer stays byte-for-byte as the converter wrote it.
 */
import { FlatBufferReader, type Table } from '../../src/import/flatbuffer_reader.ts';
import { ModelTable, OperatorTable, SubGraphTable, TensorTable } from '../../src/import/tflite_schema.ts';

/** Byte position of `field`'s value inside `table`, or undefined when the file leaves it at its default. */
export function fieldPosition<F extends string>(bytes: Uint8Array, table: Table<F>, field: F): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vtable = table.pos - view.getInt32(table.pos, true);
  const entry = 4 + 2 * table.schema.slots[field];
  if (entry + 2 > view.getUint16(vtable, true)) return undefined;
  const offset = view.getUint16(vtable + entry, true);
  return offset === 0 ? undefined : table.pos + offset;
}

/** Position of the length word of the vector stored in `field` (its elements follow it). */
function vectorPosition<F extends string>(bytes: Uint8Array, table: Table<F>, field: F): number {
  const at = fieldPosition(bytes, table, field);
  if (at === undefined) throw new Error(`${table.where}.${field} is absent`);
  return at + new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

/** The parts of subgraph 0 the edits below reach. */
export function subgraphOf(bytes: Uint8Array): { subgraph: Table<keyof typeof SubGraphTable.slots>; operators: Table<keyof typeof OperatorTable.slots>[]; tensors: Table<keyof typeof TensorTable.slots>[] } {
  const model = new FlatBufferReader(bytes).root(ModelTable);
  const subgraph = model.tableAtIndex('subgraphs', 0, SubGraphTable)!;
  return { subgraph, operators: subgraph.tables('operators', OperatorTable), tensors: subgraph.tables('tensors', TensorTable) };
}

/** A copy of `bytes` with `edit` applied to its DataView. */
export function patched(bytes: Uint8Array, edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer), copy);
  return copy;
}

/** Sets element `index` of an int32 vector field (e.g. SubGraph.inputs, Operator.outputs). */
export function setInt32Element<F extends string>(bytes: Uint8Array, table: Table<F>, field: F, index: number, value: number): Uint8Array {
  const vector = vectorPosition(bytes, table, field);
  return patched(bytes, (view) => view.setInt32(vector + 4 + 4 * index, value, true));
}

/** Shortens (or claims to lengthen) a vector field by rewriting its length word. */
export function setVectorLength<F extends string>(bytes: Uint8Array, table: Table<F>, field: F, length: number): Uint8Array {
  const vector = vectorPosition(bytes, table, field);
  return patched(bytes, (view) => view.setUint32(vector, length, true));
}

/** Rewrites a stored uint32 field (e.g. Tensor.buffer, Operator.opcode_index). */
export function setUint32Field<F extends string>(bytes: Uint8Array, table: Table<F>, field: F, value: number): Uint8Array {
  const at = fieldPosition(bytes, table, field);
  if (at === undefined) throw new Error(`${table.where}.${field} is absent`);
  return patched(bytes, (view) => view.setUint32(at, value, true));
}
