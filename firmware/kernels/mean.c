/* MEAN int8 over H and W of an NHWC tensor, bit-exact with TensorFlow Lite Micro (always the
 * requantizing mean) or with the TFLite interpreter (one of three paths), as the lowering chose. */
#include "mcutrain/kernels/mean.h"

#include <math.h>

#include "mcutrain/quant.h"

/* Rounded means beyond this saturate anyway once the zero point (within int8) is added; clamping
 * first keeps the float -> int conversion defined. */
#define MEAN_LIMIT 512.0f

/* Sum of one channel over the H*W window; strided, so no scratch buffer is needed. Lowering bounds
 * H*W so that the sum of int8 values cannot overflow int32. */
static int32_t window_sum(const int8_t *first, int32_t count, int32_t stride) {
  int32_t sum = 0;
  for (int32_t i = 0; i < count; ++i) sum += first[i * stride];
  return sum;
}

/* The interpreter's float formula, one float32 rounding per operation as written (the builds pass
 * -ffp-contract=off, so no fused multiply-add merges the product and the sum). */
static int32_t float_mean(const mt_mean_params *params, int32_t sum, int32_t count) {
  const float mean = (float)sum / (float)count;
  const float scaled = mean * params->scale;
  float q = roundf(scaled + params->bias);
  if (!(q >= -MEAN_LIMIT)) q = -MEAN_LIMIT;
  if (q > MEAN_LIMIT) q = MEAN_LIMIT;
  return (int32_t)q + params->output_zero_point;
}

void mt_mean_s8(const mt_mean_params *params, const mt_dims4 *input_dims, const int8_t *input, int8_t *output) {
  const int32_t count = input_dims->h * input_dims->w;
  const int32_t channels = input_dims->c;
  for (int32_t n = 0; n < input_dims->n; ++n) {
    const int8_t *batch = input + n * count * channels;
    for (int32_t c = 0; c < channels; ++c) {
      const int32_t sum = window_sum(batch + c, count, channels);
      int32_t out;
      if (params->mode == MT_MEAN_DIVIDE) {
        out = sum / count; /* C division truncates toward zero, as TFLite's; within int8 */
      } else if (params->mode == MT_MEAN_FLOAT) {
        out = mt_clamp_i32(float_mean(params, sum, count), INT8_MIN, INT8_MAX);
      } else {
        const int32_t centered = sum - params->input_zero_point * count;
        out = mt_multiply_by_quantized_multiplier(centered, params->multiplier, params->shift) + params->output_zero_point;
        out = mt_clamp_i32(out, INT8_MIN, INT8_MAX);
      }
      output[n * channels + c] = (int8_t)out;
    }
  }
}
