/* FULLY_CONNECTED with int4 weights (TFLite's INT4, packed two per byte), unpacked on the fly:
 * otherwise the arithmetic of fully_connected.c. Portable only, in its own file so that DSP builds
 * keep it (mac_common.h). */
#include "mcutrain/kernels/fully_connected.h"

#include <stddef.h>

#include "mac_common.h"

void mt_fully_connected_s4w(const mt_fully_connected_params *params,
                            const int8_t *input, const uint8_t *filter, const int32_t *bias,
                            const int32_t *output_mult, const int32_t *output_shift,
                            int8_t *output) {
  const mt_weights w = {NULL, filter, NULL};
  mt_fully_connected_loop(params, input, w, bias, output_mult, output_shift, output);
}
