/* Integer steps shared by the integer-only training kernels (train_int.h): bit lengths, rounding
 * shifts of int64 values, the quantization of an exact sum v * 2^x at a tensor exponent, the sum of
 * two such values, the step of an update and the xorshift32 generator. No float anywhere. */
#ifndef MCUTRAIN_KERNELS_GRAD_INT_COMMON_H
#define MCUTRAIN_KERNELS_GRAD_INT_COMMON_H

#include <stdint.h>

#include "mcutrain/kernels/train_int.h"
#include "mcutrain/quant.h"

/* Bits needed by a 32- or 64-bit magnitude (0 for 0): CLZ on the M3, libgcc's integer __clzsi2 on the M0+. */
MT_INLINE int32_t mt_gi_bitlen32(uint32_t x) { return x == 0u ? 0 : 32 - __builtin_clz(x); }
MT_INLINE int32_t mt_gi_bitlen64(uint64_t x) {
  const uint32_t hi = (uint32_t)(x >> 32);
  return hi != 0u ? 32 + mt_gi_bitlen32(hi) : mt_gi_bitlen32((uint32_t)x);
}

/* |v| for |v| < 2^63 (the kernels' sums never reach it). */
MT_INLINE uint64_t mt_gi_abs64(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

/* v / 2^k rounded half away from zero, k >= 0 (0 for k >= 64). */
MT_INLINE int64_t mt_gi_shift_round(int64_t v, int32_t k) {
  if (k <= 0) return v;
  if (k >= 64) return 0;
  const uint64_t mag = mt_gi_abs64(v);
  const uint64_t r = k == 63 ? (mag >= ((uint64_t)1 << 62) ? 1u : 0u) : (mag + ((uint64_t)1 << (k - 1))) >> k;
  return v < 0 ? -(int64_t)r : (int64_t)r;
}

/* v * 2^k for k >= 0 and |v| * 2^k < 2^63 (no shift of a negative value: that is undefined in C). */
MT_INLINE int64_t mt_gi_shift_up(int64_t v, int32_t k) { return v * ((int64_t)1 << k); }

/* The exponent the value v * 2^x needs with `bits`-bit storage: bitlen(|v|) - 1 + x - (bits - 2),
 * limited to [-127, 127]; MT_GRAD_EXP_ZERO for 0. */
MT_INLINE int32_t mt_gi_needed_exp(int64_t v, int32_t x, int32_t bits) {
  if (v == 0) return MT_GRAD_EXP_ZERO;
  const int32_t need = mt_gi_bitlen64(mt_gi_abs64(v)) - 1 + x - (bits - 2);
  return need < -127 ? -127 : need > 127 ? 127 : need;
}

/* round_half_away(v * 2^(x - exp)), |result| <= qmax, for an exp at least v's needed exponent. */
MT_INLINE int32_t mt_gi_quantize(int64_t v, int32_t x, int32_t exp, int32_t qmax) {
  const int32_t d = x - exp;
  int64_t q;
  if (d >= 0) {
    /* only an exponent limited to 127 leaves a value that does not fit */
    q = d >= 32 || mt_gi_abs64(v) > ((uint64_t)qmax >> d) ? (v < 0 ? -qmax : qmax) : mt_gi_shift_up(v, d);
  } else {
    q = mt_gi_shift_round(v, -d);
  }
  return (int32_t)(q > qmax ? qmax : q < -qmax ? -qmax : q);
}

/* a * 2^xa + b * 2^xb as one value v * 2^*x: at the smaller exponent when the larger-exponent term can
 * be shifted up to it within 62 bits, else at the lowest exponent that allows that (the other term
 * rounded half away). Either term may be 0. */
MT_INLINE int64_t mt_gi_add_aligned(int64_t a, int32_t xa, int64_t b, int32_t xb, int32_t *x) {
  if (a == 0) {
    *x = xb;
    return b;
  }
  if (b == 0) {
    *x = xa;
    return a;
  }
  if (xa < xb) { /* a: the term with the larger exponent */
    const int64_t t = a;
    a = b;
    b = t;
    const int32_t tx = xa;
    xa = xb;
    xb = tx;
  }
  const int32_t d = xa - xb;
  const int32_t room = 62 - mt_gi_bitlen64(mt_gi_abs64(a));
  if (d <= room) {
    *x = xb;
    return mt_gi_shift_up(a, d) + b;
  }
  *x = xb + (d - room);
  return mt_gi_shift_up(a, room) + mt_gi_shift_round(b, d - room);
}

/* log2(x) in Q16 for x > 0: the integer part from the bit length, 16 fraction bits by repeated
 * squaring of the mantissa in Q30 (each square truncated). */
MT_INLINE int32_t mt_gi_log2_q16(uint32_t x) {
  const int32_t ip = mt_gi_bitlen32(x) - 1;
  uint64_t y = ip >= 30 ? (uint64_t)(x >> (ip - 30)) : (uint64_t)x << (30 - ip); /* [2^30, 2^31) */
  int32_t frac = 0;
  for (int32_t b = 15; b >= 0; --b) {
    y = (y * y) >> 30;
    if (y >= ((uint64_t)1 << 31)) {
      y >>= 1;
      frac |= (int32_t)1 << b;
    }
  }
  return ip * 65536 + frac;
}

/* xorshift32 (Marsaglia): the next state, which is also the draw. */
MT_INLINE uint32_t mt_gi_xorshift32(uint32_t *state) {
  uint32_t s = *state;
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  *state = s;
  return s;
}

/* The largest step an update takes: any step beyond it saturates an int8 weight anyway, and a bias
 * step is limited to it before the saturating subtraction. */
#define MT_GI_MAX_STEP ((int64_t)1 << 30)

/* The integer step acc * 2^e * m * 2^(shift - 31) (m: the channel factor times lr, a Q31 multiplier),
 * rounded to nearest (halves away) or stochastically (floor of the step plus a uniform draw in
 * [0, 1) with 32 bits, one draw per call), limited to +-MT_GI_MAX_STEP. */
MT_INLINE int64_t mt_gi_step(int64_t acc, int32_t e, int32_t m, int32_t shift, mt_sgd_int *sgd) {
  const uint32_t draw = sgd->rounding == MT_ROUND_STOCHASTIC ? mt_gi_xorshift32(&sgd->rng) : 0u;
  if (acc == 0 || m == 0) return 0;
  /* acc to 31 bits first (exactly when it fits, the usual case), so that acc * m is one 32 x 32 -> 64 product */
  int32_t k = 0;
  if (acc > INT32_MAX || acc < -INT32_MAX) k = mt_gi_bitlen64(mt_gi_abs64(acc)) - 31;
  const int64_t p = (int64_t)(int32_t)(k == 0 ? acc : mt_gi_shift_round(acc, k)) * (int64_t)m; /* |p| < 2^62 */
  int32_t s = 31 - shift - e - k; /* step = p / 2^s */
  if (s <= 0) { /* a step of at least |p|: beyond 2^30 it saturates */
    if (mt_gi_bitlen64(mt_gi_abs64(p)) - s > 31) return p < 0 ? -MT_GI_MAX_STEP : MT_GI_MAX_STEP;
    const int64_t up = mt_gi_shift_up(p, -s);
    return up > MT_GI_MAX_STEP ? MT_GI_MAX_STEP : up < -MT_GI_MAX_STEP ? -MT_GI_MAX_STEP : up;
  }
  int64_t step;
  if (sgd->rounding != MT_ROUND_STOCHASTIC) {
    step = mt_gi_shift_round(p, s);
  } else {
    /* floor((p + u * 2^s) / 2^s) with u = draw / 2^32: s limited to 62 (p's low bits below that are
     * dropped first, toward -infinity), the draw aligned to the top of the s fraction bits */
    int64_t pp = p;
    if (s > 62) {
      pp = s - 62 >= 63 ? (p < 0 ? -1 : 0) : p >> (s - 62);
      s = 62;
    }
    const int64_t u = s >= 32 ? mt_gi_shift_up((int64_t)draw, s - 32) : (int64_t)(draw >> (32 - s));
    step = (pp + u) >> s; /* arithmetic shift: floor */
  }
  return step > MT_GI_MAX_STEP ? MT_GI_MAX_STEP : step < -MT_GI_MAX_STEP ? -MT_GI_MAX_STEP : step;
}

/* The channel's factor times lr as one Q31 multiplier and shift (both TFLite multipliers). */
MT_INLINE int32_t mt_gi_factor_times_lr(const mt_int_factors *f, int32_t c, const mt_sgd_int *sgd, int32_t *shift) {
  *shift = f->shift[c] + sgd->lr_shift;
  return mt_sat_rounding_doubling_high_mul(f->multiplier[c], sgd->lr_multiplier);
}

#endif /* MCUTRAIN_KERNELS_GRAD_INT_COMMON_H */
