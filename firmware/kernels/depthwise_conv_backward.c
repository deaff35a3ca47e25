/* DEPTHWISE_CONV_2D backward: the input gradient and the fused weight-gradient + SGD update of the
 * first output channels. Output channel oc = ic * depth_multiplier + m reads input channel ic only.
 * The summation orders below are part of the contract (same bits on every target). */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "train_common.h"

/* Scatter in the forward loop's order (n, out_y, out_x, oc, fy, fx): each output gradient times its
 * channel's filter scale, g, adds g * w to the input element that tap read; padding taps are skipped. */
void mt_depthwise_conv_grad_input_f32(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims,
                                      const mt_dims4 *filter_dims, const int8_t *filter,
                                      const float *filter_scale, const mt_dims4 *output_dims,
                                      const float *grad_out, float *grad_in, int32_t accumulate) {
  const mt_depthwise_conv_params p = *params;
  const mt_dims4 in_d = *input_dims, f_d = *filter_dims, out_d = *output_dims;
  mt_grad_prepare_f32(grad_in, in_d.n * in_d.h * in_d.w * in_d.c, accumulate);
  for (int32_t n = 0; n < out_d.n; ++n) {
    for (int32_t out_y = 0; out_y < out_d.h; ++out_y) {
      const int32_t in_y0 = out_y * p.stride_h - p.pad_h;
      for (int32_t out_x = 0; out_x < out_d.w; ++out_x) {
        const int32_t in_x0 = out_x * p.stride_w - p.pad_w;
        for (int32_t oc = 0; oc < out_d.c; ++oc) {
          const int32_t ic = oc / p.depth_multiplier;
          const float g = grad_out[mt_offset4(&out_d, n, out_y, out_x, oc)] * filter_scale[oc];
          for (int32_t fy = 0; fy < f_d.h; ++fy) {
            const int32_t in_y = in_y0 + fy * p.dilation_h;
            if (in_y < 0 || in_y >= in_d.h) continue;
            for (int32_t fx = 0; fx < f_d.w; ++fx) {
              const int32_t in_x = in_x0 + fx * p.dilation_w;
              if (in_x < 0 || in_x >= in_d.w) continue;
              float *gi = &grad_in[mt_offset4(&in_d, n, in_y, in_x, ic)];
              *gi = *gi + g * (float)filter[mt_offset4(&f_d, 0, fy, fx, oc)];
            }
          }
        }
      }
    }
  }
}

typedef struct {
  float *grad_in;
} mt_dw_f32_state;
#define MT_DW_T float
#define MT_DW_NAME mt_depthwise_gather_f32
#define MT_DW_STATE mt_dw_f32_state
#define MT_DW_TERM(g, w, s) (((g) * (s)) * (float)(w))
#define MT_DW_STORE(st, i, acc) ((st)->grad_in[(i)] = (acc))
#include "depthwise_grad_gather.inc"

void mt_depthwise_conv_grad_input_inplace_f32(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims,
                                              const mt_dims4 *filter_dims, const int8_t *filter,
                                              const float *filter_scale, const mt_dims4 *output_dims,
                                              float *grad_out, float *grad_in, float *ring) {
  mt_dw_f32_state st = {grad_in};
  mt_depthwise_gather_f32(params, input_dims, filter_dims, filter, filter_scale, output_dims, grad_out, ring, &st);
}

/* For each trained channel oc and tap (fy, fx), in that order:
 *   acc = sum over (n, out_y, out_x), in that order, of grad_out[.., oc] * (q_in[.., oc / dm] + input_offset)
 *   g = (acc * input_scale) * grad_factor[oc], then the SGD step of that weight. The momentum buffer
 * is [filter_h][filter_w][n_channels]. The sums never read a weight, so updating in place is exact. */
void mt_depthwise_conv_update_weights_s8(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims,
                                         const int8_t *input, float input_scale, const mt_dims4 *filter_dims,
                                         int8_t *filter, const float *grad_factor, int32_t n_channels,
                                         const mt_dims4 *output_dims, const float *grad_out,
                                         const mt_sgd *sgd, float *momentum) {
  const mt_depthwise_conv_params *p = params;
  const mt_tap_window win = {p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->pad_h, p->pad_w, p->input_offset};
  const mt_dims4 f_d = *filter_dims;
  float *mom = mt_sgd_momentum(sgd, momentum);
  for (int32_t oc = 0; oc < n_channels; ++oc) {
    const int32_t ic = oc / p->depth_multiplier;
    for (int32_t fy = 0; fy < f_d.h; ++fy) {
      for (int32_t fx = 0; fx < f_d.w; ++fx) {
        const float acc = mt_tap_gradient(&win, input_dims, input, output_dims, grad_out, fy, fx, ic, oc);
        const float g = (acc * input_scale) * grad_factor[oc];
        const int32_t i = mt_offset4(&f_d, 0, fy, fx, oc);
        float *m = mom != NULL ? &mom[(fy * f_d.w + fx) * n_channels + oc] : NULL;
        filter[i] = mt_sgd_update_s8(sgd, m, filter[i], g);
      }
    }
  }
}
