/**
 * Which int8 arithmetic the engine reproduces. TFLite Micro's reference kernels and the TFLite
 * interpreter agree on every operator here except MEAN (ops/mean.ts) and in how CONV_2D and
 * FULLY_CONNECTED round their requantization: TFLM rounds twice (the gemmlowp primitives, its
 * default build), while the interpreter runs those two through its GEMM library (ruy), which rounds
 * the 64-bit product once.
 * Measured on the reference models' operators in isolation: single rounding matches the interpreter
 * on every output, double rounding differs by one on about 0.2-0.5% of them (docs/semantics.md).
 *   tflm    TensorFlow Lite Micro's reference kernels (the default: what a microcontroller runs)
 *   tflite  the TensorFlow Lite interpreter (to reproduce a phone's or a PC's outputs exactly)
 */
import { oneOf } from '../util/option_values.ts';

export type Numerics = 'tflm' | 'tflite';
export const NUMERICS: readonly Numerics[] = ['tflm', 'tflite'];
export const DEFAULT_NUMERICS: Numerics = 'tflm';

/** The numerics named by `value` (undefined: the default); anything else fails, naming the choices. */
export function parseNumerics(value: unknown, what = 'numerics'): Numerics {
  return value === undefined ? DEFAULT_NUMERICS : oneOf(value, NUMERICS, what);
}

/** The rounding of firmware/include/mcutrain/kernels/common.h (MT_ROUND_*). */
export type Rounding = 'MT_ROUND_DOUBLE' | 'MT_ROUND_SINGLE';

/** Rounding of the GEMM-backed operators, CONV_2D and FULLY_CONNECTED. */
export function gemmRounding(numerics: Numerics): Rounding {
  return numerics === 'tflite' ? 'MT_ROUND_SINGLE' : 'MT_ROUND_DOUBLE';
}

/** What every lowering may consult besides the graph. */
export interface LowerContext {
  numerics: Numerics;
}
