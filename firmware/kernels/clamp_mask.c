/* 1-bit clamp masks of the training engine (train.h): the forward pass packs, for each clamped output
 * the backward pass needs, one bit per element, so the int8 output itself can be freed; the backward
 * pass zeroes the gradient where the bit is 0. Integer only: the same bits on every target. */
#include <stdint.h>

#include "mcutrain/kernels/train.h"

void mt_clamp_mask_pack_s8(const int8_t *out, uint8_t *bits, int32_t n, int32_t act_min, int32_t act_max) {
  for (int32_t byte = 0; byte < (n + 7) / 8; ++byte) {
    const int32_t first = 8 * byte;
    const int32_t count = n - first < 8 ? n - first : 8;
    uint32_t packed = 0;
    for (int32_t k = 0; k < count; ++k) {
      const int32_t v = out[first + k];
      if (v > act_min && v < act_max) packed |= 1u << k;
    }
    bits[byte] = (uint8_t)packed;
  }
}

void mt_mask_apply_f32(const uint8_t *bits, float *grad, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (((bits[i >> 3] >> (i & 7)) & 1u) == 0) grad[i] = 0.0f;
  }
}
