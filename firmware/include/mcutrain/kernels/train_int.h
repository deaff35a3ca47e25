/* Integer-only training kernels (issue 12): the backward and update steps of a sparse update for
 * cores without an FPU (Cortex-M0+/M3), with no float anywhere, so no soft-float call either.
 *
 * Gradients are stored exactly as train_narrow.h stores them (one storage design serves both):
 *   real = q * 2^e      (q int16 or int8, e in [-127, 127] in the model's int8_t exponent table;
 *                        MT_GRAD_EXP_ZERO: every q is 0)
 * and written by the same single-pass rule: each element quantized once its value is final, the
 * exponent raised (the stored prefix renormalized, round half away) when a value does not fit. The
 * difference is the value itself: an exact integer sum v (int64) with a known exponent x, real =
 * v * 2^x, where the narrow kernels carry a float. The sums are exact, so their order does not matter
 * (test/kernels/grad_int_reference.ts mirrors the kernels with BigInt).
 *
 * Fixed-point formats (chosen at compile time; the lowering computes them from the float scales):
 *  - per-channel scales (the filter's s_W[oc], for input gradients): mt_int_scales, s = q[oc] *
 *    2^exp with one exponent for the tensor and q < 2^24 (the largest scale holds 24 bits, one 2^-8
 *    smaller 16): products g * w * q are below 2^46 and sum exactly in int64 over 2^17 terms.
 *  - per-channel update factors (input scale times the QAS factor 1/s_W[c], or s_W[c] without QAS;
 *    1/(s_W s_x) for biases) and the learning rate: TFLite's multiplier + shift, real = m * 2^(shift - 31)
 *    with m in [2^30, 2^31) (m = 0: zero).
 *  - the loss: int32 Q16 (real = raw / 2^16); its gradient from TFLite Micro's integer softmax
 *    (gemmlowp exp in Q5.26 -> Q0, the sum in Q12, the reciprocal; mt_softmax_params as the SOFTMAX
 *    lowering computes them), so the probabilities are the SOFTMAX kernel's before its final rounding
 *    to 8 bits.
 * Updates round the step lr * g (in units of the int8 weight, or of the int32 bias) to an integer:
 * to nearest (halves away from zero) or stochastically (floor(step + u), u uniform in [0, 1) from a
 * xorshift32 whose state lives in mt_sgd_int; one draw per updated parameter, in loop order), so that
 * E[step] = lr * g and steps below half a weight step still move some weights. No momentum here. */
#ifndef MCUTRAIN_KERNELS_TRAIN_INT_H
#define MCUTRAIN_KERNELS_TRAIN_INT_H

#include <stdint.h>

#include "mcutrain/kernels/common.h"
#include "mcutrain/kernels/conv.h"
#include "mcutrain/kernels/depthwise_conv.h"
#include "mcutrain/kernels/pooling.h"
#include "mcutrain/kernels/softmax.h"

#ifndef MT_GRAD_EXP_ZERO
#define MT_GRAD_EXP_ZERO (-128) /* as train_narrow.h, which this header leaves out: it declares float kernels */
#endif

/* Per-channel scales in fixed point: scale[c] = q[c] * 2^exp, 0 <= q[c] < 2^24. */
typedef struct {
  const int32_t *q;
  int32_t exp;
} mt_int_scales;

/* Per-channel factors as TFLite multipliers: factor[c] = multiplier[c] * 2^(shift[c] - 31). */
typedef struct {
  const int32_t *multiplier;
  const int32_t *shift;
} mt_int_factors;

#define MT_ROUND_NEAREST 0
#define MT_ROUND_STOCHASTIC 1

/* SGD of the integer engine: lr = lr_multiplier * 2^(lr_shift - 31); rng: xorshift32 state (never 0). */
typedef struct {
  int32_t lr_multiplier;
  int32_t lr_shift;
  int32_t rounding; /* MT_ROUND_NEAREST or MT_ROUND_STOCHASTIC */
  uint32_t rng;
} mt_sgd_int;

/* The kernels of one gradient type T (int16_t / int8_t), suffix S (i16 / i8). */
#define MT_GRAD_INT_KERNELS(T, S)                                                                            \
  /* Loss (Q16) and dL/dlogits = softmax - onehot(label) of one row of params->depth int8 logits, with  \
   * the SOFTMAX kernel's parameters for their scale and beta 1 (rows unused) (grad may be NULL: the     \
   * loss only). A label outside [0, depth) returns -65536 (-1.0) and the softmax as the gradient;       \
   * depth <= 0 returns 0. */                                                                           \
  int32_t mt_softmax_xent_s8_grad_##S(const int8_t *logits, const mt_softmax_params *params, int32_t label, \
                                      T *grad, int8_t *grad_exp, int32_t *predicted);                      \
  /* dst = src, or dst += src (accumulate; ADD's and a fan-out's gradient), exactly aligned. */           \
  void mt_grad_copy_##S(const T *src, const int8_t *src_exp, T *dst, int8_t *dst_exp, int32_t n,            \
                        int32_t accumulate);                                                               \
  void mt_conv_grad_input_##S(const mt_conv_params *params, const mt_dims4 *input_dims,                    \
                              const mt_dims4 *filter_dims, const int8_t *filter,                           \
                              const mt_int_scales *filter_scale, const mt_dims4 *output_dims,              \
                              const T *grad_out, const int8_t *grad_out_exp, T *grad_in, int8_t *grad_in_exp, \
                              int32_t accumulate);                                                         \
  /* Conv and FC with the weights split between SRAM and Flash (common.h): the same bits. */              \
  void mt_conv_grad_input_split_##S(const mt_conv_params *params, const mt_dims4 *input_dims,              \
                                    const mt_dims4 *filter_dims, const mt_split_filter *filter,            \
                                    const mt_int_scales *filter_scale, const mt_dims4 *output_dims,        \
                                    const T *grad_out, const int8_t *grad_out_exp, T *grad_in,             \
                                    int8_t *grad_in_exp, int32_t accumulate);                              \
  void mt_fully_connected_grad_input_split_##S(int32_t batches, int32_t accum_depth, int32_t out_depth,    \
                                               const mt_split_filter *weights,                             \
                                               const mt_int_scales *weight_scale, const T *grad_out,       \
                                               const int8_t *grad_out_exp, T *grad_in, int8_t *grad_in_exp, \
                                               int32_t accumulate);                                        \
  /* Depthwise: filters up to 16x16 (a larger one leaves grad_in untouched; the lowering refuses it). */ \
  void mt_depthwise_conv_grad_input_##S(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims, \
                                        const mt_dims4 *filter_dims, const int8_t *filter,                 \
                                        const mt_int_scales *filter_scale, const mt_dims4 *output_dims,    \
                                        const T *grad_out, const int8_t *grad_out_exp, T *grad_in,         \
                                        int8_t *grad_in_exp, int32_t accumulate);                          \
  /* In place (as mt_depthwise_conv_grad_input_inplace_f32 in train.h): grad_in == grad_out, never      \
   * accumulating; ring holds max(0, (filter_h - 1) * dilation_h - pad_h) + 1 rows of the output gradient. */ \
  void mt_depthwise_conv_grad_input_inplace_##S(const mt_depthwise_conv_params *params,                     \
                                                const mt_dims4 *input_dims, const mt_dims4 *filter_dims,    \
                                                const int8_t *filter, const mt_int_scales *filter_scale,    \
                                                const mt_dims4 *output_dims, T *grad_out,                   \
                                                const int8_t *grad_out_exp, T *grad_in, int8_t *grad_in_exp, \
                                                T *ring);                                                   \
  void mt_fully_connected_grad_input_##S(int32_t batches, int32_t accum_depth, int32_t out_depth,          \
                                         const int8_t *weights, const mt_int_scales *weight_scale,         \
                                         const T *grad_out, const int8_t *grad_out_exp, T *grad_in,        \
                                         int8_t *grad_in_exp, int32_t accumulate);                         \
  /* AVERAGE_POOL_2D and MEAN: each share g / count as g * round(2^24 / count) at exponent e - 24. */    \
  void mt_avg_pool_grad_##S(const mt_pooling_params *params, const mt_dims4 *input_dims,                   \
                            const mt_dims4 *output_dims, const T *grad_out, const int8_t *grad_out_exp,    \
                            T *grad_in, int8_t *grad_in_exp, int32_t accumulate);                          \
  void mt_mean_hw_grad_##S(const mt_dims4 *input_dims, const T *grad_out, const int8_t *grad_out_exp,      \
                           T *grad_in, int8_t *grad_in_exp, int32_t accumulate);                           \
  /* PAD: the output gradient with the padding cropped away; pad_before = {n, h, w, c} leading pads. */   \
  void mt_pad_grad_##S(const mt_dims4 *input_dims, const mt_dims4 *output_dims, const int32_t pad_before[4], \
                       const T *grad_out, const int8_t *grad_out_exp, T *grad_in, int8_t *grad_in_exp,     \
                       int32_t accumulate);                                                                \
  /* Updates: acc = the exact sum (int64) of g_q (bias) or g_q * (q_in + input_offset) (weights, the   \
   * float kernels' sums); step = acc * 2^e * factor[c] * lr, rounded as sgd->rounding says;             \
   * w = clamp(w - step, -127, 127), b = saturate(b - step). */                                          \
  void mt_bias_update_s32_##S(const mt_dims4 *output_dims, const T *grad_out, const int8_t *grad_out_exp,  \
                              int32_t *bias, const mt_int_factors *factor, int32_t n_channels,             \
                              mt_sgd_int *sgd);                                                            \
  void mt_conv_update_weights_s8_##S(const mt_conv_params *params, const mt_dims4 *input_dims,             \
                                     const int8_t *input, const mt_dims4 *filter_dims, int8_t *filter,     \
                                     const mt_int_factors *factor, int32_t n_channels,                     \
                                     const mt_dims4 *output_dims, const T *grad_out,                       \
                                     const int8_t *grad_out_exp, mt_sgd_int *sgd);                         \
  void mt_depthwise_conv_update_weights_s8_##S(const mt_depthwise_conv_params *params,                     \
                                               const mt_dims4 *input_dims, const int8_t *input,            \
                                               const mt_dims4 *filter_dims, int8_t *filter,                \
                                               const mt_int_factors *factor, int32_t n_channels,           \
                                               const mt_dims4 *output_dims, const T *grad_out,             \
                                               const int8_t *grad_out_exp, mt_sgd_int *sgd);               \
  void mt_fully_connected_update_weights_s8_##S(int32_t batches, int32_t accum_depth, int32_t out_depth,   \
                                                const int8_t *input, int32_t input_offset, int8_t *weights, \
                                                const mt_int_factors *factor, int32_t n_channels,          \
                                                const T *grad_out, const int8_t *grad_out_exp,             \
                                                mt_sgd_int *sgd);

MT_GRAD_INT_KERNELS(int16_t, i16)
MT_GRAD_INT_KERNELS(int8_t, i8)

/* Masks need no kernel of their own: mt_mask_apply_s16/_s8 and mt_clamp_mask_projected_s16/_s8
 * (train_narrow.h) are integer code already. */

#endif /* MCUTRAIN_KERNELS_TRAIN_INT_H */
