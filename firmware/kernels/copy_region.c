/* Window copies for patch-based execution: one memcpy per row of the window (w * c contiguous bytes). */
#include "mcutrain/kernels/copy_region.h"

#include <string.h>

void mt_copy_region_s8(const int8_t *src, const mt_dims4 *src_dims, int32_t src_y, int32_t src_x,
                       int8_t *dst, const mt_dims4 *dst_dims, int32_t dst_y, int32_t dst_x, int32_t h, int32_t w) {
  const int32_t c = src_dims->c;
  for (int32_t n = 0; n < src_dims->n; ++n) {
    for (int32_t y = 0; y < h; ++y) {
      memcpy(dst + mt_offset4(dst_dims, n, dst_y + y, dst_x, 0), src + mt_offset4(src_dims, n, src_y + y, src_x, 0), (size_t)(w * c));
    }
  }
}

void mt_copy_channels_s8(const int8_t *src, int32_t pixels, int32_t depth, int32_t channels, int8_t *dst) {
  for (int32_t p = 0; p < pixels; ++p) memcpy(dst + p * channels, src + p * depth, (size_t)channels);
}
