/* Integer steps shared by the narrow-gradient kernels (train_narrow.h), for any storage width: a
 * float's value as significand and exponent, scaling by a power of two on the exponent bits, and
 * the quantization of one value at a given exponent. No libm; only integer operations on the bits. */
#ifndef MCUTRAIN_KERNELS_GRAD_NARROW_COMMON_H
#define MCUTRAIN_KERNELS_GRAD_NARROW_COMMON_H

#include <stdint.h>

#include "mcutrain/kernels/train_narrow.h"

typedef union {
  float f;
  uint32_t u;
} mt_gq_bits;

/* The biased exponent field of v (0: zero or subnormal, 255: infinity or NaN). */
MT_INLINE int32_t mt_gq_biased_exp(float v) {
  mt_gq_bits b;
  b.f = v;
  return (int32_t)((b.u >> 23) & 0xffu);
}

/* v * 2^k by exponent arithmetic: a result below 2^-126 is 0, one above the float range infinity
 * (with v's sign); zero, subnormal (as 0), infinity and NaN keep their class. */
MT_INLINE float mt_gq_scale_pow2(float v, int32_t k) {
  mt_gq_bits b;
  b.f = v;
  const int32_t e = (int32_t)((b.u >> 23) & 0xffu);
  if (e == 0) {
    b.u &= 0x80000000u;
    return b.f;
  }
  if (e == 255) return v;
  const int32_t scaled = e + k;
  if (scaled <= 0) b.u &= 0x80000000u;
  else if (scaled >= 255) b.u = (b.u & 0x80000000u) | 0x7f800000u;
  else b.u = (b.u & 0x807fffffu) | ((uint32_t)scaled << 23);
  return b.f;
}

/* The exponent a value v * 2^extra needs with `bits`-bit storage: floor(log2 |v * 2^extra|) - (bits - 2),
 * limited to [-127, 127]; MT_GRAD_EXP_ZERO for a value stored as 0 (zero, subnormal, NaN). */
MT_INLINE int32_t mt_gq_needed_exp(float v, int32_t extra, int32_t bits) {
  const int32_t e = mt_gq_biased_exp(v);
  if (e == 0 || v != v) return MT_GRAD_EXP_ZERO;
  const int32_t need = e - 127 + extra - (bits - 2);
  return need < -127 ? -127 : need > 127 ? 127 : need;
}

/* round_half_away(v * 2^(extra - exp)), |result| <= qmax, for an exp at least v's needed exponent (or
 * higher). NaN and subnormals give 0, infinities +-qmax. Integer work on the 24-bit significand. */
MT_INLINE int32_t mt_gq_quantize(float v, int32_t extra, int32_t exp, int32_t qmax) {
  mt_gq_bits b;
  b.f = v;
  const int32_t e = (int32_t)((b.u >> 23) & 0xffu);
  if (e == 0 || v != v) return 0;
  const int32_t negative = (b.u >> 31) != 0u;
  int32_t mag;
  if (e == 255) {
    mag = qmax;
  } else {
    /* |v| * 2^extra = m * 2^(e - 150 + extra); q = m * 2^(e - 150 + extra - exp) */
    const int32_t m = (int32_t)((b.u & 0x007fffffu) | 0x00800000u);
    const int32_t shift = exp + 150 - e - extra;
    if (shift >= 25) mag = 0; /* m < 2^24 is below half a step */
    else if (shift <= 0) mag = qmax; /* only when exp was limited to 127 */
    else mag = (m + (1 << (shift - 1))) >> shift;
    if (mag > qmax) mag = qmax;
  }
  return negative ? -mag : mag;
}

/* q / 2^k rounded half away from zero (k >= 1; the stored prefix when the exponent rises by k). */
MT_INLINE int32_t mt_gq_shift_down(int32_t q, int32_t k) {
  if (k >= 31) return 0;
  const int32_t mag = q < 0 ? -q : q;
  const int32_t r = (int32_t)(((int64_t)mag + ((int64_t)1 << (k - 1))) >> k);
  return q < 0 ? -r : r;
}

#endif /* MCUTRAIN_KERNELS_GRAD_NARROW_COMMON_H */
