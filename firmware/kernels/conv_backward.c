/* CONV_2D backward: the input gradient (the transposed convolution of the output gradient) and the
 * fused weight-gradient + SGD update of the first output channels. Float32 gradients, int8 weights
 * and saved input; the summation orders below are part of the contract (same bits on every target). */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "train_common.h"

/* Scatter in the forward loop's order (n, out_y, out_x, oc, fy, fx, ic): each output gradient times
 * its channel's filter scale, g, adds g * w to every input element that tap read. Padding taps are
 * skipped, as in the forward pass. The filter is `filter`, or `split` when not NULL (a constant in each
 * entry point): every element gets the same additions in the same order either way. */
MT_INLINE void conv_grad_input(const mt_conv_params *params, const mt_dims4 *input_dims,
                               const mt_dims4 *filter_dims, const int8_t *filter, const mt_split_filter *split,
                               const float *filter_scale, const mt_dims4 *output_dims, const float *grad_out,
                               float *grad_in, int32_t accumulate) {
  const mt_conv_params p = *params;
  const mt_dims4 in_d = *input_dims, f_d = *filter_dims, out_d = *output_dims;
  mt_grad_prepare_f32(grad_in, in_d.n * in_d.h * in_d.w * in_d.c, accumulate);
  for (int32_t n = 0; n < out_d.n; ++n) {
    for (int32_t out_y = 0; out_y < out_d.h; ++out_y) {
      const int32_t in_y0 = out_y * p.stride_h - p.pad_h;
      for (int32_t out_x = 0; out_x < out_d.w; ++out_x) {
        const int32_t in_x0 = out_x * p.stride_w - p.pad_w;
        for (int32_t oc = 0; oc < out_d.c; ++oc) {
          const float g = grad_out[mt_offset4(&out_d, n, out_y, out_x, oc)] * filter_scale[oc];
          for (int32_t fy = 0; fy < f_d.h; ++fy) {
            const int32_t in_y = in_y0 + fy * p.dilation_h;
            if (in_y < 0 || in_y >= in_d.h) continue;
            for (int32_t fx = 0; fx < f_d.w; ++fx) {
              const int32_t in_x = in_x0 + fx * p.dilation_w;
              if (in_x < 0 || in_x >= in_d.w) continue;
              float *gi = &grad_in[mt_offset4(&in_d, n, in_y, in_x, 0)];
              if (split != NULL) {
                const mt_split_row r = mt_split_row_of(split, oc, f_d.h * f_d.w * f_d.c);
                const int32_t j0 = (fy * f_d.w + fx) * f_d.c;
                for (int32_t ic = 0; ic < f_d.c; ++ic) gi[ic] = gi[ic] + g * (float)mt_split_row_at(r, j0 + ic);
                continue;
              }
              const int8_t *w = &filter[mt_offset4(&f_d, oc, fy, fx, 0)];
              for (int32_t ic = 0; ic < f_d.c; ++ic) gi[ic] = gi[ic] + g * (float)w[ic];
            }
          }
        }
      }
    }
  }
}

void mt_conv_grad_input_f32(const mt_conv_params *params, const mt_dims4 *input_dims,
                            const mt_dims4 *filter_dims, const int8_t *filter, const float *filter_scale,
                            const mt_dims4 *output_dims, const float *grad_out, float *grad_in,
                            int32_t accumulate) {
  conv_grad_input(params, input_dims, filter_dims, filter, NULL, filter_scale, output_dims, grad_out, grad_in, accumulate);
}

void mt_conv_grad_input_split_f32(const mt_conv_params *params, const mt_dims4 *input_dims,
                                  const mt_dims4 *filter_dims, const mt_split_filter *filter,
                                  const float *filter_scale, const mt_dims4 *output_dims, const float *grad_out,
                                  float *grad_in, int32_t accumulate) {
  conv_grad_input(params, input_dims, filter_dims, NULL, filter, filter_scale, output_dims, grad_out, grad_in, accumulate);
}

/* For each trained channel oc and tap (fy, fx, ic), in that order:
 *   acc = sum over (n, out_y, out_x), in that order, of grad_out * (q_in + input_offset)
 *   g = (acc * input_scale) * grad_factor[oc], then the SGD step of that one weight.
 * The sums read only grad_out and the input, never a weight, so updating each weight as soon as its
 * gradient is known gives the same result as a separate gradient pass. */
void mt_conv_update_weights_s8(const mt_conv_params *params, const mt_dims4 *input_dims, const int8_t *input,
                               float input_scale, const mt_dims4 *filter_dims, int8_t *filter,
                               const float *grad_factor, int32_t n_channels, const mt_dims4 *output_dims,
                               const float *grad_out, const mt_sgd *sgd, float *momentum) {
  const mt_conv_params *p = params;
  const mt_tap_window win = {p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->pad_h, p->pad_w, p->input_offset};
  const mt_dims4 f_d = *filter_dims;
  float *mom = mt_sgd_momentum(sgd, momentum);
  for (int32_t oc = 0; oc < n_channels; ++oc) {
    for (int32_t fy = 0; fy < f_d.h; ++fy) {
      for (int32_t fx = 0; fx < f_d.w; ++fx) {
        for (int32_t ic = 0; ic < f_d.c; ++ic) {
          const float acc = mt_tap_gradient(&win, input_dims, input, output_dims, grad_out, fy, fx, ic, oc);
          const float g = (acc * input_scale) * grad_factor[oc];
          const int32_t i = mt_offset4(&f_d, oc, fy, fx, ic);
          filter[i] = mt_sgd_update_s8(sgd, mom != NULL ? &mom[i] : NULL, filter[i], g);
        }
      }
    }
  }
}
