/* Steps shared by the training kernels (train_loss.c, *_backward.c, bias_update.c): float-to-integer
 * rounding and the SGD step of an int8 weight or an int32 bias. Float only, no libm, every operation
 * a single IEEE one (the build forbids contraction), so the same bits come out on every target. */
#ifndef MCUTRAIN_KERNELS_TRAIN_COMMON_H
#define MCUTRAIN_KERNELS_TRAIN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train.h"

/* x rounded to nearest with halves away from zero, for |x| < 2^31. The truncation and the
 * fraction x - trunc(x) are both exact in float, so no tie is ever misjudged (adding 0.5f first
 * would round 0.49999997f up). */
MT_INLINE int32_t mt_round_half_away_i32(float x) {
  const int32_t t = (int32_t)x;
  const float frac = x - (float)t;
  if (frac >= 0.5f) return t + 1;
  if (frac <= -0.5f) return t - 1;
  return t;
}

/* The momentum buffer to use, or NULL for plain SGD (momentum 0, or no buffer given). */
MT_INLINE float *mt_sgd_momentum(const mt_sgd *sgd, float *momentum) {
  return sgd->momentum != 0.0f ? momentum : NULL;
}

/* The direction of the step for gradient g: g itself, or with momentum m = momentum * m + g
 * (stored back) when m is not NULL. */
MT_INLINE float mt_sgd_direction(const mt_sgd *sgd, float *m, float g) {
  if (m == NULL) return g;
  const float decayed = sgd->momentum * *m;
  *m = decayed + g;
  return *m;
}

/* w - lr * d, rounded half away from zero, clamped to [-127, 127] (-128 stays unused, as in
 * TFLite's symmetric weights). A NaN step (a diverged gradient) leaves the weight as it was. */
MT_INLINE int8_t mt_sgd_step_s8(int8_t w, float lr, float d) {
  const float delta = lr * d;
  float v = (float)w - delta;
  if (v != v) return w;
  /* anything beyond +-128 clamps to +-127 either way; limiting first keeps the conversion defined */
  if (v > 128.0f) v = 128.0f;
  if (v < -128.0f) v = -128.0f;
  return (int8_t)mt_clamp_i32(mt_round_half_away_i32(v), -127, 127);
}

/* b - round_half_away(lr * d), saturating in int32. The rounded step is limited to +-2^30 first
 * (larger steps saturate anyway, and the conversion stays defined); NaN leaves the bias as it was. */
MT_INLINE int32_t mt_sgd_step_s32(int32_t b, float lr, float d) {
  float delta = lr * d;
  if (delta != delta) return b;
  if (delta > 1073741824.0f) delta = 1073741824.0f;
  if (delta < -1073741824.0f) delta = -1073741824.0f;
  const int64_t v = (int64_t)b - mt_round_half_away_i32(delta);
  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* One trained parameter: its gradient g, the momentum entry m (NULL without momentum), the step. */
MT_INLINE int8_t mt_sgd_update_s8(const mt_sgd *sgd, float *m, int8_t w, float g) {
  return mt_sgd_step_s8(w, sgd->lr, mt_sgd_direction(sgd, m, g));
}

MT_INLINE int32_t mt_sgd_update_s32(const mt_sgd *sgd, float *m, int32_t b, float g) {
  return mt_sgd_step_s32(b, sgd->lr, mt_sgd_direction(sgd, m, g));
}

/* grad_in zeroed when the kernel writes rather than adds: every input-gradient kernel scatters its
 * terms onto grad_in one by one, in its forward loop order. */
MT_INLINE void mt_grad_prepare_f32(float *grad_in, int32_t n, int32_t accumulate) {
  if (accumulate) return;
  for (int32_t i = 0; i < n; ++i) grad_in[i] = 0.0f;
}

/* The window of a convolution as its weight gradient reads it (conv and depthwise share it). */
typedef struct {
  int32_t stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, input_offset;
} mt_tap_window;

/* The weight gradient of one filter tap (fy, fx) from input channel ic to output channel oc, before
 * the input scale: the sum over (n, out_y, out_x), in that order, of grad_out[.., oc] * (q_in[.., ic]
 * + input_offset), skipping padding taps. Summation order is part of the kernels' contract. */
MT_INLINE float mt_tap_gradient(const mt_tap_window *p, const mt_dims4 *in_d, const int8_t *input,
                                const mt_dims4 *out_d, const float *grad_out, int32_t fy, int32_t fx,
                                int32_t ic, int32_t oc) {
  float acc = 0.0f;
  for (int32_t n = 0; n < out_d->n; ++n) {
    for (int32_t out_y = 0; out_y < out_d->h; ++out_y) {
      const int32_t in_y = out_y * p->stride_h - p->pad_h + fy * p->dilation_h;
      if (in_y < 0 || in_y >= in_d->h) continue;
      for (int32_t out_x = 0; out_x < out_d->w; ++out_x) {
        const int32_t in_x = out_x * p->stride_w - p->pad_w + fx * p->dilation_w;
        if (in_x < 0 || in_x >= in_d->w) continue;
        const float x = (float)((int32_t)input[mt_offset4(in_d, n, in_y, in_x, ic)] + p->input_offset);
        acc = acc + grad_out[mt_offset4(out_d, n, out_y, out_x, oc)] * x;
      }
    }
  }
  return acc;
}

#endif /* MCUTRAIN_KERNELS_TRAIN_COMMON_H */
