/* FULLY_CONNECTED backward: the input gradient and the fused weight-gradient + SGD update of the first
 * outputs. Weights [out_depth, accum_depth]; the summation orders below are part of the contract. */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "train_common.h"

/* Scatter in the forward loop's order (b, oc, d): g = grad_out[b, oc] * weight_scale[oc] adds
 * g * w[oc, d] to grad_in[b, d]. The weights are `weights`, or `split` when not NULL (a constant in
 * each entry point): the same additions in the same order either way. */
MT_INLINE void fully_connected_grad_input(int32_t batches, int32_t accum_depth, int32_t out_depth,
                                          const int8_t *weights, const mt_split_filter *split,
                                          const float *weight_scale, const float *grad_out, float *grad_in,
                                          int32_t accumulate) {
  mt_grad_prepare_f32(grad_in, batches * accum_depth, accumulate);
  for (int32_t b = 0; b < batches; ++b) {
    float *gi = &grad_in[b * accum_depth];
    for (int32_t oc = 0; oc < out_depth; ++oc) {
      const float g = grad_out[b * out_depth + oc] * weight_scale[oc];
      if (split != NULL) {
        const mt_split_row r = mt_split_row_of(split, oc, accum_depth);
        for (int32_t d = 0; d < accum_depth; ++d) gi[d] = gi[d] + g * (float)mt_split_row_at(r, d);
        continue;
      }
      const int8_t *w = &weights[oc * accum_depth];
      for (int32_t d = 0; d < accum_depth; ++d) gi[d] = gi[d] + g * (float)w[d];
    }
  }
}

void mt_fully_connected_grad_input_f32(int32_t batches, int32_t accum_depth, int32_t out_depth,
                                       const int8_t *weights, const float *weight_scale,
                                       const float *grad_out, float *grad_in, int32_t accumulate) {
  fully_connected_grad_input(batches, accum_depth, out_depth, weights, NULL, weight_scale, grad_out, grad_in, accumulate);
}

void mt_fully_connected_grad_input_split_f32(int32_t batches, int32_t accum_depth, int32_t out_depth,
                                             const mt_split_filter *weights, const float *weight_scale,
                                             const float *grad_out, float *grad_in, int32_t accumulate) {
  fully_connected_grad_input(batches, accum_depth, out_depth, NULL, weights, weight_scale, grad_out, grad_in, accumulate);
}

/* For each trained output oc and input d, in that order:
 *   acc = sum over b, in order, of grad_out[b, oc] * (q_in[b, d] + input_offset)
 *   g = (acc * input_scale) * grad_factor[oc], then the SGD step of w[oc, d]. The sums never read a
 * weight, so updating in place is exact. */
void mt_fully_connected_update_weights_s8(int32_t batches, int32_t accum_depth, int32_t out_depth,
                                          const int8_t *input, float input_scale, int32_t input_offset,
                                          int8_t *weights, const float *grad_factor, int32_t n_channels,
                                          const float *grad_out, const mt_sgd *sgd, float *momentum) {
  float *mom = mt_sgd_momentum(sgd, momentum);
  for (int32_t oc = 0; oc < n_channels; ++oc) {
    for (int32_t d = 0; d < accum_depth; ++d) {
      float acc = 0.0f;
      for (int32_t b = 0; b < batches; ++b) {
        const float x = (float)((int32_t)input[b * accum_depth + d] + input_offset);
        acc = acc + grad_out[b * out_depth + oc] * x;
      }
      const float g = (acc * input_scale) * grad_factor[oc];
      const int32_t i = oc * accum_depth + d;
      weights[i] = mt_sgd_update_s8(sgd, mom != NULL ? &mom[i] : NULL, weights[i], g);
    }
  }
}
