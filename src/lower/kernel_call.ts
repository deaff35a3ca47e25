/**
 * The lowered form of one operator: which C kernel to call and with what.
 * Lowering (per operator, in ops/) does all parameter preparation at compile time, exactly as
 * TFLite Micro's Prepare() would at init (multipliers, shifts, padding, clamps), so the device
 * stores ready-made constants in Flash and spends no RAM or time on them.
 * Codegen only renders these records through templates; it never interprets them.
 */

import type { CStruct } from './params_structs.ts';

export type CScalarType = 'int8_t' | 'uint8_t' | 'int16_t' | 'int32_t' | 'uint32_t' | 'float';

/** A constant array placed in Flash (weights, biases, multipliers, lookup tables). */
export interface CConst {
  name: string;
  ctype: CScalarType;
  values: ArrayLike<number>;
}

export type { CStruct } from './params_structs.ts';

/** One argument of the kernel call. Typed values only: codegen/ alone turns them into C. */
export type KernelArg =
  /** Pointer to the tensor's data (arena or Flash); with `onlyWhenUpdating`, NULL in a training step that does not update. */
  | { kind: 'tensor'; tensor: number; onlyWhenUpdating?: boolean }
  /** A CConst of this call, or with `owner` of the forward call of that operator (whose constants a backward call or a patch reuses). */
  | { kind: 'const'; name: string; owner?: number }
  /** Address of a CStruct of this call, or with `owner` of the forward call of that operator. */
  | { kind: 'struct'; name: string; owner?: number }
  | { kind: 'scratch' }                         // pointer to this call's scratch buffer in the arena
  | { kind: 'null' }                            // an absent optional pointer (a bias-free layer)
  | { kind: 'int'; value: number }              // an int32_t value
  | { kind: 'float'; value: number }            // a float value (written so that it reads back as the same float32)
  | { kind: 'dims'; values: number[] }          // address of an mt_dims4 constant with these 4 values
  | { kind: 'sgd' }                             // the model's optimizer settings (training)
  | { kind: 'momentum'; tensor: number }        // the momentum buffer of a trained tensor, or NULL
  | { kind: 'split_filter'; tensor: number }    // a weight tensor split between SRAM and Flash (mt_split_filter *)
  | { kind: 'grad_exponent'; entry: number }    // address of an entry of the narrow gradients' exponent table
  /** A variable of the training step: the sample's class label, or where the predicted class goes. */
  | { kind: 'step_variable'; name: 'label' | 'predicted' };

export interface KernelCall {
  /** Index of the operator in the graph (for a backward call: the operator it differentiates). */
  op: number;
  /** C name prefix of this call's constants; `op<op>` when absent (backward calls need their own). */
  name?: string;
  /** Tensors read and written, when they are not the operator's own inputs and outputs (backward calls). */
  tensors?: { inputs: number[]; outputs: number[] };
  /** C function in firmware/kernels, or null for an operator that lowers to nothing (an alias such as RESHAPE). */
  fn: string | null;
  args: KernelArg[];
  consts: CConst[];
  structs: CStruct[];
  /** Bytes of temporary arena memory needed only while this call runs. */
  scratchBytes: number;
  /** A training-step call that runs only when the step updates (EVALUATE skips it), e.g. a clamp-mask pack. */
  onlyWhenUpdating?: boolean;
  /** For aliases: output tensor id -> input tensor id whose memory it shares. */
  aliases?: { output: number; input: number }[];
  /** Multiply-accumulates, for reports and benchmarks. */
  macs: number;
  /** The patch of the early stage this call runs for (src/plan/patch_stage.ts); one patch's calls are consecutive. */
  patch?: number;
}
