/* The loops of the portable multiply-accumulate kernels (conv.c, depthwise_conv.c, fully_connected.c),
 * shared with their int4-weight entry points (*_s4w.c). They differ only in how a weight is fetched:
 * each entry point passes an mt_weights with one pointer set, and once inlined the test on the other
 * folds away. The int4 entry points live in their own files, which have no kernels/arm/ twin, so a DSP
 * build keeps them (portable) beside the SIMD int8 kernels. */
#ifndef MCUTRAIN_KERNELS_MAC_COMMON_H
#define MCUTRAIN_KERNELS_MAC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/conv.h"
#include "mcutrain/kernels/depthwise_conv.h"
#include "mcutrain/kernels/fully_connected.h"

/* A constant weight tensor: int8 (s8), or int4 packed two per byte as TFLite's INT4 stores it (s4:
 * element 2i in the low nibble of byte i, element 2i + 1 in the high nibble), or int8 split between
 * SRAM and Flash (split, common.h: conv and FC only, the *_split entry points). */
typedef struct {
  const int8_t *s8;
  const uint8_t *s4;
  const mt_split_filter *split;
} mt_weights;

/* The sum over i < n of (weight j0 + i of row `row` of a split filter + filter_offset) * (x[i] +
 * input_offset): the same terms as the loops below, so the same integer sum. */
MT_INLINE int32_t mt_split_dot(const mt_split_filter *f, int32_t row, int32_t row_size, int32_t j0, const int8_t *x,
                               int32_t n, int32_t filter_offset, int32_t input_offset) {
  const mt_split_row r = mt_split_row_of(f, row, row_size);
  int32_t acc = 0;
  for (int32_t i = 0; i < n; ++i) acc += (mt_split_row_at(r, j0 + i) + filter_offset) * ((int32_t)x[i] + input_offset);
  return acc;
}

/* Weight i of the flattened tensor, sign-extended. */
MT_INLINE int32_t mt_weight_at(mt_weights w, int32_t i) {
  if (w.s4 == NULL) return w.s8[i];
  const uint32_t byte = w.s4[i >> 1];
  const int32_t nibble = (int32_t)((i & 1) ? byte >> 4 : byte & 0x0Fu);
  return nibble >= 8 ? nibble - 16 : nibble;
}

MT_INLINE void mt_conv_loop(const mt_conv_params *params,
                            const mt_dims4 *input_dims, const int8_t *input,
                            const mt_dims4 *filter_dims, mt_weights filter,
                            const int32_t *bias,
                            const int32_t *output_mult, const int32_t *output_shift,
                            const mt_dims4 *output_dims, int8_t *output) {
  /* Local copies: the output writes cannot alias them, so the compiler keeps them in registers
   * instead of reloading every field on every multiply-accumulate. */
  const mt_conv_params p = *params;
  const mt_dims4 in_d = *input_dims, f_d = *filter_dims, out_d = *output_dims;
  /* A filter narrower than the input splits the channels into groups, each
   * convolved with its own slice of the filters (grouped convolution). */
  const int32_t group_depth = f_d.c;
  const int32_t groups = in_d.c / group_depth;
  const int32_t filters_per_group = out_d.c / groups;

  for (int32_t n = 0; n < out_d.n; ++n) {
    for (int32_t out_y = 0; out_y < out_d.h; ++out_y) {
      const int32_t in_y0 = out_y * p.stride_h - p.pad_h;
      for (int32_t out_x = 0; out_x < out_d.w; ++out_x) {
        const int32_t in_x0 = out_x * p.stride_w - p.pad_w;
        for (int32_t oc = 0; oc < out_d.c; ++oc) {
          const int32_t in_c0 = (oc / filters_per_group) * group_depth;
          int32_t acc = 0;
          for (int32_t fy = 0; fy < f_d.h; ++fy) {
            const int32_t in_y = in_y0 + fy * p.dilation_h;
            if (in_y < 0 || in_y >= in_d.h) continue; /* zero padding contributes nothing */
            for (int32_t fx = 0; fx < f_d.w; ++fx) {
              const int32_t in_x = in_x0 + fx * p.dilation_w;
              if (in_x < 0 || in_x >= in_d.w) continue;
              const int8_t *in = &input[mt_offset4(&in_d, n, in_y, in_x, in_c0)];
              const int32_t w0 = mt_offset4(&f_d, oc, fy, fx, 0);
              if (filter.split != NULL) { /* folds away in the other entry points */
                acc += mt_split_dot(filter.split, oc, f_d.h * f_d.w * f_d.c, (fy * f_d.w + fx) * f_d.c, in, group_depth, 0,
                                    p.input_offset);
                continue;
              }
              for (int32_t ic = 0; ic < group_depth; ++ic) {
                acc += mt_weight_at(filter, w0 + ic) * ((int32_t)in[ic] + p.input_offset);
              }
            }
          }
          if (bias != NULL) acc += bias[oc];
          output[mt_offset4(&out_d, n, out_y, out_x, oc)] =
              mt_requantize_rounding_s8(acc, output_mult[oc], output_shift[oc], p.rounding,
                                        p.output_offset, p.act_min, p.act_max);
        }
      }
    }
  }
}

MT_INLINE void mt_depthwise_conv_loop(const mt_depthwise_conv_params *params,
                                      const mt_dims4 *input_dims, const int8_t *input,
                                      const mt_dims4 *filter_dims, mt_weights filter,
                                      const int32_t *bias,
                                      const int32_t *output_mult, const int32_t *output_shift,
                                      const mt_dims4 *output_dims, int8_t *output) {
  /* Local copies: the output writes cannot alias them, so the compiler keeps them in registers
   * instead of reloading every field on every multiply-accumulate. */
  const mt_depthwise_conv_params p = *params;
  const mt_dims4 in_d = *input_dims, f_d = *filter_dims, out_d = *output_dims;
  for (int32_t n = 0; n < out_d.n; ++n) {
    for (int32_t out_y = 0; out_y < out_d.h; ++out_y) {
      const int32_t in_y0 = out_y * p.stride_h - p.pad_h;
      for (int32_t out_x = 0; out_x < out_d.w; ++out_x) {
        const int32_t in_x0 = out_x * p.stride_w - p.pad_w;
        for (int32_t oc = 0; oc < out_d.c; ++oc) {
          const int32_t ic = oc / p.depth_multiplier;
          int32_t acc = 0;
          for (int32_t fy = 0; fy < f_d.h; ++fy) {
            const int32_t in_y = in_y0 + fy * p.dilation_h;
            if (in_y < 0 || in_y >= in_d.h) continue; /* zero padding contributes nothing */
            for (int32_t fx = 0; fx < f_d.w; ++fx) {
              const int32_t in_x = in_x0 + fx * p.dilation_w;
              if (in_x < 0 || in_x >= in_d.w) continue;
              const int32_t in = input[mt_offset4(&in_d, n, in_y, in_x, ic)];
              const int32_t w = mt_weight_at(filter, mt_offset4(&f_d, 0, fy, fx, oc));
              acc += w * (in + p.input_offset);
            }
          }
          if (bias != NULL) acc += bias[oc];
          /* TFLite Micro and the TFLite interpreter both round twice here */
          output[mt_offset4(&out_d, n, out_y, out_x, oc)] =
              mt_requantize_s8(acc, output_mult[oc], output_shift[oc], p.output_offset, p.act_min,
                               p.act_max);
        }
      }
    }
  }
}

MT_INLINE void mt_fully_connected_loop(const mt_fully_connected_params *params,
                                       const int8_t *input, mt_weights filter, const int32_t *bias,
                                       const int32_t *output_mult, const int32_t *output_shift,
                                       int8_t *output) {
  const mt_fully_connected_params p = *params; /* a local copy, as in the loops above */
  const int32_t depth = p.accum_depth;
  for (int32_t b = 0; b < p.batches; ++b) {
    const int8_t *row = &input[b * depth];
    for (int32_t oc = 0; oc < p.output_depth; ++oc) {
      const int32_t w0 = oc * depth;
      int32_t acc = 0;
      if (filter.split != NULL) {
        acc = mt_split_dot(filter.split, oc, depth, 0, row, depth, p.filter_offset, p.input_offset);
      } else {
        for (int32_t d = 0; d < depth; ++d) {
          acc += (mt_weight_at(filter, w0 + d) + p.filter_offset) * ((int32_t)row[d] + p.input_offset);
        }
      }
      if (bias != NULL) acc += bias[oc];
      output[b * p.output_depth + oc] =
          mt_requantize_rounding_s8(acc, output_mult[oc], output_shift[oc], p.rounding,
                                    p.output_offset, p.act_min, p.act_max);
    }
  }
}

#endif /* MCUTRAIN_KERNELS_MAC_COMMON_H */
