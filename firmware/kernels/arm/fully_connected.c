/* FULLY_CONNECTED int8 with the Arm DSP extension: the same results as kernels/fully_connected.c
 * (which the tests check on the emulated boards), computed two rows by two outputs at a time (one
 * row by two outputs for the last row of an odd batch), so each widened word of weights serves two
 * rows and each widened word of a row two outputs; the accumulators are then requantized
 * MT_DSP_CHUNK at a time (dsp.h). */
#include "mcutrain/kernels/fully_connected.h"

#include <stddef.h>

#include "dsp.h"

/* Rows a and b (b NULL: a alone) by outputs oc0 and oc1 of a split filter (common.h): each row's
 * trained values, then its frozen ones (the same terms as one run, so the same sums). Training
 * weights are symmetric: no weight offset. */
MT_DSP_INLINE mt_dsp_acc_2x2 split_2x2(const mt_split_filter *f, int32_t depth, const int8_t *a, const int8_t *b,
                                       int32_t oc0, int32_t oc1, int32_t input_offset, mt_dsp_acc_2x2 acc) {
  const mt_split_row r0 = mt_split_row_of(f, oc0, depth), r1 = mt_split_row_of(f, oc1, depth);
  if (r0.len == r1.len) { /* the usual case: both rows split at the same place */
    const int32_t k = r0.len;
    if (b != NULL) {
      acc = mt_dsp_dot_2x2(a, b, r0.trained, r1.trained, k, input_offset, 0, 0, acc);
      return mt_dsp_dot_2x2(a + k, b + k, r0.frozen, r1.frozen, depth - k, input_offset, 0, 0, acc);
    }
    mt_dsp_acc_1x2 one = mt_dsp_dot_1x2(a, r0.trained, r1.trained, k, input_offset, 0, 0, (mt_dsp_acc_1x2){acc.a0, acc.a1});
    one = mt_dsp_dot_1x2(a + k, r0.frozen, r1.frozen, depth - k, input_offset, 0, 0, one);
    return (mt_dsp_acc_2x2){one.a0, one.a1, 0, 0};
  }
  /* the last trained output beside the first frozen one: whole rows, each in its own memory */
  const int8_t *w0 = r0.len > 0 ? r0.trained : r0.frozen, *w1 = r1.len > 0 ? r1.trained : r1.frozen;
  if (b != NULL) return mt_dsp_dot_2x2(a, b, w0, w1, depth, input_offset, 0, 0, acc);
  const mt_dsp_acc_1x2 one = mt_dsp_dot_1x2(a, w0, w1, depth, input_offset, 0, 0, (mt_dsp_acc_1x2){acc.a0, acc.a1});
  return (mt_dsp_acc_2x2){one.a0, one.a1, 0, 0};
}

/* w_has_offset and `split` are constants in each instance: weights without a zero point skip the
 * addition; with split the weights are `split` (mt_fully_connected_s8_split), not `filter`. */
MT_DSP_INLINE void fully_connected(const mt_fully_connected_params *params, const int8_t *input, const int8_t *filter,
                                   const mt_split_filter *split, const int32_t *bias, const int32_t *output_mult,
                                   const int32_t *output_shift, int8_t *output, int w_has_offset) {
  const int32_t batches = params->batches, depth = params->accum_depth, out_depth = params->output_depth;
  const int32_t input_offset = params->input_offset, filter_offset = params->filter_offset;
  const int32_t rounding = params->rounding;
  const mt_dsp_clamp clamp = mt_dsp_clamp_of(params->output_offset, params->act_min, params->act_max);
  int32_t acc_a[MT_DSP_CHUNK], acc_b[MT_DSP_CHUNK];
  for (int32_t b = 0; b < batches; b += 2) {
    const int8_t *row = &input[b * depth];
    int8_t *out = &output[b * out_depth];
    const int two_rows = b + 1 < batches;
    for (int32_t first = 0; first < out_depth; first += MT_DSP_CHUNK) {
      const int32_t end = out_depth - first < MT_DSP_CHUNK ? out_depth : first + MT_DSP_CHUNK;
      for (int32_t oc = first; oc < end; oc += 2) {
        const int32_t oc1 = oc + 1 < end ? oc + 1 : oc; /* an odd last output is computed twice, stored once */
        const int32_t bias0 = bias != NULL ? bias[oc] : 0, bias1 = bias != NULL ? bias[oc1] : 0;
        if (split != NULL) {
          const mt_dsp_acc_2x2 acc = split_2x2(split, depth, row, two_rows ? row + depth : NULL, oc, oc1, input_offset,
                                               (mt_dsp_acc_2x2){bias0, bias1, bias0, bias1});
          acc_a[oc - first] = acc.a0, acc_a[oc1 - first] = acc.a1;
          acc_b[oc - first] = acc.b0, acc_b[oc1 - first] = acc.b1;
          continue;
        }
        const int8_t *w0 = &filter[oc * depth], *w1 = &filter[oc1 * depth];
        if (two_rows) {
          const mt_dsp_acc_2x2 acc = mt_dsp_dot_2x2(row, row + depth, w0, w1, depth, input_offset, w_has_offset,
                                                    filter_offset, (mt_dsp_acc_2x2){bias0, bias1, bias0, bias1});
          acc_a[oc - first] = acc.a0, acc_a[oc1 - first] = acc.a1;
          acc_b[oc - first] = acc.b0, acc_b[oc1 - first] = acc.b1;
        } else {
          const mt_dsp_acc_1x2 acc = mt_dsp_dot_1x2(row, w0, w1, depth, input_offset, w_has_offset, filter_offset,
                                                    (mt_dsp_acc_1x2){bias0, bias1});
          acc_a[oc - first] = acc.a0, acc_a[oc1 - first] = acc.a1;
        }
      }
      mt_dsp_requantize_run(acc_a, two_rows ? acc_b : NULL, end - first, &output_mult[first], &output_shift[first],
                            rounding, clamp, &out[first], two_rows ? &out[out_depth + first] : NULL);
    }
  }
}

void mt_fully_connected_s8(const mt_fully_connected_params *params,
                           const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *output_mult, const int32_t *output_shift,
                           int8_t *output) {
  if (params->filter_offset != 0) {
    fully_connected(params, input, filter, NULL, bias, output_mult, output_shift, output, 1);
  } else {
    fully_connected(params, input, filter, NULL, bias, output_mult, output_shift, output, 0);
  }
}

/* Trained weights are symmetric (the lowering refuses a weight zero point there): filter_offset is 0. */
void mt_fully_connected_s8_split(const mt_fully_connected_params *params,
                                 const int8_t *input, const mt_split_filter *filter, const int32_t *bias,
                                 const int32_t *output_mult, const int32_t *output_shift,
                                 int8_t *output) {
  fully_connected(params, input, NULL, filter, bias, output_mult, output_shift, output, 0);
}
