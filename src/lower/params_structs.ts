/**
 * The parameter structs of the kernels, field by field: names, C types and order exactly as the
 * typedefs in firmware/include/mcutrain/kernels/*.h declare them (test/codegen/params_structs.test.ts
 * parses the headers and checks every schema against them). Lowering builds a struct's values from
 * this schema's types, so a missing or extra field fails to compile; codegen renders the fields in
 * this order with these types, so nothing is guessed from a JS value.
 */

/** An int32_t field. */
const int32 = { ctype: 'int32_t' } as const;
/** A float field. */
const float = { ctype: 'float' } as const;
/** An int32_t field holding a member of a C enum, written by its C name. */
const enumOf = <const M extends readonly string[]>(...members: M) => ({ ctype: 'int32_t', members }) as const;
/** A pointer to a constant int32_t array of the same call, given by the CConst's name. */
const int32Pointer = { ctype: 'const int32_t*' } as const;
/** A nested mt_dims4. */
const dims4 = { ctype: 'mt_dims4' } as const;
/** An int32_t array of `capacity` elements (the header sizes it by macro `length`); unset elements are 0. */
const int32Array = <const L extends string>(length: L, capacity: number) => ({ ctype: 'int32_t', length, capacity }) as const;

/** MT_ROUND_* of firmware/include/mcutrain/kernels/common.h. */
const rounding = enumOf('MT_ROUND_DOUBLE', 'MT_ROUND_SINGLE');

export const PARAMS_STRUCTS = {
  mt_dims4: { n: int32, h: int32, w: int32, c: int32 },
  mt_conv_params: {
    stride_h: int32, stride_w: int32, dilation_h: int32, dilation_w: int32, pad_h: int32, pad_w: int32,
    input_offset: int32, output_offset: int32, act_min: int32, act_max: int32, rounding,
  },
  mt_depthwise_conv_params: {
    stride_h: int32, stride_w: int32, dilation_h: int32, dilation_w: int32, pad_h: int32, pad_w: int32,
    depth_multiplier: int32, input_offset: int32, output_offset: int32, act_min: int32, act_max: int32,
  },
  mt_fully_connected_params: {
    batches: int32, accum_depth: int32, output_depth: int32, input_offset: int32, filter_offset: int32, output_offset: int32,
    act_min: int32, act_max: int32, rounding,
  },
  mt_pooling_params: { stride_h: int32, stride_w: int32, filter_h: int32, filter_w: int32, pad_h: int32, pad_w: int32, act_min: int32, act_max: int32 },
  mt_add_params: {
    size: int32, input1_offset: int32, input2_offset: int32, output_offset: int32, left_shift: int32,
    input1_mult: int32, input1_shift: int32, input2_mult: int32, input2_shift: int32, output_mult: int32, output_shift: int32,
    act_min: int32, act_max: int32,
  },
  mt_mean_params: {
    mode: enumOf('MT_MEAN_DIVIDE', 'MT_MEAN_REQUANTIZE', 'MT_MEAN_FLOAT'),
    input_zero_point: int32, output_zero_point: int32, multiplier: int32, shift: int32, scale: float, bias: float,
  },
  mt_pad_params: { before: dims4, after: dims4, pad_value: int32 },
  mt_softmax_params: { input_multiplier: int32, input_left_shift: int32, diff_min: int32, rows: int32, depth: int32 },
  mt_concatenation_params: { outer_count: int32, slice_sizes: int32Array('MT_CONCATENATION_MAX_INPUTS', 10) },
  mt_quantize_params: { scale: float, zero_point: int32, count: int32 },
  // the integer-only training kernels' fixed-point constants (train_int.h)
  mt_int_scales: { q: int32Pointer, exp: int32 },
  mt_int_factors: { multiplier: int32Pointer, shift: int32Pointer },
  mt_requantize_params: {
    input_zero_point: int32, output_zero_point: int32, multiplier: int32, shift: int32, act_min: int32, act_max: int32, count: int32,
  },
} as const;

/** How a schema describes one field: its C type, and for enum and array fields their members or length. */
export type FieldType =
  | { readonly ctype: 'int32_t' | 'float' | 'mt_dims4' | 'const int32_t*' }
  | { readonly ctype: 'int32_t'; readonly members: readonly string[] }
  | { readonly ctype: 'int32_t'; readonly length: string; readonly capacity: number };

export type ParamsType = keyof typeof PARAMS_STRUCTS;

type Schemas = typeof PARAMS_STRUCTS;
type ValueOf<F> = F extends { members: readonly (infer M)[] } ? M
  : F extends { capacity: number } ? readonly number[]
  : F extends { ctype: 'mt_dims4' } ? Dims4
  : F extends { ctype: 'const int32_t*' } ? ConstRef
  : number;

/** The values of a struct of type T, one per field of its schema (a missing or extra field does not type-check). */
export type ParamsValues<T extends ParamsType> = { readonly [K in keyof Schemas[T]]: ValueOf<Schemas[T][K]> };

/** A pointer field's value: the CConst of the same call it points to. */
export interface ConstRef { readonly const: string }

/** An mt_dims4 value. */
export type Dims4 = ParamsValues<'mt_dims4'>;

/** A constant parameter struct of a call, e.g. `static const mt_conv_params op3_params = {...}`. */
export type CStruct = { [T in ParamsType]: { name: string; ctype: T; fields: ParamsValues<T> } }[ParamsType];

/** The struct of a given type. */
export type CStructOf<T extends ParamsType> = Extract<CStruct, { ctype: T }>;

/** The fields of a params struct type in declaration order. */
export function paramsSchema(ctype: ParamsType): [name: string, type: FieldType][] {
  return Object.entries(PARAMS_STRUCTS[ctype]);
}

/** A call's struct `name` (default `params`) of type `ctype`. */
export function paramsStruct<T extends ParamsType>(ctype: T, fields: ParamsValues<T>, name = 'params'): CStructOf<T> {
  return { name, ctype, fields } as CStructOf<T>;
}

/** The struct with some of its fields replaced (a patch's local paddings, say). */
export function withFields<S extends CStruct>(s: S, fields: Partial<S['fields']>): S {
  return { ...s, fields: { ...s.fields, ...fields } };
}
