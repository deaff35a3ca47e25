/**
 * The lowered form of one operator: which C kernel to call and with what.
 * Lowering (per operator, in ops/) does all parameter preparation at compile time, exactly as
 * TFLite Micro's Prepare() would at init (multipliers, shifts, padding, clamps), so the device
 * stores ready-made constants in Flash and spends no RAM or time on them.
 * Codegen only renders these records through templates; it never interprets them.
 */

export type CScalarType = 'int8_t' | 'uint8_t' | 'int16_t' | 'int32_t' | 'uint32_t' | 'float';

/** A constant array placed in Flash (weights, biases, multipliers, lookup tables). */
export interface CConst {
  name: string;
  ctype: CScalarType;
  values: ArrayLike<number>;
}

/** A constant parameter struct placed in Flash, e.g. `static const mt_conv_params op3_conv = {...}`. */
export interface CStruct {
  name: string;
  ctype: string;
  fields: { name: string; value: number | string }[];
}

/** One argument of the kernel call. */
export type KernelArg =
  | { kind: 'tensor'; tensor: number }          // pointer to the tensor's data (arena or Flash)
  | { kind: 'const'; name: string }             // a CConst of this call
  | { kind: 'struct'; name: string }            // address of a CStruct of this call
  | { kind: 'scratch' }                         // pointer to this call's scratch buffer in the arena
  | { kind: 'literal'; value: number | string } // a C literal or NULL
  | { kind: 'dims'; values: number[] }          // address of an mt_dims4 constant with these 4 values
  | { kind: 'sgd' }                             // the model's optimizer settings (training)
  | { kind: 'momentum'; tensor: number }        // the momentum buffer of a trained tensor, or NULL
  | { kind: 'split_filter'; tensor: number };   // a weight tensor split between SRAM and Flash (mt_split_filter *)

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
}
