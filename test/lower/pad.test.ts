/** lowerPad: paddings from the constant input extended to NHWC, the border value, call layout, and clear errors. */
import { describe, expect, it } from 'vitest';
import { lowerPad } from '../../src/lower/ops/pad.ts';
import { field, GraphBuilder } from './graph_builder.ts';

interface PadOpts { shape?: number[]; paddings?: number[]; out?: number[]; outQ?: [number, number]; int64?: boolean; runtime?: boolean }

function pad(opts: PadOpts = {}) {
  const b = new GraphBuilder();
  const shape = opts.shape ?? [1, 4, 4, 3];
  const paddings = opts.paddings ?? [0, 0, 1, 2, 0, 1, 0, 0];
  const x = b.activation('image', shape, 0.02, -9);
  const p = b.bias('paddings', paddings);
  const pt = b.tensors[p];
  pt.shape = [paddings.length / 2, 2];
  if (opts.int64) Object.assign(pt, { dtype: 'int64', data: new Uint8Array(BigInt64Array.from(paddings.map(BigInt)).buffer) });
  if (opts.runtime) delete pt.data;
  const out = opts.out ?? shape.map((d, i) => d + (paddings[2 * i] ?? 0) + (paddings[2 * i + 1] ?? 0));
  const y = b.activation('padded', out, ...(opts.outQ ?? [0.02, -9]));
  const op = b.op('PAD', [x, p], [y], {});
  const graph = b.graph();
  return () => lowerPad(graph, op);
}

describe('lowerPad', () => {
  it('passes (before, after) per NHWC dimension and pads with the output zero point (real 0)', () => {
    const call = pad()();
    expect(call.fn).toBe('mt_pad_s8');
    expect(call.structs[0].ctype).toBe('mt_pad_params');
    expect(call.args).toEqual([
      { kind: 'struct', name: 'params' }, { kind: 'dims', values: [1, 4, 4, 3] }, { kind: 'tensor', tensor: 0 }, { kind: 'tensor', tensor: 2 },
    ]);
    expect(field(call, 'before')).toEqual({ n: 0, h: 1, w: 0, c: 0 });
    expect(field(call, 'after')).toEqual({ n: 0, h: 2, w: 1, c: 0 });
    expect(field(call, 'pad_value')).toBe(-9);
  });

  it('extends lower ranks with leading dimensions of 1 and reads int64 paddings', () => {
    const call = pad({ shape: [5, 6], paddings: [2, 0, 1, 3], int64: true })();
    expect(call.args[1]).toEqual({ kind: 'dims', values: [1, 1, 5, 6] });
    expect(field(call, 'before')).toEqual({ n: 0, h: 0, w: 2, c: 1 });
    expect(field(call, 'after')).toEqual({ n: 0, h: 0, w: 0, c: 3 });
  });

  it('rejects what it cannot pad exactly, naming the operator and tensor', () => {
    expect(pad({ paddings: [0, 0, 1, 1, 1, 1] })).toThrow(/operator 0 \(PAD\): paddings 'paddings' hold 6 values; a rank-4 input needs 8/);
    expect(pad({ paddings: [0, 0, -1, 0, 0, 0, 0, 0], out: [1, 3, 4, 3] })).toThrow(/negative/);
    expect(pad({ runtime: true })).toThrow(/paddings 'paddings' is computed at run time/);
    expect(pad({ outQ: [0.02, 0] })).toThrow(/'image' .* and output 'padded' .* are quantized differently/);
    expect(pad({ out: [1, 7, 5, 4] })).toThrow(/output 'padded' has shape \[1, 7, 5, 4\], expected \[1, 7, 5, 3\]/);
    expect(pad({ shape: [1, 1, 2, 2, 2], paddings: [0, 0, 0, 0, 1, 1, 0, 0, 0, 0] })).toThrow(/at most 4 are supported/);
  });
});
