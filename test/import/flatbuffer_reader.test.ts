import { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { emptyTable, FlatBufferError, FlatBufferReader, tableSchema } from '../../src/import/flatbuffer_reader.ts';
import { writeTable, type Field } from './tflite_builder.ts';
import { cpuMark } from '../helpers/cpu_time.ts';

const Inner = tableSchema('Inner', ['value', 'blob']);
const Outer = tableSchema('Outer', [
  'i8', 'u8', 'flag', 'i32', 'u32', 'f32', 'u64', 'text', 'ints', 'floats', 'longs', 'inner', 'inners', 'choice_type', 'choice',
]);

function build(fill: (b: Builder) => Record<string, Field>, identifier?: string): Uint8Array {
  const b = new Builder(256);
  b.finish(writeTable(b, Outer, fill(b)), identifier);
  return b.asUint8Array().slice();
}

function vector(b: Builder, size: number, values: number[], add: (v: number) => void): number {
  b.startVector(size, values.length, size);
  for (let i = values.length - 1; i >= 0; i--) add(values[i]);
  return b.endVector();
}

function errorOf(run: () => unknown): FlatBufferError {
  try {
    run();
  } catch (error) {
    if (error instanceof FlatBufferError) return error;
    throw new Error(`expected a FlatBufferError, got ${String(error)}`);
  }
  throw new Error('expected a FlatBufferError, got none');
}

describe('FlatBufferReader', () => {
  const full = build((b) => {
    const inners = [3, 4].map((v) => writeTable(b, Inner, { value: { int32: v } }));
    return {
      i8: { int8: -5 }, u8: { uint8: 200 }, flag: { bool: true }, i32: { int32: -70000 }, u32: { uint32: 4_000_000_000 },
      f32: { float32: 0.5 }, u64: { uint64: 2n ** 40n },
      text: { offset: b.createString('héllo') },
      ints: { offset: vector(b, 4, [1, -2, 3], (v) => b.addInt32(v)) },
      floats: { offset: vector(b, 4, [0.25, -1], (v) => b.addFloat32(v)) },
      longs: { offset: vector(b, 8, [-128, 7], (v) => b.addInt64(BigInt(v))) },
      inner: { offset: writeTable(b, Inner, { value: { int32: 42 }, blob: { offset: b.createByteVector(new Uint8Array([9, 8, 7])) } }) },
      inners: { offset: vector(b, 4, inners, (v) => b.addOffset(v)) },
      choice_type: { uint8: 1 },
      choice: { offset: writeTable(b, Inner, { value: { int32: 99 } }) },
    };
  }, 'TEST');

  it('reads scalars, strings, vectors, nested tables and unions', () => {
    const reader = new FlatBufferReader(full);
    expect(reader.fileIdentifier()).toBe('TEST');
    const t = reader.root(Outer);
    expect([t.int8('i8'), t.uint8('u8'), t.bool('flag'), t.int32('i32'), t.uint32('u32'), t.float32('f32')])
      .toEqual([-5, 200, true, -70000, 4_000_000_000, 0.5]);
    expect(t.uint64('u64')).toBe(2n ** 40n);
    expect(t.string('text')).toBe('héllo');
    expect(t.int32s('ints')).toEqual([1, -2, 3]);
    expect(t.float32s('floats')).toEqual([0.25, -1]);
    expect(t.int64s('longs')).toEqual([-128n, 7n]);
    const inner = t.table('inner', Inner)!;
    expect(inner.int32('value')).toBe(42);
    expect([...inner.bytes('blob')!]).toEqual([9, 8, 7]);
    expect(inner.where).toBe('Outer.inner');
    expect(t.tables('inners', Inner).map((x) => x.int32('value'))).toEqual([3, 4]);
    expect(t.length('inners')).toBe(2);
    expect(t.tableAtIndex('inners', 1, Inner)?.int32('value')).toBe(4);
    expect(t.tableAtIndex('inners', 2, Inner)).toBeUndefined();
    const choice = t.union('choice_type', 'choice');
    expect(choice.type).toBe(1);
    expect(choice.open(Inner)?.int32('value')).toBe(99);
  });

  it('returns schema defaults for absent fields, also past the end of a short vtable', () => {
    const t = new FlatBufferReader(build(() => ({ i8: { int8: 1 } }))).root(Outer);
    expect([t.int32('i32', 7), t.float32('f32', 1.5), t.bool('flag', true), t.uint64('u64', 3n)]).toEqual([7, 1.5, true, 3n]);
    expect(t.string('text')).toBeUndefined();
    expect(t.int32s('ints')).toEqual([]);
    expect(t.table('inner', Inner)).toBeUndefined();
    expect(t.has('i8')).toBe(true);
    expect(t.has('choice')).toBe(false);
    expect(emptyTable(Outer, 'x').int32('i32', 11)).toBe(11);
  });

  it('rejects a root offset past the end', () => {
    const bytes = full.slice();
    new DataView(bytes.buffer).setUint32(0, bytes.length + 4, true);
    expect(errorOf(() => new FlatBufferReader(bytes).root(Outer)).message).toMatch(/^Outer: table at byte \d+ .*outside the \d+-byte file/);
  });

  it('rejects any truncation of the buffer before reading garbage', () => {
    // Every field of `full` ends inside the buffer, so every cut must fail somewhere in the walk.
    let failures = 0;
    for (let n = 0; n < full.length - 2; n++) {
      const reader = new FlatBufferReader(full.subarray(0, n));
      const walk = () => {
        const t = reader.root(Outer);
        t.string('text'); t.int32s('ints'); t.float32s('floats'); t.int64s('longs'); t.uint64('u64');
        t.table('inner', Inner)?.bytes('blob'); t.tables('inners', Inner); t.union('choice_type', 'choice').open(Inner);
      };
      errorOf(walk);
      failures++;
    }
    expect(failures).toBe(full.length - 2);
  });

  it('rejects a vector whose length runs past the end of the file, before allocating', () => {
    const bytes = build((b) => ({ ints: { offset: vector(b, 4, [1, 2], (v) => b.addInt32(v)) } }));
    const t = new FlatBufferReader(bytes).root(Outer);
    const lengthPos = bytes.length - 12; // the vector is the first thing written, so it sits at the end
    expect(new DataView(bytes.buffer).getUint32(lengthPos, true)).toBe(2);
    new DataView(bytes.buffer).setUint32(lengthPos, 0x7fffffff, true);
    expect(errorOf(() => t.int32s('ints')).message).toMatch(/^Outer\.ints: vector at byte \d+ claims 2147483647 elements of 4 bytes/);
  });

  it('rejects a string without its NUL terminator', () => {
    const bytes = build((b) => ({ text: { offset: b.createString('abc') } }));
    const nul = bytes.indexOf(0, bytes.indexOf('c'.charCodeAt(0)));
    bytes[nul] = 0x41;
    expect(errorOf(() => new FlatBufferReader(bytes).root(Outer).string('text')).message).toMatch(/not NUL-terminated/);
  });

  it('rejects a vtable entry pointing outside its table', () => {
    const bytes = build(() => ({ i32: { int32: 5 } }));
    const reader = new FlatBufferReader(bytes);
    const t = reader.root(Outer);
    const vtable = t.pos - new DataView(bytes.buffer).getInt32(t.pos, true);
    new DataView(bytes.buffer).setUint16(vtable + 4 + 2 * Outer.slots.i32, 400, true);
    expect(errorOf(() => new FlatBufferReader(bytes).root(Outer).int32('i32')).message).toMatch(/^Outer\.i32: field offset 400 lies outside its \d+-byte table/);
  });

  it('rejects a vtable with an odd or tiny size', () => {
    const bytes = build(() => ({ i32: { int32: 5 } }));
    const t = new FlatBufferReader(bytes).root(Outer);
    const vtable = t.pos - new DataView(bytes.buffer).getInt32(t.pos, true);
    new DataView(bytes.buffer).setUint16(vtable, 3, true);
    expect(errorOf(() => new FlatBufferReader(bytes).root(Outer)).message).toMatch(/invalid size 3/);
  });

  it('stops a walk that keeps re-reading the same region (work budget)', () => {
    // 20000 vector entries all point at one table holding a 200 KB blob: a 280 KB file that would
    // otherwise hand out 4 GB of bytes.
    const b = new Builder(1 << 19);
    const shared = writeTable(b, Inner, { blob: { offset: b.createByteVector(new Uint8Array(200_000)) } });
    b.startVector(4, 20_000, 4);
    for (let i = 0; i < 20_000; i++) b.addOffset(shared);
    const inners = b.endVector();
    b.finish(writeTable(b, Outer, { inners: { offset: inners } }));
    const t = new FlatBufferReader(b.asUint8Array()).root(Outer);
    const cpuMs = cpuMark();
    const error = errorOf(() => t.tables('inners', Inner).forEach((inner) => inner.bytes('blob')));
    expect(error.message).toMatch(/far more often than a real model does/);
    expect(cpuMs()).toBeLessThan(2000); // CPU, not wall time: the budget stopped the walk long before 4 GB
  });

  it('reports every span it reads', () => {
    const spans: [number, number][] = [];
    const t = new FlatBufferReader(full, { onSpan: (start, end) => spans.push([start, end]) }).root(Outer);
    t.int32s('ints');
    expect(spans.length).toBe(3); // vtable, table, vector
    for (const [start, end] of spans) expect(0 <= start && start < end && end <= full.length).toBe(true);
  });
});
