/**
 * The integer-only engine (`arith=int`, issue 12): the narrow-gradient calls (narrow_gradients.ts)
 * rewritten for the kernels of firmware/include/mcutrain/kernels/train_int.h, which take no float.
 * What the float kernels read as float constants becomes fixed point here, at compile time:
 *  - the loss: the SOFTMAX lowering's parameters (beta 1) for the logits' scale (TFLite Micro's integer
 *    softmax), instead of the scale and zero point;
 *  - per-channel filter scales (input gradients): 24-bit multipliers with one exponent (mt_int_scales);
 *  - update factors: the input scale times the QAS factor, per channel, as TFLite's multiplier + shift
 *    (mt_int_factors), instead of the float input_scale argument and grad_factor array.
 * The learning rate stays a float variable the link sets (SET_HYPER); the engine reads its bits into
 * multiplier + shift with integer operations (mt_sgd_int_set_lr). No momentum: the scheme refuses it.
 * Masks (mt_mask_apply_*, mt_clamp_mask_projected_*) are integer code already and pass unchanged.
 */
import { McutrainError } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';
import type { CConst, KernelArg, KernelCall } from '../lower/kernel_call.ts';
import { paramsStruct, type CStruct } from '../lower/params_structs.ts';
import { calculateInputRadius, preprocessSoftmaxScaling, SCALED_DIFF_INTEGER_BITS } from '../lower/ops/softmax.ts';
import { quantizeMultiplier } from '../lower/quant_params.ts';
import { mcuOf, type Target } from '../targets/target.ts';
import { PLANNING_ONLY_FN } from './lower_backward.ts';
import type { ArithType, GradType } from './scheme.ts';

/** The arithmetic a target trains with when the scheme names none: integer-only on a core without an FPU. */
export function defaultArith(target: Target): ArithType {
  return target.kind === 'mcu' && mcuOf(target).floatAbi === 'soft' ? 'int' : 'float';
}

/** Per-channel scales as q[c] * 2^exp, q < 2^24, the largest with 24 bits (mt_int_scales). */
export function fixedScales(scales: ArrayLike<number>): { q: number[]; exp: number } {
  const s = Array.from(scales);
  const max = Math.max(...s);
  if (!(max > 0)) return { q: s.map(() => 0), exp: 0 };
  const exp = Math.floor(Math.log2(max)) - 23;
  const q = s.map((x) => Math.min(2 ** 24 - 1, Math.round(x * 2 ** -exp)));
  return { q, exp };
}

export interface IntFactors { multiplier: number[]; shift: number[] }

/** Per-channel factors as TFLite multipliers: factor = multiplier * 2^(shift - 31) (mt_int_factors). */
export function fixedFactors(factors: ArrayLike<number>): IntFactors {
  const m = Array.from(factors, quantizeMultiplier);
  return { multiplier: m.map((x) => x.multiplier), shift: m.map((x) => x.shift) };
}

/** The SOFTMAX lowering's integer parameters for logits of this scale, beta 1 (the loss reads multiplier, shift, diff_min). */
function lossSoftmaxParams(scale: number, depth: number): CStruct {
  const integerBits = SCALED_DIFF_INTEGER_BITS;
  const s = preprocessSoftmaxScaling(1, scale, integerBits);
  if (!s) {
    throw new McutrainError(`the logits' scale ${scale} is too small for the integer softmax of the integer-only loss`,
      'use --arith float, or re-quantize the model: the logits\' range is degenerate');
  }
  return paramsStruct('mt_softmax_params', {
    input_multiplier: s.multiplier, input_left_shift: s.shift, diff_min: 0 - calculateInputRadius(integerBits, s.shift), rows: 1, depth,
  }, 'softmax');
}

/** The integer kernel of a narrow-gradient one: `_s16` / `_g16` (and 8) become `_i16` / `_i8`; masks keep theirs. */
export function integerKernelName(fn: string, grad: Exclude<GradType, 'f32'>): string {
  if (/^mt_(clamp_mask|mask_apply)/.test(fn)) return fn;
  const bits = grad.slice(1);
  const m = new RegExp(`_(s|g)${bits}$`).exec(fn);
  if (!m) throw new Error(`no integer-only form of kernel ${fn}`);
  return `${fn.slice(0, m.index)}_i${bits}`;
}

const constValues = (call: KernelCall, name: string): ArrayLike<number> => {
  const c = call.consts.find((x) => x.name === name);
  if (!c) throw new Error(`${call.fn}: no constant ${name}`);
  return c.values;
};

/**
 * The narrow-gradient calls (narrowGradientCalls) as calls of the integer-only kernels: each float
 * argument or constant replaced by its fixed-point form, the momentum argument dropped.
 */
export function integerCalls(graph: Graph, calls: KernelCall[], grad: Exclude<GradType, 'f32'>): KernelCall[] {
  return calls.map((call): KernelCall => {
    if (!call.fn || call.fn === PLANNING_ONLY_FN) return call;
    const fn = integerKernelName(call.fn, grad);
    if (call.fn.startsWith('mt_softmax_xent_s8_grad_')) {
      // (logits, n, scale, zero point, label, grad, exp, predicted) -> (logits, &softmax, label, grad, exp, predicted)
      const logits = graph.tensors[call.args[0].kind === 'tensor' ? call.args[0].tensor : -1];
      const scale = call.args.find((a) => a.kind === 'float');
      if (!logits || scale?.kind !== 'float') throw new Error(`${call.fn}: unexpected arguments`);
      const struct = lossSoftmaxParams(scale.value, logits.shape[logits.shape.length - 1]);
      const args = [call.args[0], { kind: 'struct', name: struct.name } as KernelArg, ...call.args.slice(1).filter((a) => a.kind !== 'int' && a.kind !== 'float')];
      return { ...call, fn, args, structs: [...call.structs, struct] };
    }
    const consts: CConst[] = [];
    const structs: CStruct[] = [...call.structs];
    // an update's input scale (its one float argument) goes into its factors
    const inputScale = call.args.find((a) => a.kind === 'float');
    const args = call.args.flatMap((a): KernelArg[] => {
      if (a.kind === 'float' || a.kind === 'momentum') return [];
      if (a.kind !== 'const' || a.owner !== undefined) return [a];
      if (a.name === 'filter_scale') {
        const s = fixedScales(constValues(call, a.name));
        consts.push({ name: 'filter_scale_q', ctype: 'int32_t', values: s.q });
        structs.push(paramsStruct('mt_int_scales', { q: { const: 'filter_scale_q' }, exp: s.exp }, 'filter_scale'));
        return [{ kind: 'struct', name: 'filter_scale' }];
      }
      if (a.name === 'grad_factor') {
        const x = inputScale?.kind === 'float' ? inputScale.value : 1;
        const f = fixedFactors(Array.from(constValues(call, a.name), (v) => v * x));
        consts.push({ name: 'factor_multiplier', ctype: 'int32_t', values: f.multiplier }, { name: 'factor_shift', ctype: 'int32_t', values: f.shift });
        structs.push(paramsStruct('mt_int_factors', { multiplier: { const: 'factor_multiplier' }, shift: { const: 'factor_shift' } }, 'factor'));
        return [{ kind: 'struct', name: 'factor' }];
      }
      return [a];
    });
    const kept = call.consts.filter((c) => c.name !== 'filter_scale' && c.name !== 'grad_factor');
    return { ...call, fn, args, consts: [...kept, ...consts], structs };
  });
}
