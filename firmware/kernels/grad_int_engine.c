/* The integer-only engine's float boundary (train_int_engine.h). */
#include <stdint.h>
#include <string.h>

#include "mcutrain/kernels/train_int_engine.h"

void mt_sgd_int_set_lr(mt_sgd_int *sgd, const float *lr) {
  uint32_t bits;
  memcpy(&bits, lr, sizeof bits);
  const int32_t e = (int32_t)((bits >> 23) & 0xFFu);
  const int32_t shift = e - 126;
  if (e == 0 || e == 0xFF || (bits >> 31) != 0u || shift < -31) { /* 0, subnormal, inf/NaN, negative (the link refuses those) */
    sgd->lr_multiplier = 0;
    sgd->lr_shift = 0;
    return;
  }
  sgd->lr_multiplier = (int32_t)(((bits & 0x7FFFFFu) | 0x800000u) << 7);
  sgd->lr_shift = shift;
}

float mt_loss_from_q16(int32_t q16) {
  uint32_t bits = 0u;
  if (q16 != 0) {
    const uint32_t sign = q16 < 0 ? 0x80000000u : 0u;
    uint32_t mag = q16 < 0 ? (uint32_t)0 - (uint32_t)q16 : (uint32_t)q16;
    const int32_t n = 32 - __builtin_clz(mag); /* value = mag * 2^-16, with n significant bits */
    int32_t e = n - 1 - 16;
    uint32_t m;
    if (n <= 24) {
      m = mag << (24 - n);
    } else {
      const int32_t k = n - 24;
      const uint32_t rem = mag & ((1u << k) - 1u), half = 1u << (k - 1);
      m = mag >> k;
      if (rem > half || (rem == half && (m & 1u) != 0u)) m++;
      if (m == (1u << 24)) {
        m >>= 1;
        e++;
      }
    }
    bits = sign | ((uint32_t)(e + 127) << 23) | (m & 0x7FFFFFu);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
