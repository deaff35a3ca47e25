/* Backward of the operators without weights between a network's convolutions: AVERAGE_POOL_2D, MEAN
 * over H and W, and PAD. Float32 gradients; the orders below are part of the contract. */
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "train_common.h"

/* In the forward loop's order (n, out_y, out_x, c, fy, fx): each output gradient divided by the
 * number of in-bounds elements of its window (padding is not counted, as in mt_avg_pool_s8) is added
 * to each of them. An empty window spreads nothing. */
void mt_avg_pool_grad_f32(const mt_pooling_params *params, const mt_dims4 *input_dims,
                          const mt_dims4 *output_dims, const float *grad_out, float *grad_in,
                          int32_t accumulate) {
  const mt_pooling_params p = *params;
  const mt_dims4 in_d = *input_dims, out_d = *output_dims;
  mt_grad_prepare_f32(grad_in, in_d.n * in_d.h * in_d.w * in_d.c, accumulate);
  for (int32_t n = 0; n < out_d.n; ++n) {
    for (int32_t out_y = 0; out_y < out_d.h; ++out_y) {
      const int32_t y0 = out_y * p.stride_h - p.pad_h;
      const int32_t fy_start = mt_max_i32(0, -y0), fy_end = mt_min_i32(p.filter_h, in_d.h - y0);
      for (int32_t out_x = 0; out_x < out_d.w; ++out_x) {
        const int32_t x0 = out_x * p.stride_w - p.pad_w;
        const int32_t fx_start = mt_max_i32(0, -x0), fx_end = mt_min_i32(p.filter_w, in_d.w - x0);
        if (fy_end <= fy_start || fx_end <= fx_start) continue;
        const float count = (float)((fy_end - fy_start) * (fx_end - fx_start));
        for (int32_t c = 0; c < out_d.c; ++c) {
          const float share = grad_out[mt_offset4(&out_d, n, out_y, out_x, c)] / count;
          for (int32_t fy = fy_start; fy < fy_end; ++fy) {
            for (int32_t fx = fx_start; fx < fx_end; ++fx) {
              float *gi = &grad_in[mt_offset4(&in_d, n, y0 + fy, x0 + fx, c)];
              *gi = *gi + share;
            }
          }
        }
      }
    }
  }
}

/* grad_in[n, y, x, c] (=, or +=) grad_out[n, c] / (h * w). */
void mt_mean_hw_grad_f32(const mt_dims4 *input_dims, const float *grad_out, float *grad_in, int32_t accumulate) {
  const mt_dims4 d = *input_dims;
  const float count = (float)(d.h * d.w);
  for (int32_t n = 0; n < d.n; ++n) {
    for (int32_t i = 0; i < d.h * d.w; ++i) {
      float *gi = &grad_in[(n * d.h * d.w + i) * d.c];
      const float *go = &grad_out[n * d.c];
      for (int32_t c = 0; c < d.c; ++c) gi[c] = accumulate ? gi[c] + go[c] / count : go[c] / count;
    }
  }
}

/* grad_in[n, y, x, c] (=, or +=) grad_out[n + before.n, y + before.h, x + before.w, c + before.c]. */
void mt_pad_grad_f32(const mt_dims4 *input_dims, const mt_dims4 *output_dims, const int32_t pad_before[4],
                     const float *grad_out, float *grad_in, int32_t accumulate) {
  const mt_dims4 in_d = *input_dims, out_d = *output_dims;
  for (int32_t n = 0; n < in_d.n; ++n) {
    for (int32_t y = 0; y < in_d.h; ++y) {
      for (int32_t x = 0; x < in_d.w; ++x) {
        float *gi = &grad_in[mt_offset4(&in_d, n, y, x, 0)];
        const float *go = &grad_out[mt_offset4(&out_d, n + pad_before[0], y + pad_before[1], x + pad_before[2],
                                               pad_before[3])];
        for (int32_t c = 0; c < in_d.c; ++c) gi[c] = accumulate ? gi[c] + go[c] : go[c];
      }
    }
  }
}
