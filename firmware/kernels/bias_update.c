/* The fused bias-gradient + SGD update of the first output channels of any layer with an int32 bias. */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "train_common.h"

/* For each trained channel c: acc = sum over (n, y, x), in that order, of grad_out[n, y, x, c];
 * g = acc * grad_factor[c]; then the SGD step of bias[c] (momentum buffer: n_channels floats). */
void mt_bias_update_s32(const mt_dims4 *output_dims, const float *grad_out, int32_t *bias,
                        const float *grad_factor, int32_t n_channels, const mt_sgd *sgd, float *momentum) {
  const mt_dims4 d = *output_dims;
  const int32_t positions = d.n * d.h * d.w;
  float *mom = mt_sgd_momentum(sgd, momentum);
  for (int32_t c = 0; c < n_channels; ++c) {
    float acc = 0.0f;
    for (int32_t i = 0; i < positions; ++i) acc = acc + grad_out[i * d.c + c];
    bias[c] = mt_sgd_update_s32(sgd, mom != NULL ? &mom[c] : NULL, bias[c], acc * grad_factor[c]);
  }
}
