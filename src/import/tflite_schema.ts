/**
 * The slice of the TensorFlow Lite schema (schema.fbs, version 3) that the importer reads.
 *
 * Tables list their fields in declaration order, because a field's vtable slot is its position; union
 * fields take two slots (`x_type`, then `x`) and deprecated fields keep theirs. Only the tables we open
 * are here, but each is listed in full so the slots can be checked against schema.fbs by a test.
 */
import type { OpKind } from '../ir/graph.ts';
import { tableSchema } from './flatbuffer_reader.ts';

export const TFLITE_FILE_IDENTIFIER = 'TFL3';
export const TFLITE_SCHEMA_VERSION = 3;

export const ModelTable = tableSchema('Model', [
  'version', 'operator_codes', 'subgraphs', 'description', 'buffers', 'metadata_buffer', 'metadata',
  'signature_defs', 'external_buffer_groups', 'external_buffers',
]);

export const SubGraphTable = tableSchema('SubGraph', [
  'tensors', 'inputs', 'outputs', 'operators', 'name', 'debug_metadata_index',
]);

/** `offset`/`size` replace `data` in models over 2 GB, whose weights live after the flatbuffer. */
export const BufferTable = tableSchema('Buffer', ['data', 'offset', 'size']);

export const TensorTable = tableSchema('Tensor', [
  'shape', 'type', 'buffer', 'name', 'quantization', 'is_variable', 'sparsity', 'shape_signature', 'has_rank',
  'variant_tensors', 'external_buffer',
]);

export const QuantizationParametersTable = tableSchema('QuantizationParameters', [
  'min', 'max', 'scale', 'zero_point', 'details_type', 'details', 'quantized_dimension',
]);

/**
 * The operator code is the larger of the two code fields: old files only have the byte-sized
 * `deprecated_builtin_code`, new ones write both (the byte saturating at PLACEHOLDER_FOR_GREATER_OP_CODES).
 */
export const OperatorCodeTable = tableSchema('OperatorCode', [
  'deprecated_builtin_code', 'custom_code', 'version', 'builtin_code',
]);

export const OperatorTable = tableSchema('Operator', [
  'opcode_index', 'inputs', 'outputs', 'builtin_options_type', 'builtin_options', 'custom_options',
  'custom_options_format', 'mutating_variable_inputs', 'intermediates', 'large_custom_options_offset',
  'large_custom_options_size', 'builtin_options_2_type', 'builtin_options_2', 'debug_metadata_index',
]);

export const Conv2DOptionsTable = tableSchema('Conv2DOptions', [
  'padding', 'stride_w', 'stride_h', 'fused_activation_function', 'dilation_w_factor', 'dilation_h_factor',
  'quantized_bias_type',
]);

export const DepthwiseConv2DOptionsTable = tableSchema('DepthwiseConv2DOptions', [
  'padding', 'stride_w', 'stride_h', 'depth_multiplier', 'fused_activation_function', 'dilation_w_factor',
  'dilation_h_factor',
]);

export const Pool2DOptionsTable = tableSchema('Pool2DOptions', [
  'padding', 'stride_w', 'stride_h', 'filter_width', 'filter_height', 'fused_activation_function',
]);

export const FullyConnectedOptionsTable = tableSchema('FullyConnectedOptions', [
  'fused_activation_function', 'weights_format', 'keep_num_dims', 'asymmetric_quantize_inputs', 'quantized_bias_type',
]);

export const SoftmaxOptionsTable = tableSchema('SoftmaxOptions', ['beta']);
export const ConcatenationOptionsTable = tableSchema('ConcatenationOptions', ['axis', 'fused_activation_function']);
export const AddOptionsTable = tableSchema('AddOptions', ['fused_activation_function', 'pot_scale_int16']);
/** Options of MEAN, SUM and the other reductions. */
export const ReducerOptionsTable = tableSchema('ReducerOptions', ['keep_dims']);

/** Tags of the `BuiltinOptions` union we read (position in the union, NONE = 0). */
export const BuiltinOptionsType = {
  NONE: 0,
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
  ConcatenationOptions: 10,
  AddOptions: 11,
  ReducerOptions: 27,
} as const;

/**
 * Tags of the option tables only the writer needs: they carry nothing the IR keeps (ReshapeOptions only
 * repeats the target shape), but the TFLite converter writes them and the interpreter reads ReshapeOptions
 * when a RESHAPE has no shape input.
 */
export const WriterOnlyOptionsType = {
  ReshapeOptions: 17,
  PadOptions: 22,
  DequantizeOptions: 38,
  QuantizeOptions: 89,
} as const;

export const ReshapeOptionsTable = tableSchema('ReshapeOptions', ['new_shape']);

/** `QuantizationDetails` union: anything but NONE replaces scale/zero_point with another scheme. */
export const QUANTIZATION_DETAILS_NAMES = ['NONE', 'CustomQuantization', 'BlockwiseQuantization', 'MultiAxisQuantization'];

/** `TensorType` enum, indexed by value. */
export const TENSOR_TYPE_NAMES = [
  'FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16', 'COMPLEX64', 'INT8', 'FLOAT64',
  'COMPLEX128', 'UINT64', 'RESOURCE', 'VARIANT', 'UINT32', 'UINT16', 'INT4', 'BFLOAT16', 'INT2', 'UINT4',
  'FLOAT8_E4M3FN', 'FLOAT8_E5M2',
] as const;
export type TensorTypeName = (typeof TENSOR_TYPE_NAMES)[number];

/** `Padding` enum, indexed by value. */
export const PADDING_NAMES = ['SAME', 'VALID'] as const;

/** `ActivationFunctionType` enum, indexed by value. */
export const ACTIVATION_NAMES = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'] as const;

/** `FullyConnectedOptionsWeightsFormat`: only DEFAULT is a plain [out, in] matrix. */
export const FC_WEIGHTS_FORMAT_NAMES = ['DEFAULT', 'SHUFFLED4x16INT8'] as const;

/** `BuiltinOperator` enum, indexed by code (0 = ADD ... 209 = STABLEHLO_CASE), so errors can name any operator. */
export const BUILTIN_OPERATOR_NAMES: readonly string[] = (
  'ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP FLOOR ' +
  'FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION ' +
  'LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH ' +
  'CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER ' +
  'BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE ' +
  'BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ' +
  'ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE ' +
  'TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK ' +
  'LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL ' +
  'FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL ' +
  'REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND ' +
  'HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM ' +
  'BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL ' +
  'COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE ' +
  'READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU ' +
  'DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2 ' +
  'UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD STABLEHLO_DIVIDE ' +
  'STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP STABLEHLO_CONCATENATE ' +
  'STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE ' +
  'STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG ' +
  'STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT ' +
  'STABLEHLO_SELECT STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT ' +
  'STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA STABLEHLO_DOT_GENERAL ' +
  'STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE ' +
  'STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT STABLEHLO_CASE'
).split(' ');

/** Codes of the BuiltinOperator values the importer gives meaning to: every IR kind (named as in TFLite), and CUSTOM. */
export const BuiltinOperator = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  MAX_POOL_2D: 17,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  CUSTOM: 32,
  PAD: 34,
  MEAN: 40,
  QUANTIZE: 114,
} as const satisfies Record<OpKind | 'CUSTOM', number>;

/** "TANH (code 28)", or "unknown operator (code 999)" for codes newer than this table. */
export function builtinOperatorLabel(code: number): string {
  const name = BUILTIN_OPERATOR_NAMES[code];
  return `${name ?? 'unknown operator'} (code ${code})`;
}
