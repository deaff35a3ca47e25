/**
 * Narrow gradient storage (`grad=i16|i8`): the backward calls lowered for float32 gradients, rewritten
 * for the kernels of firmware/include/mcutrain/kernels/train_narrow.h. Each gradient tensor gets one
 * entry of the model's exponent table (int8_t, real = q * 2^e): gradients that alias
 * (RESHAPE, one input of ADD) are one tensor already, so they share it. Every narrow kernel takes the
 * address of a gradient's entry right after the gradient itself (masks excepted: zeroing elements
 * keeps the exponent valid), so the rewrite is the same for every call: the narrow kernel's name and
 * the exponent after each gradient argument.
 */
import { McutrainError } from '../errors.ts';
import type { Graph, OpOf } from '../ir/graph.ts';
import { inputOf } from '../ir/operator_traits.ts';
import type { KernelArg, KernelCall } from '../lower/kernel_call.ts';
import { PLANNING_ONLY_FN } from './lower_backward.ts';
import type { GradType } from './scheme.ts';

const SUFFIX: Record<Exclude<GradType, 'f32'>, { grad: string; update: string }> = {
  i16: { grad: 's16', update: 'g16' },
  i8: { grad: 's8', update: 'g8' },
};

/** The narrow kernel of a float32-gradient one: `_f32` kernels change suffix, updates gain one, the loss its gradient form. */
export function narrowKernelName(fn: string, grad: Exclude<GradType, 'f32'>): string {
  const s = SUFFIX[grad];
  if (fn === 'mt_softmax_xent_s8') return `mt_softmax_xent_s8_grad_${s.grad}`;
  if (fn.endsWith('_f32')) return `${fn.slice(0, -4)}_${s.grad}`;
  if (/^mt_\w+_update(_weights)?_s(8|32)$/.test(fn)) return `${fn}_${s.update}`;
  throw new Error(`no narrow-gradient form of kernel ${fn}`);
}

/** Filter height and width the gathering depthwise input gradient takes (MT_DW_GATHER_MAX_TAPS). */
export const DW_GATHER_MAX_TAPS = 16;

/** Kernels that take no exponent: they only zero elements of a gradient. */
const takesExponent = (fn: string) => !/^mt_(clamp_mask|mask_apply)/.test(fn);

export interface NarrowCalls {
  calls: KernelCall[];
  /** Entries of the exponent table. */
  exponents: number;
}

/** The calls with narrow kernels and exponent arguments (planning-only calls pass unchanged). */
export function narrowGradientCalls(graph: Graph, calls: KernelCall[], grad: Exclude<GradType, 'f32'>): NarrowCalls {
  const index = new Map<number, number>();
  const isGradient = (id: number) => graph.tensors[id]?.name.startsWith('grad:') && graph.tensors[id].dtype !== 'float32';
  const entry = (id: number): KernelArg => {
    if (!index.has(id)) index.set(id, index.size);
    return { kind: 'grad_exponent', entry: index.get(id)! };
  };
  const out = calls.map((call): KernelCall => {
    if (!call.fn || call.fn === PLANNING_ONLY_FN) return call;
    if (call.fn === 'mt_depthwise_conv_grad_input_f32') {
      const filter = graph.tensors[inputOf(graph.operators[call.op] as OpOf<'DEPTHWISE_CONV_2D'>, 'weights')];
      if (filter.shape[1] > DW_GATHER_MAX_TAPS || filter.shape[2] > DW_GATHER_MAX_TAPS) {
        throw new McutrainError(`op ${call.op} (DEPTHWISE_CONV_2D) has a ${filter.shape[1]}x${filter.shape[2]} filter; narrow gradients take depthwise filters up to ${DW_GATHER_MAX_TAPS}x${DW_GATHER_MAX_TAPS}`,
          'use --grad f32, or train only layers after it');
      }
    }
    const withExp = takesExponent(call.fn);
    const args = call.args.flatMap((a) => (a.kind === 'tensor' && isGradient(a.tensor) && withExp ? [a, entry(a.tensor)] : [a]));
    return { ...call, fn: narrowKernelName(call.fn, grad), args };
  });
  return { calls: out, exponents: index.size };
}
