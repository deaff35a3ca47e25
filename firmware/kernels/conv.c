/* CONV_2D int8: the arithmetic of TFLite's reference ConvPerChannel, with the rounding the lowering chose. */
#include "mcutrain/kernels/conv.h"

#include <stddef.h>

#include "mac_common.h"

void mt_conv_s8(const mt_conv_params *params,
                const mt_dims4 *input_dims, const int8_t *input,
                const mt_dims4 *filter_dims, const int8_t *filter,
                const int32_t *bias,
                const int32_t *output_mult, const int32_t *output_shift,
                const mt_dims4 *output_dims, int8_t *output) {
  const mt_weights w = {filter, NULL, NULL};
  mt_conv_loop(params, input_dims, input, filter_dims, w, bias, output_mult, output_shift, output_dims, output);
}

void mt_conv_s8_split(const mt_conv_params *params,
                      const mt_dims4 *input_dims, const int8_t *input,
                      const mt_dims4 *filter_dims, const mt_split_filter *filter,
                      const int32_t *bias,
                      const int32_t *output_mult, const int32_t *output_shift,
                      const mt_dims4 *output_dims, int8_t *output) {
  const mt_weights w = {NULL, NULL, filter};
  mt_conv_loop(params, input_dims, input, filter_dims, w, bias, output_mult, output_shift, output_dims, output);
}
