/**
 * A PAD in a patched early stage: each patch's PAD pads only the image borders the patch touches (its
 * H and W amounts windowed, the batch and channel padding kept), and the patched convolution reads the
 * original call's constants by reference rather than copying them.
 */
import { describe, expect, it } from 'vitest';
import { lowerGraph } from '../../src/lower/lower.ts';
import { patchStage } from '../../src/plan/patch_stage.ts';
import { GraphBuilder } from '../lower/graph_builder.ts';

function padConv() {
  const b = new GraphBuilder();
  const x = b.activation('x', [1, 6, 6, 2], 0.05, 1);
  const paddings = b.bias('paddings', [0, 0, 1, 1, 1, 1, 0, 1]); // H and W by 1, one channel after
  b.tensors[paddings].shape = [4, 2];
  const padded = b.activation('padded', [1, 8, 8, 3], 0.05, 1);
  b.op('PAD', [x, paddings], [padded], {});
  const w = b.weights('w', [4, 3, 3, 3], Array.from({ length: 108 }, (_, i) => (i % 7) - 3), [0.01, 0.02, 0.01, 0.02]);
  const y = b.activation('y', [1, 6, 6, 4], 0.1, -2);
  b.op('CONV_2D', [padded, w, -1], [y], { padding: 'VALID', strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, activation: 'NONE' });
  const graph = { ...b.graph(), inputs: [x], outputs: [y] };
  return { graph, calls: lowerGraph(graph) };
}

describe('patched PAD', () => {
  it('windows the H and W padding per patch and keeps the rest', () => {
    const { graph, calls } = padConv();
    const p = patchStage(graph, calls, 1, 2)!;
    const pads = p.schedule.filter((c) => c.fn === 'mt_pad_s8');
    expect(pads.map((c) => c.name)).toEqual(['p0_op0', 'p1_op0', 'p2_op0', 'p3_op0']);
    // Output rows and columns [0, 3) and [3, 6) of the 6x6 conv read padded rows [0, 5) and [3, 8).
    const n = 0;
    expect(pads.map((c) => c.structs[0].fields)).toEqual([
      { before: { n, h: 1, w: 1, c: 0 }, after: { n, h: 0, w: 0, c: 1 }, pad_value: 1 },
      { before: { n, h: 1, w: 0, c: 0 }, after: { n, h: 0, w: 1, c: 1 }, pad_value: 1 },
      { before: { n, h: 0, w: 1, c: 0 }, after: { n, h: 1, w: 0, c: 1 }, pad_value: 1 },
      { before: { n, h: 0, w: 0, c: 0 }, after: { n, h: 1, w: 1, c: 1 }, pad_value: 1 },
    ]);
    // The original PAD call is untouched.
    expect(calls[0].structs[0].fields).toEqual({ before: { n, h: 1, w: 1, c: 0 }, after: { n, h: 1, w: 1, c: 1 }, pad_value: 1 });
  });

  it('points the patched convolution at the original call\'s constants', () => {
    const { graph, calls } = padConv();
    const conv = patchStage(graph, calls, 1, 2)!.schedule.find((c) => c.name === 'p0_op1')!;
    expect(conv.consts).toEqual([]);
    expect(conv.args.filter((a) => a.kind === 'const')).toEqual([
      { kind: 'const', name: 'mult', owner: 1 }, { kind: 'const', name: 'shift', owner: 1 },
    ]);
  });
});
