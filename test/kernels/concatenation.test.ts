/**
 * mt_concatenation<N>_s8 on parameters from lowerConcatenation, against concatenation built directly
 * in N dimensions (each output element looked up in the input that covers its index on the axis).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowerConcatenation } from '../../src/lower/ops/concatenation.ts';
import { field, GraphBuilder } from '../lower/graph_builder.ts';
import { buildKernelHarness, seededInts, type KernelHarness } from './c_harness.ts';
import { runCases } from './case_runner.ts';

let harness: KernelHarness;
beforeAll(() => { harness = buildKernelHarness('concatenation', ['concatenation']); });
afterAll(() => harness?.cleanup());

interface ConcatCase { shapes: number[][]; axis: number; data: number[][] }

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function caseLine({ shapes, axis, data }: ConcatCase): number[] {
  const b = new GraphBuilder();
  const rank = shapes[0].length;
  const a = axis < 0 ? axis + rank : axis;
  const ins = shapes.map((s, i) => b.activation(`in${i}`, s, 0.05, 3));
  const outShape = shapes[0].map((d, j) => (j === a ? shapes.reduce((sum, s) => sum + s[j], 0) : d));
  const out = b.activation('out', outShape, 0.05, 3);
  const call = lowerConcatenation(b.graph(), b.op('CONCATENATION', ins, [out], { axis, activation: 'NONE' }));
  expect(call.fn).toBe(`mt_concatenation${shapes.length}_s8`);
  expect(call.args.map((x) => x.kind)).toEqual(['struct', ...shapes.map(() => 'tensor'), 'tensor']);
  const slices = field(call, 'slice_sizes') as number[];
  return [shapes.length, Number(field(call, 'outer_count')), ...slices, ...data.flat()];
}

/** Concatenation by definition: walk the output's index space, find the input that holds the index on the axis. */
function concatReference({ shapes, axis, data }: ConcatCase): number[] {
  const rank = shapes[0].length;
  const a = axis < 0 ? axis + rank : axis;
  const outShape = shapes[0].map((d, j) => (j === a ? shapes.reduce((sum, s) => sum + s[j], 0) : d));
  const out: number[] = [];
  for (let flat = 0; flat < size(outShape); flat++) {
    const index = outShape.map((_, j) => Math.floor(flat / size(outShape.slice(j + 1))) % outShape[j]);
    let which = 0;
    let along = index[a];
    while (along >= shapes[which][a]) along -= shapes[which++][a];
    const local = index.map((v, j) => (j === a ? along : v));
    out.push(data[which][local.reduce((acc, v, j) => acc * shapes[which][j] + v, 0)]);
  }
  return out;
}

describe('concatenation kernel', () => {
  it('passes its C self-test (hand-worked concatenations)', () => {
    expect(harness.run([])).toContain('PASS concatenation');
  });

  it('matches concatenation by definition for 1 to 10 inputs, any axis, negative axes included', () => {
    const rand = seededInts(77);
    const cases = Array.from({ length: 150 }, (): ConcatCase => {
      const rank = rand(1, 4);
      const axis = rand(-rank, rank - 1);
      const base = Array.from({ length: rank }, () => rand(1, 4));
      const shapes = Array.from({ length: rand(1, 10) }, () => base.map((d, j) => (j === (axis + rank) % rank ? rand(1, 4) : d)));
      return { shapes, axis, data: shapes.map((s) => Array.from({ length: size(s) }, () => rand(-128, 127))) };
    });
    const got = runCases(harness, cases.map(caseLine));
    cases.forEach((c, i) => expect(got[i], `shapes ${JSON.stringify(c.shapes)} axis ${c.axis}`).toEqual(concatReference(c)));
  });
});
