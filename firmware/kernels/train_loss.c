/* The loss of the training engine (softmax cross-entropy of int8 logits) with its own e^x and ln x,
 * and the two element-wise gradient steps (clamp mask, copy/accumulate). Float only: e^x and ln x are
 * built from + - * / and exponent bits, so the bits are the same on every target (no libm, whose
 * results differ between C libraries). */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "train_common.h"

/* A float's bits (C99 allows reading a union member other than the one last written). */
typedef union {
  float f;
  uint32_t u;
} f32_bits;

float mt_expf(float x) {
  if (x != x) return x; /* NaN */
  /* e^88 = 1.65e38 is finite; e^-87 = 1.6e-38 is still normal, so no subnormal ever appears */
  if (x > 88.0f) x = 88.0f;
  if (x < -87.0f) return 0.0f;
  /* x = k ln2 + r, |r| <= ln2/2 (a little more: k's rounding of x * log2(e) may be off by one ulp).
   * ln2 is split so that k * LN2_HI is exact (LN2_HI has 15 significant bits, |k| <= 127) and the
   * reduction loses nothing (Cody and Waite). */
  const float LN2_HI = 0.693145751953125f;      /* 0x3f317200 */
  const float LN2_LO = 1.42860682030941723e-6f; /* ln2 - LN2_HI */
  const int32_t k = mt_round_half_away_i32(x * 1.44269504088896341f);
  const float kf = (float)k;
  const float r = (x - kf * LN2_HI) - kf * LN2_LO;
  /* e^r by its Taylor series to r^7 (remainder < 6e-9 relative on |r| < 0.35), Horner from the
   * highest term; the 1 + r is added last so its rounding is the only large one. */
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r * r;
  const float er = 1.0f + (r + p);
  /* times 2^k, k in [-126, 127]: a normal power of two built from its exponent bits */
  f32_bits scale;
  scale.u = (uint32_t)(k + 127) << 23;
  return er * scale.f;
}

float mt_logf(float x) {
  if (x != x) return x; /* NaN */
  if (x <= 0.0f) return -1e30f;
  f32_bits b;
  b.f = x;
  if (b.u >= 0x7f800000u) return x; /* +infinity */
  int32_t e = 0;
  if (b.u < 0x00800000u) { /* subnormal: scale by 2^23 into the normal range */
    b.f = x * 8388608.0f;
    e = -23;
  }
  /* x = 2^e * m with m in [sqrt(1/2), sqrt(2)), so f = m - 1 is small and exact */
  e += (int32_t)(b.u >> 23) - 127;
  b.u = (b.u & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
  if (b.f > 1.41421356f) {
    b.u -= 0x00800000u; /* m / 2 */
    e += 1;
  }
  const float f = b.f - 1.0f;
  /* ln(1 + f) = 2 atanh(s) with s = f / (2 + f), |s| < 0.172: 2s + 2s^3/3 + 2s^5/5 + ..., written as
   * f - (f^2/2 - s (f^2/2 + R)) with R = 2s^2/3 + 2s^4/5 + ... (fdlibm's logf), so the exact f
   * carries the result and the rounded parts are only a correction. */
  const float s = f / (2.0f + f);
  const float z = s * s;
  float R = 2.0f / 11.0f;
  R = R * z + 2.0f / 9.0f;
  R = R * z + 2.0f / 7.0f;
  R = R * z + 2.0f / 5.0f;
  R = R * z + 2.0f / 3.0f;
  R = R * z;
  const float hfsq = 0.5f * f * f;
  /* e ln2 with ln2 split so that e * LN2_HI is exact (|e| <= 149) */
  const float LN2_HI = 6.9313812256e-01f; /* 0x3f317180 */
  const float LN2_LO = 9.0580006145e-06f; /* 0x3717f7d1 */
  const float ef = (float)e;
  return ef * LN2_HI - ((hfsq - (s * (hfsq + R) + ef * LN2_LO)) - f);
}

/* Summation order: the exponentials are added in index order. Each e^(z_i - z_max) is computed from
 * the integer difference q_i - q_max (exact) times the scale, so the largest term is exactly 1 and
 * nothing overflows. loss = ln(sum) - (z_label - z_max); grad_i = e_i / sum - [i == label]. */
float mt_softmax_xent_s8(const int8_t *logits, int32_t n, float scale, int32_t zero_point,
                         int32_t label, float *grad, int32_t *predicted) {
  (void)zero_point; /* cancels: only differences of logits matter */
  if (n <= 0) {
    if (predicted != NULL) *predicted = -1;
    return 0.0f;
  }
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  if (predicted != NULL) *predicted = best;
  const int32_t q_max = logits[best];
  float sum = 0.0f;
  for (int32_t i = 0; i < n; ++i) {
    const float e = mt_expf(scale * (float)(logits[i] - q_max));
    if (grad != NULL) grad[i] = e;
    sum += e;
  }
  if (grad != NULL) {
    for (int32_t i = 0; i < n; ++i) grad[i] = grad[i] / sum;
  }
  /* a label outside [0, n) has no loss (-1, impossible for a real one) and no one-hot term */
  if (label < 0 || label >= n) return -1.0f;
  if (grad != NULL) grad[label] = grad[label] - 1.0f;
  return mt_logf(sum) - scale * (float)(logits[label] - q_max);
}

void mt_clamp_mask_f32(const int8_t *out, float *grad, int32_t n, int32_t act_min, int32_t act_max) {
  for (int32_t i = 0; i < n; ++i) {
    if (out[i] <= act_min || out[i] >= act_max) grad[i] = 0.0f;
  }
}

void mt_clamp_mask_projected_f32(const int8_t *out, float *grad, int32_t n, int32_t act_min, int32_t act_max) {
  for (int32_t i = 0; i < n; ++i) {
    if ((out[i] <= act_min && grad[i] > 0.0f) || (out[i] >= act_max && grad[i] < 0.0f)) grad[i] = 0.0f;
  }
}

void mt_grad_copy_f32(const float *src, float *dst, int32_t n, int32_t accumulate) {
  if (accumulate) {
    for (int32_t i = 0; i < n; ++i) dst[i] = dst[i] + src[i];
  } else if (src != dst) {
    for (int32_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}
