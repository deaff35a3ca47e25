/* MEAN int8 over the height and width of an NHWC tensor (TFLite Micro's and the TFLite interpreter's
 * reduce kernels; src/lower/ops/mean.ts picks the mode and prepares the constants). */
#ifndef MCUTRAIN_KERNELS_MEAN_H
#define MCUTRAIN_KERNELS_MEAN_H

#include <stdint.h>

#include "mcutrain/kernels/common.h"

/* How a sum over the H*W window becomes an int8 output. */
typedef enum {
  /* The raw sum divided by H*W, truncated toward zero (the interpreter without keep_dims between
   * equal quantizations: reference_ops::Mean). */
  MT_MEAN_DIVIDE = 0,
  /* (sum - input_zero_point * H*W) scaled by multiplier/shift (which already hold
   * input_scale / (output_scale * H*W)), rounded, plus output_zero_point, clamped. TFLite Micro's
   * QuantizedMeanOrSum, always; the interpreter's keep_dims kernel is this with input_zero_point 0
   * and its rounded bias as output_zero_point. */
  MT_MEAN_REQUANTIZE = 1,
  /* In float32: round(float(sum) / float(H*W) * scale + bias) + output_zero_point, clamped (the
   * interpreter without keep_dims between different quantizations: its float QuantizedMeanOrSum). */
  MT_MEAN_FLOAT = 2
} mt_mean_mode;

typedef struct {
  int32_t mode; /* mt_mean_mode */
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
  float scale; /* MT_MEAN_FLOAT only: input_scale / output_scale */
  float bias;  /* MT_MEAN_FLOAT only: -input_zero_point * scale */
} mt_mean_params;

/* output is N x C (the reduced H and W dropped or kept as 1: the layout is the same). */
void mt_mean_s8(const mt_mean_params *params, const mt_dims4 *input_dims, const int8_t *input, int8_t *output);

#endif /* MCUTRAIN_KERNELS_MEAN_H */
