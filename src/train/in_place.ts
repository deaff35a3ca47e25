/**
 * Pass `inPlaceGradients`: marks the input gradients that may overwrite their output gradient, so the
 * two share one buffer (the lowering declares the alias to the planner and a ring of rows as scratch).
 * Today: DEPTHWISE_CONV_2D with stride 1 and one output channel per input channel, input and output
 * of one shape, a filter up to 16x16 (its gather reads only a few rows around the one it writes, kept
 * in the ring), when
 *  - the gradient is written, not accumulated (an accumulated one is another tensor already);
 *  - the layer's weights are not trained: their update must read the output gradient after the input
 *    gradient, which needs the old weights, is computed;
 *  - nothing after it reads the output gradient. The layer's own bias update is moved before it (it
 *    reads the output gradient and nothing the input gradient changes).
 */
import { elementCount, type Graph } from '../ir/graph.ts';
import { inputOf } from '../ir/operator_traits.ts';
import type { BackwardOp } from './autodiff.ts';
import { DW_GATHER_MAX_TAPS } from './narrow_gradients.ts';

/** Tensors an op reads or writes. */
function tensorsOf(o: BackwardOp): number[] {
  switch (o.kind) {
    case 'loss': return [o.logits, o.grad];
    case 'mask': return [o.output, o.grad];
    case 'grad_input': return [o.input, o.gradOut, o.gradIn];
    case 'alias': return [o.gradOut, o.gradIn];
    case 'update_weights': return [o.input, o.gradOut];
    case 'update_bias': return [o.gradOut];
    case 'param_grad':
    case 'apply_update': return [...tensorsOf(o.update), o.grad];
  }
}

/** Whether a depthwise input gradient may be computed over its output gradient (geometry only). */
function depthwiseInPlaceGeometry(graph: Graph, o: Extract<BackwardOp, { kind: 'grad_input' }>): boolean {
  if (o.op.kind !== 'DEPTHWISE_CONV_2D') return false;
  const { strideH, strideW, depthMultiplier } = o.op.options;
  const input = graph.tensors[o.input].shape, output = graph.tensors[o.op.outputs[0]].shape;
  const [, fh, fw] = graph.tensors[inputOf(o.op, 'weights')].shape;
  return strideH === 1 && strideW === 1 && depthMultiplier === 1 && fh <= DW_GATHER_MAX_TAPS && fw <= DW_GATHER_MAX_TAPS && input.length === output.length &&
    input.every((d, i) => d === output[i]);
}

export function inPlaceGradients(graph: Graph, ops: BackwardOp[]): BackwardOp[] {
  const out = [...ops];
  for (let k = 0; k < out.length; k++) {
    const o = out[k];
    if (o.kind !== 'grad_input' || o.accumulate || !depthwiseInPlaceGeometry(graph, o)) continue;
    const ownUpdate = (u: BackwardOp) => (u.kind === 'update_weights' || u.kind === 'update_bias') && u.layer.op.id === o.op.id;
    if (out.some((u) => u.kind === 'update_weights' && ownUpdate(u))) continue;
    const later = out.slice(k + 1);
    if (later.some((u) => !ownUpdate(u) && tensorsOf(u).includes(o.gradOut))) continue;
    // The bias update reads the output gradient: it runs first, then the input gradient overwrites it.
    const bias = later.filter(ownUpdate);
    const rest = later.filter((u) => !ownUpdate(u));
    out.splice(k, out.length - k, ...bias, { ...o, inPlace: true }, ...rest);
    k += bias.length;
  }
  return out;
}
