/**
 * 1-bit clamp masks. The backward step through a clamped int8 output (fused ReLU/ReLU6 and int8
 * saturation) zeroes the gradient where the output sat at a bound. Instead of keeping the int8 output
 * alive from the forward pass to that step, the forward pass packs one bit per element right after the
 * operator runs (mt_clamp_mask_pack_s8, into the arena tensor "mask:<output>", ceil(n/8) bytes) and the
 * backward step applies the bits (mt_mask_apply_f32); the planner then frees the int8 output as soon as
 * no forward operator or weight update reads it. The bits come from the int8 output with the same
 * condition as before, so training computes the same bytes (docs/training.md). The logits keep their
 * projected mask, which needs the int8 values (and is tiny).
 */
import { elementCount, type Graph, type Tensor } from '../ir/graph.ts';
import { traitsOf } from '../ir/operator_traits.ts';
import { activationRange, INT8_MAX, INT8_MIN } from '../lower/common.ts';
import type { KernelCall } from '../lower/kernel_call.ts';
import type { BackwardOp } from './autodiff.ts';

type MaskOp = Extract<BackwardOp, { kind: 'mask' }>;

/** The forward-side kernel; only a step that updates runs it (EVALUATE needs no mask). */
export const MASK_PACK_FN = 'mt_clamp_mask_pack_s8';

/** The packed mask of `of` (one bit per element), as tensor `id`. */
export function maskTensor(of: Tensor, id: number): Tensor {
  return { id, name: `mask:${of.name}`, dtype: 'uint8', shape: [Math.ceil(elementCount(of.shape) / 8)] };
}

/** The int8 bounds of a masked output: its fused activation's range, or int8's own (MEAN: no fused activation). */
export function clampRange(graph: Graph, b: MaskOp): { min: number; max: number } {
  if (traitsOf(b.op.kind).clamp === 'int8') return { min: INT8_MIN, max: INT8_MAX };
  return activationRange((b.op.options as { activation: Parameters<typeof activationRange>[0] }).activation, graph.tensors[b.output]);
}

/** One pack call per packed mask of the backward schedule, to run in the forward pass. */
export function maskPackCalls(graph: Graph, ops: BackwardOp[]): KernelCall[] {
  return ops.flatMap((b) => {
    if (b.kind !== 'mask' || b.bits === undefined) return [];
    const range = clampRange(graph, b);
    const int = (value: number) => ({ kind: 'int' as const, value });
    return [{
      op: b.op.id, name: `mask_op${b.op.id}`, fn: MASK_PACK_FN, consts: [], structs: [], scratchBytes: 0, macs: 0, onlyWhenUpdating: true,
      args: [{ kind: 'tensor', tensor: b.output }, { kind: 'tensor', tensor: b.bits }, int(elementCount(graph.tensors[b.output].shape)), int(range.min), int(range.max)],
      tensors: { inputs: [b.output], outputs: [b.bits] },
    }];
  });
}

/** The forward calls with each pack call right after the (last) call of the operator whose output it packs. */
export function withMaskPacks(forward: KernelCall[], packs: KernelCall[]): KernelCall[] {
  const last = new Map(forward.map((c, i) => [c.op, i]));
  for (const p of packs) if (!last.has(p.op)) throw new Error(`mask of op ${p.op}: the operator is not in the forward pass`);
  return forward.flatMap((c, i) => (last.get(c.op) === i ? [c, ...packs.filter((p) => p.op === c.op)] : [c]));
}
