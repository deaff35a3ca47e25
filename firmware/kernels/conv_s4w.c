/* CONV_2D with int4 weights (TFLite's INT4, packed two per byte), unpacked on the fly: otherwise the
 * arithmetic of conv.c. Portable only, in its own file so that DSP builds keep it (mac_common.h). */
#include "mcutrain/kernels/conv.h"

#include <stddef.h>

#include "mac_common.h"

void mt_conv_s4w(const mt_conv_params *params,
                 const mt_dims4 *input_dims, const int8_t *input,
                 const mt_dims4 *filter_dims, const uint8_t *filter,
                 const int32_t *bias,
                 const int32_t *output_mult, const int32_t *output_shift,
                 const mt_dims4 *output_dims, int8_t *output) {
  const mt_weights w = {NULL, filter, NULL};
  mt_conv_loop(params, input_dims, input, filter_dims, w, bias, output_mult, output_shift, output_dims, output);
}
