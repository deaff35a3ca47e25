/* Types and steps shared by every int8 kernel. */
#ifndef MCUTRAIN_KERNELS_COMMON_H
#define MCUTRAIN_KERNELS_COMMON_H

#include <stdint.h>

#include "mcutrain/quant.h"

/* A 4-D activation shape in TFLite's NHWC order. Lower-rank tensors are
 * described by leaving leading dimensions at 1 (a [batches, features]
 * matrix is {batches, 1, 1, features}). */
typedef struct {
  int32_t n, h, w, c;
} mt_dims4;

/* Index of element (n, y, x, c) in a dense NHWC tensor of shape d. */
MT_INLINE int32_t mt_offset4(const mt_dims4 *d, int32_t n, int32_t y, int32_t x, int32_t c) {
  return ((n * d->h + y) * d->w + x) * d->c + c;
}

/* A weight tensor split between two memories (training: only the trained part of a tensor lives in
 * SRAM). Viewed as rows (output channels) of row_size values each (OHWI conv: h * w * in_c; FC: the
 * input depth), the trained block is rows [0, trained_rows) x their first trained_cols values, stored
 * [trained_rows][trained_cols] at `trained`; every other value is at `frozen` (Flash), row by row: the
 * last row_size - trained_cols values of each trained row, then the rows after them whole. Two forms
 * exist: the first output channels (trained_cols == row_size) and the first input channels of a 1x1
 * convolution or a FULLY_CONNECTED layer (trained_rows == all rows). */
typedef struct {
  const int8_t *trained;
  const int8_t *frozen;
  int32_t trained_rows, trained_cols;
} mt_split_filter;

/* One row of a split filter: values [0, len) at `trained`, [len, row_size) at `frozen`. */
typedef struct {
  const int8_t *trained;
  const int8_t *frozen;
  int32_t len;
} mt_split_row;

MT_INLINE mt_split_row mt_split_row_of(const mt_split_filter *f, int32_t row, int32_t row_size) {
  const int32_t rest = row_size - f->trained_cols;
  mt_split_row r;
  if (row < f->trained_rows) {
    r.trained = f->trained + row * f->trained_cols;
    r.frozen = f->frozen + row * rest;
    r.len = f->trained_cols;
  } else {
    r.trained = f->trained;
    r.frozen = f->frozen + f->trained_rows * rest + (row - f->trained_rows) * row_size;
    r.len = 0;
  }
  return r;
}

/* Value j of a split row. */
MT_INLINE int32_t mt_split_row_at(mt_split_row r, int32_t j) {
  return j < r.len ? r.trained[j] : r.frozen[j - r.len];
}

/* The two ways TFLite rounds when it rescales an int32 accumulator by a Q31
 * multiplier and a power of two, chosen per operator by the lowering:
 *   MT_ROUND_DOUBLE  round the doubled high product, then round the shift
 *                    (gemmlowp; mt_multiply_by_quantized_multiplier). TFLite
 *                    Micro's reference kernels everywhere; the TFLite
 *                    interpreter's DEPTHWISE_CONV_2D and ADD.
 *   MT_ROUND_SINGLE  one rounding of the exact 64-bit product, halves up. The
 *                    TFLite interpreter's CONV_2D and FULLY_CONNECTED (its GEMM
 *                    library, ruy), and TFLITE_SINGLE_ROUNDING builds.
 * The two differ by one when the exact value lies just below a half. */
enum { MT_ROUND_DOUBLE = 0, MT_ROUND_SINGLE = 1 };

/* x * multiplier * 2^shift, rounded once to nearest with halves up, for shift
 * in [-31, 30]. Exact in 64 bits, returned unnarrowed: a positive shift can
 * leave int32, and the caller clamps. (>> of a negative int64 is an arithmetic
 * shift on every compiler the firmware supports, as quant.h also assumes.) */
MT_INLINE int64_t mt_multiply_by_quantized_multiplier_single(int32_t x, int32_t multiplier, int shift) {
  const int total_shift = 31 - shift;
  const int64_t half = (int64_t)1 << (total_shift - 1);
  return ((int64_t)x * multiplier + half) >> total_shift;
}

/* The tail of every multiply-accumulate kernel (TFLite's order): scale the
 * int32 accumulator (bias already added) to the output scale with the given
 * rounding, add the output zero point, clamp to the fused activation range.
 * act_min/act_max lie in int8 and |output_offset| <= 128, so any scaled value
 * beyond +-256 lands on a clamp bound either way; limiting it first keeps the
 * offset addition from overflowing where TFLite's int32 addition would. */
MT_INLINE int8_t mt_requantize_rounding_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t rounding,
                                           int32_t output_offset, int32_t act_min, int32_t act_max) {
  int64_t scaled = rounding == MT_ROUND_SINGLE
                       ? mt_multiply_by_quantized_multiplier_single(acc, multiplier, (int)shift)
                       : mt_multiply_by_quantized_multiplier(acc, multiplier, (int)shift);
  scaled = scaled < -256 ? -256 : scaled > 256 ? 256 : scaled;
  return (int8_t)mt_clamp_i32((int32_t)scaled + output_offset, act_min, act_max);
}

/* The same with TFLite Micro's rounding (MT_ROUND_DOUBLE). */
MT_INLINE int8_t mt_requantize_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                  int32_t act_min, int32_t act_max) {
  return mt_requantize_rounding_s8(acc, multiplier, shift, MT_ROUND_DOUBLE, output_offset, act_min, act_max);
}

#endif /* MCUTRAIN_KERNELS_COMMON_H */
