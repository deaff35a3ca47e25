/* DEPTHWISE_CONV_2D int8: the arithmetic of TFLite's reference DepthwiseConvPerChannel. */
#include "mcutrain/kernels/depthwise_conv.h"

#include <stddef.h>

#include "mac_common.h"

void mt_depthwise_conv_s8(const mt_depthwise_conv_params *params,
                          const mt_dims4 *input_dims, const int8_t *input,
                          const mt_dims4 *filter_dims, const int8_t *filter,
                          const int32_t *bias,
                          const int32_t *output_mult, const int32_t *output_shift,
                          const mt_dims4 *output_dims, int8_t *output) {
  const mt_weights w = {filter, NULL, NULL};
  mt_depthwise_conv_loop(params, input_dims, input, filter_dims, w, bias, output_mult, output_shift, output_dims,
                         output);
}
