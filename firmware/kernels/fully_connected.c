/* FULLY_CONNECTED int8: the arithmetic of TFLite's reference FullyConnected, with the rounding the lowering chose. */
#include "mcutrain/kernels/fully_connected.h"

#include <stddef.h>

#include "mac_common.h"

void mt_fully_connected_s8(const mt_fully_connected_params *params,
                           const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *output_mult, const int32_t *output_shift,
                           int8_t *output) {
  const mt_weights w = {filter, NULL, NULL};
  mt_fully_connected_loop(params, input, w, bias, output_mult, output_shift, output);
}

void mt_fully_connected_s8_split(const mt_fully_connected_params *params,
                                 const int8_t *input, const mt_split_filter *filter, const int32_t *bias,
                                 const int32_t *output_mult, const int32_t *output_shift,
                                 int8_t *output) {
  const mt_weights w = {NULL, NULL, filter};
  mt_fully_connected_loop(params, input, w, bias, output_mult, output_shift, output);
}
