/* CONV_2D int8 with the Arm DSP extension: the same results as kernels/conv.c (which the tests check
 * on the emulated boards), computed two output pixels by two output channels at a time.
 *
 * Output pixels are taken in memory order, across rows and images. A pixel's window is the set of
 * filter taps whose input lies inside the image; two consecutive pixels with the same window (all
 * interior pixels, and every pixel of a 1x1 convolution without padding) are computed together, so
 * each widened weight word serves two pixels and each widened input word two output channels. Within
 * a window the taps of one filter row are contiguous in memory when there is one group and no
 * horizontal dilation: the dot product then runs over the whole row at once (for a 1x1 convolution
 * that is the input depth, for a 3x3 layer on an RGB image 3 x 3 = 9 values). */
#include "mcutrain/kernels/conv.h"

#include <stddef.h>

#include "dsp.h"

typedef struct {
  const int8_t *input;   /* the input at the window's first tap, channel 0 */
  int32_t filter_offset; /* that tap in a filter: (fy * filter_w + fx) * group_depth */
  int32_t rows, cols;    /* taps inside the image, per filter column and row */
} window;

/* Everything about the call that the loops read, copied out of the parameters (see mt_dsp_clamp). */
typedef struct {
  const int8_t *input, *filter;
  const int32_t *bias, *mult, *shift;
  int32_t group_depth, groups, filters_per_group, filter_size, out_c;
  int32_t input_row_step, input_col_step; /* input distance between vertically / horizontally adjacent taps */
  int32_t filter_row_step;                /* filter distance between rows of taps */
  int32_t contiguous;                     /* a row of taps is one run of cols * group_depth values */
  int32_t input_offset, rounding;
  mt_dsp_clamp clamp;
} layer;

static window window_of(const mt_conv_params *params, const mt_dims4 *input_dims, const int8_t *input,
                        const mt_dims4 *filter_dims, int32_t n, int32_t out_y, int32_t out_x) {
  const int32_t in_y0 = out_y * params->stride_h - params->pad_h;
  const int32_t in_x0 = out_x * params->stride_w - params->pad_w;
  int32_t fy0, fy1, fx0, fx1;
  mt_dsp_taps_inside(in_y0, filter_dims->h, params->dilation_h, input_dims->h, &fy0, &fy1);
  mt_dsp_taps_inside(in_x0, filter_dims->w, params->dilation_w, input_dims->w, &fx0, &fx1);
  window w;
  w.rows = fy1 - fy0;
  w.cols = fx1 - fx0;
  w.filter_offset = (fy0 * filter_dims->w + fx0) * filter_dims->c;
  const int32_t in_y = in_y0 + fy0 * params->dilation_h, in_x = in_x0 + fx0 * params->dilation_w;
  w.input = w.rows > 0 && w.cols > 0 ? &input[mt_offset4(input_dims, n, in_y, in_x, 0)] : input;
  return w;
}

/* (n, y, x) to the next output pixel in memory order. */
MT_DSP_INLINE void next_pixel(const mt_dims4 *output_dims, int32_t *n, int32_t *y, int32_t *x) {
  if (++*x == output_dims->w) {
    *x = 0;
    if (++*y == output_dims->h) {
      *y = 0;
      ++*n;
    }
  }
}

MT_DSP_INLINE int same_taps(const window *a, const window *b) {
  return a->rows == b->rows && a->cols == b->cols && a->filter_offset == b->filter_offset;
}

/* Pixels a and b (windows with the same taps; a and b point at their first tap, in the filters'
 * group) by filters w0 and w1 (at that tap), added to acc. */
MT_DSP_INLINE mt_dsp_acc_2x2 window_2x2(const layer *l, const window *taps, const int8_t *a, const int8_t *b,
                                        const int8_t *w0, const int8_t *w1, mt_dsp_acc_2x2 acc) {
  if (l->contiguous && taps->rows == 1) { /* one run: every 1x1 convolution */
    return mt_dsp_dot_2x2(a, b, w0, w1, taps->cols * l->group_depth, l->input_offset, 0, 0, acc);
  }
  for (int32_t r = 0; r < taps->rows; ++r) {
    if (l->contiguous) {
      acc = mt_dsp_dot_2x2(a, b, w0, w1, taps->cols * l->group_depth, l->input_offset, 0, 0, acc);
    } else {
      for (int32_t c = 0; c < taps->cols; ++c) {
        acc = mt_dsp_dot_2x2(a + c * l->input_col_step, b + c * l->input_col_step, w0 + c * l->group_depth,
                             w1 + c * l->group_depth, l->group_depth, l->input_offset, 0, 0, acc);
      }
    }
    a += l->input_row_step;
    b += l->input_row_step;
    w0 += l->filter_row_step;
    w1 += l->filter_row_step;
  }
  return acc;
}

/* The same for one pixel. */
MT_DSP_INLINE mt_dsp_acc_1x2 window_1x2(const layer *l, const window *taps, const int8_t *a, const int8_t *w0,
                                        const int8_t *w1, mt_dsp_acc_1x2 acc) {
  for (int32_t r = 0; r < taps->rows; ++r) {
    if (l->contiguous) {
      acc = mt_dsp_dot_1x2(a, w0, w1, taps->cols * l->group_depth, l->input_offset, 0, 0, acc);
    } else {
      for (int32_t c = 0; c < taps->cols; ++c) {
        acc = mt_dsp_dot_1x2(a + c * l->input_col_step, w0 + c * l->group_depth, w1 + c * l->group_depth,
                             l->group_depth, l->input_offset, 0, 0, acc);
      }
    }
    a += l->input_row_step;
    w0 += l->filter_row_step;
    w1 += l->filter_row_step;
  }
  return acc;
}

/* Pixels a and b (b NULL: a alone) by filters oc0 and oc1 of a split filter (common.h, no groups). Whole rows
 * each lie in one memory; a split by input channels (a 1x1 filter: the window is its one tap) runs
 * the trained values, then the frozen ones: the same terms, so the same sums. */
MT_DSP_INLINE mt_dsp_acc_2x2 split_2x2(const layer *l, const mt_split_filter *f, const window *taps, const int8_t *a,
                                       const int8_t *b, int32_t oc0, int32_t oc1, mt_dsp_acc_2x2 acc) {
  const mt_split_row r0 = mt_split_row_of(f, oc0, l->filter_size), r1 = mt_split_row_of(f, oc1, l->filter_size);
  if (f->trained_cols == l->filter_size) {
    const int8_t *w0 = (r0.len > 0 ? r0.trained : r0.frozen) + taps->filter_offset;
    const int8_t *w1 = (r1.len > 0 ? r1.trained : r1.frozen) + taps->filter_offset;
    if (b != NULL) return window_2x2(l, taps, a, b, w0, w1, acc);
    const mt_dsp_acc_1x2 one = window_1x2(l, taps, a, w0, w1, (mt_dsp_acc_1x2){acc.a0, acc.a1});
    return (mt_dsp_acc_2x2){one.a0, one.a1, 0, 0};
  }
  const int32_t k = f->trained_cols, rest = l->filter_size - k;
  if (b != NULL) {
    acc = mt_dsp_dot_2x2(a, b, r0.trained, r1.trained, k, l->input_offset, 0, 0, acc);
    return mt_dsp_dot_2x2(a + k, b + k, r0.frozen, r1.frozen, rest, l->input_offset, 0, 0, acc);
  }
  mt_dsp_acc_1x2 one = mt_dsp_dot_1x2(a, r0.trained, r1.trained, k, l->input_offset, 0, 0, (mt_dsp_acc_1x2){acc.a0, acc.a1});
  one = mt_dsp_dot_1x2(a + k, r0.frozen, r1.frozen, rest, l->input_offset, 0, 0, one);
  return (mt_dsp_acc_2x2){one.a0, one.a1, 0, 0};
}

/* The output channels of one pixel (b == NULL) or two pixels with the same taps, the second one
 * out_c bytes after the first in the output, MT_DSP_CHUNK channels at a time. */
MT_DSP_INLINE void pixels(const layer *l, const window *a, const window *b, int8_t *out) {
  int32_t acc_a[MT_DSP_CHUNK], acc_b[MT_DSP_CHUNK];
  const int32_t filter_size = l->filter_size;
  for (int32_t group = 0; group < l->groups; ++group) {
    const int32_t in_c0 = group * l->group_depth;
    const int8_t *in_a = a->input + in_c0, *in_b = b != NULL ? b->input + in_c0 : NULL;
    const int32_t group_end = (group + 1) * l->filters_per_group;
    for (int32_t first = group * l->filters_per_group; first < group_end; first += MT_DSP_CHUNK) {
      const int32_t end = group_end - first < MT_DSP_CHUNK ? group_end : first + MT_DSP_CHUNK;
      const int8_t *w0 = &l->filter[first * filter_size + a->filter_offset];
      /* an odd last filter is computed twice, and its copy lands in the unused slot after the run */
      for (int32_t i = 0; i < end - first; i += 2, w0 += 2 * filter_size) {
        const int8_t *w1 = i + 1 < end - first ? w0 + filter_size : w0;
        const int32_t bias0 = l->bias != NULL ? l->bias[first + i] : 0;
        const int32_t bias1 = l->bias != NULL && i + 1 < end - first ? l->bias[first + i + 1] : bias0;
        if (b != NULL) {
          const mt_dsp_acc_2x2 acc = window_2x2(l, a, in_a, in_b, w0, w1, (mt_dsp_acc_2x2){bias0, bias1, bias0, bias1});
          acc_a[i] = acc.a0, acc_a[i + 1] = acc.a1;
          acc_b[i] = acc.b0, acc_b[i + 1] = acc.b1;
        } else {
          const mt_dsp_acc_1x2 acc = window_1x2(l, a, in_a, w0, w1, (mt_dsp_acc_1x2){bias0, bias1});
          acc_a[i] = acc.a0, acc_a[i + 1] = acc.a1;
        }
      }
      mt_dsp_requantize_run(acc_a, b != NULL ? acc_b : NULL, end - first, &l->mult[first], &l->shift[first],
                            l->rounding, l->clamp, &out[first], b != NULL ? &out[l->out_c + first] : NULL);
    }
  }
}

/* The same for a split filter (mt_conv_s8_split: no groups), a pair of output channels at a time. */
MT_DSP_INLINE void split_pixels(const layer *l, const mt_split_filter *f, const window *a, const window *b, int8_t *out) {
  int32_t acc_a[MT_DSP_CHUNK], acc_b[MT_DSP_CHUNK];
  for (int32_t first = 0; first < l->out_c; first += MT_DSP_CHUNK) {
    const int32_t end = l->out_c - first < MT_DSP_CHUNK ? l->out_c : first + MT_DSP_CHUNK;
    for (int32_t oc = first; oc < end; oc += 2) {
      const int32_t oc1 = oc + 1 < end ? oc + 1 : oc; /* an odd last filter is computed twice, stored once */
      const int32_t bias0 = l->bias != NULL ? l->bias[oc] : 0, bias1 = l->bias != NULL ? l->bias[oc1] : 0;
      const mt_dsp_acc_2x2 acc = split_2x2(l, f, a, a->input, b != NULL ? b->input : NULL, oc, oc1,
                                           (mt_dsp_acc_2x2){bias0, bias1, bias0, bias1});
      acc_a[oc - first] = acc.a0, acc_a[oc1 - first] = acc.a1;
      acc_b[oc - first] = acc.b0, acc_b[oc1 - first] = acc.b1;
    }
    mt_dsp_requantize_run(acc_a, b != NULL ? acc_b : NULL, end - first, &l->mult[first], &l->shift[first], l->rounding,
                          l->clamp, &out[first], b != NULL ? &out[l->out_c + first] : NULL);
  }
}

MT_DSP_INLINE void conv(const layer *l, const mt_conv_params *params, const mt_dims4 *input_dims,
                        const mt_dims4 *filter_dims, const mt_dims4 *output_dims, int8_t *output,
                        const mt_split_filter *split) {
  const int32_t count = output_dims->n * output_dims->h * output_dims->w;
  int32_t n = 0, y = 0, x = 0; /* the pixel after the one in `next` */
  window next = {l->input, 0, 0, 0};
  if (count > 0) next = window_of(params, input_dims, l->input, filter_dims, 0, 0, 0);
  next_pixel(output_dims, &n, &y, &x);
  for (int32_t p = 0; p < count;) {
    const window cur = next;
    int paired = 0;
    if (p + 1 < count) {
      next = window_of(params, input_dims, l->input, filter_dims, n, y, x);
      next_pixel(output_dims, &n, &y, &x);
      paired = same_taps(&cur, &next);
    }
    if (split != NULL) { /* a constant in each instance */
      split_pixels(l, split, &cur, paired ? &next : NULL, &output[p * l->out_c]);
    } else if (paired) {
      pixels(l, &cur, &next, &output[p * l->out_c]);
    } else {
      pixels(l, &cur, NULL, &output[p * l->out_c]);
    }
    if (!paired) {
      p += 1;
      continue;
    }
    p += 2;
    if (p < count) {
      next = window_of(params, input_dims, l->input, filter_dims, n, y, x);
      next_pixel(output_dims, &n, &y, &x);
    }
  }
}

/* The layer's fields (see `layer`), from the call's arguments. */
MT_DSP_INLINE void layer_init(layer *l, const mt_conv_params *params, const mt_dims4 *input_dims, const int8_t *input,
                              const mt_dims4 *filter_dims, const int8_t *filter, const int32_t *bias,
                              const int32_t *output_mult, const int32_t *output_shift, const mt_dims4 *output_dims) {
  l->input = input;
  l->filter = filter;
  l->bias = bias;
  l->mult = output_mult;
  l->shift = output_shift;
  l->group_depth = filter_dims->c;
  l->groups = input_dims->c / l->group_depth;
  l->filters_per_group = output_dims->c / l->groups;
  l->filter_size = filter_dims->h * filter_dims->w * l->group_depth;
  l->out_c = output_dims->c;
  l->input_row_step = params->dilation_h * input_dims->w * input_dims->c;
  l->input_col_step = params->dilation_w * input_dims->c;
  l->filter_row_step = filter_dims->w * l->group_depth;
  l->contiguous = l->groups == 1 && params->dilation_w == 1;
  l->input_offset = params->input_offset;
  l->rounding = params->rounding;
  l->clamp = mt_dsp_clamp_of(params->output_offset, params->act_min, params->act_max);
}

void mt_conv_s8(const mt_conv_params *params,
                const mt_dims4 *input_dims, const int8_t *input,
                const mt_dims4 *filter_dims, const int8_t *filter,
                const int32_t *bias,
                const int32_t *output_mult, const int32_t *output_shift,
                const mt_dims4 *output_dims, int8_t *output) {
  layer l;
  layer_init(&l, params, input_dims, input, filter_dims, filter, bias, output_mult, output_shift, output_dims);
  conv(&l, params, input_dims, filter_dims, output_dims, output, NULL);
}

void mt_conv_s8_split(const mt_conv_params *params,
                      const mt_dims4 *input_dims, const int8_t *input,
                      const mt_dims4 *filter_dims, const mt_split_filter *filter,
                      const int32_t *bias,
                      const int32_t *output_mult, const int32_t *output_shift,
                      const mt_dims4 *output_dims, int8_t *output) {
  layer l;
  layer_init(&l, params, input_dims, input, filter_dims, NULL, bias, output_mult, output_shift, output_dims);
  conv(&l, params, input_dims, filter_dims, output_dims, output, filter);
}
