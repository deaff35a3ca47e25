/**
 * mt_pad_s8 on parameters from lowerPad, against padding built directly in N dimensions (each output
 * element is the input element it came from, or the output zero point).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowerPad } from '../../src/lower/ops/pad.ts';
import { field, GraphBuilder } from '../lower/graph_builder.ts';
import { buildKernelHarness, seededInts, type KernelHarness } from './c_harness.ts';
import { runCases } from './case_runner.ts';
import type { Dims4 } from '../../src/lower/params_structs.ts';

let harness: KernelHarness;
beforeAll(() => { harness = buildKernelHarness('pad', ['pad']); });
afterAll(() => harness?.cleanup());

/** An mt_dims4 field as the harness reads it: n, h, w, c. */
function dims4(value: unknown): number[] {
  const { n, h, w, c } = value as Dims4;
  return [n, h, w, c];
}

interface PadCase { input: number[]; shape: number[]; paddings: [number, number][]; zeroPoint: number }

/** Lowers each case and runs them all through the kernel in one process. */
function runPads(cases: PadCase[]): number[][] {
  return runCases(harness, cases.map(padCaseLine));
}

function padCaseLine({ input, shape, paddings, zeroPoint }: PadCase): number[] {
  const b = new GraphBuilder();
  const x = b.activation('x', shape, 0.1, zeroPoint);
  const pads = b.bias('paddings', paddings.flat());
  b.tensors[pads].shape = [shape.length, 2];
  const y = b.activation('y', shape.map((d, i) => d + paddings[i][0] + paddings[i][1]), 0.1, zeroPoint);
  const call = lowerPad(b.graph(), b.op('PAD', [x, pads], [y], {}));
  const inDims = (call.args[1] as { values: number[] }).values;
  return [...inDims, ...dims4(field(call, 'before')), ...dims4(field(call, 'after')), Number(field(call, 'pad_value')), ...input];
}

/** Padding by definition: walk the output's index space and look each index up in the input. */
function padReference(input: number[], shape: number[], paddings: [number, number][], value: number): number[] {
  const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const total = outShape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    let inFlat = 0;
    let inside = true;
    for (let axis = 0; axis < outShape.length; axis++) {
      const stride = outShape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const idx = Math.floor(rest / stride) - paddings[axis][0];
      rest %= stride;
      if (idx < 0 || idx >= shape[axis]) inside = false;
      inFlat = inFlat * shape[axis] + idx;
    }
    out.push(inside ? input[inFlat] : value);
  }
  return out;
}

describe('pad kernel', () => {
  it('passes its C self-test (hand-worked borders)', () => {
    expect(harness.run([])).toContain('PASS pad');
  });

  it('matches padding by definition for random shapes of rank 1 to 4', () => {
    const rand = seededInts(31);
    const cases = Array.from({ length: 200 }, (): PadCase => {
      const shape = Array.from({ length: rand(1, 4) }, () => rand(1, 5));
      return {
        shape,
        paddings: shape.map((): [number, number] => [rand(0, 3), rand(0, 3)]),
        zeroPoint: rand(-128, 127),
        input: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand(-128, 127)),
      };
    });
    runPads(cases).forEach((got, i) => {
      const c = cases[i];
      expect(got, `shape [${c.shape}] paddings ${JSON.stringify(c.paddings)}`).toEqual(padReference(c.input, c.shape, c.paddings, c.zeroPoint));
    });
  });

  it('pads a MobileNet-style feature map on the bottom/right only', () => {
    const rand = seededInts(5);
    const shape = [1, 6, 6, 8];
    const paddings: [number, number][] = [[0, 0], [0, 1], [0, 1], [0, 0]];
    const input = Array.from({ length: 288 }, () => rand(-128, 127));
    expect(runPads([{ input, shape, paddings, zeroPoint: -128 }])[0]).toEqual(padReference(input, shape, paddings, -128));
  });
});
