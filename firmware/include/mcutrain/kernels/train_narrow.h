/* Narrow gradient storage (`--grad i16|i8`): the training kernels of train.h with every gradient
 * tensor stored as int16 or int8 with one power-of-two exponent per tensor, chosen at run time:
 *   real = q * 2^e      (q int16 or int8, e in [-127, 127]; MT_GRAD_EXP_ZERO: every q is 0)
 * The exponents live in the model's static table of int8_t (one entry per gradient tensor, aliased
 * gradients share theirs); a kernel reads its grad_out's entry on entry and writes its grad_in's.
 *
 * Storage rule: each element is quantized once its value is final (sums are carried in float, no
 * partial sum is ever stored narrow), so the input-gradient kernels gather (each grad_in element
 * computed whole, in memory order) rather than scatter. The exponent is chosen in the same single
 * pass: e starts at MT_GRAD_EXP_ZERO and each value that does not fit raises it to the value's own
 * (floor(log2 |v|) - (bits - 2): 16384 <= |q| <= 32767 for int16, 64 <= |q| <= 127 for int8) and
 * first renormalizes the elements already stored (q = round_half_away(q / 2^k)). Quantization is
 * integer work on the float's bits (round half away from zero from the 24-bit significand), exact
 * and libm-free; |q| is saturated at 32767 / 127 (a value that rounds up to 2^15 / 2^7).
 * Floats below 2^-126 (subnormal) count as 0; values below half a step of the exponent become 0.
 *
 * The orders of the float sums are part of the contract, as in train.h; test/kernels/
 * grad_narrow_reference.ts mirrors them bit for bit. Suffixes: _s16 / _s8 for the gradient kernels,
 * _g16 / _g8 for the updates (the parameter keeps its own type in the name). */
#ifndef MCUTRAIN_KERNELS_TRAIN_NARROW_H
#define MCUTRAIN_KERNELS_TRAIN_NARROW_H

#include <stdint.h>

#include "mcutrain/kernels/train.h"

#define MT_GRAD_EXP_ZERO (-128)

/* The kernels of one gradient type T (int16_t or int8_t) with suffixes S (gradient) and G (update). */
#define MT_GRAD_NARROW_KERNELS(T, S, G)                                                                      \
  /* Loss and dL/dlogits (grad may be NULL: the loss only; mt_softmax_xent_s8's float values, quantized). */ \
  float mt_softmax_xent_s8_grad_##S(const int8_t *logits, int32_t n, float scale, int32_t zero_point,      \
                                    int32_t label, T *grad, int8_t *grad_exp, int32_t *predicted);         \
  void mt_clamp_mask_##S(const int8_t *out, T *grad, int32_t n, int32_t act_min, int32_t act_max);         \
  void mt_clamp_mask_projected_##S(const int8_t *out, T *grad, int32_t n, int32_t act_min, int32_t act_max); \
  /* bit i (bit i & 7 of byte i >> 3) 0: grad[i] = 0 (1: the gradient passes). The exponent stays. */     \
  void mt_mask_apply_##S(const uint8_t *bits, T *grad, int32_t n);                                         \
  void mt_grad_copy_##S(const T *src, const int8_t *src_exp, T *dst, int8_t *dst_exp, int32_t n,           \
                        int32_t accumulate);                                                               \
  void mt_conv_grad_input_##S(const mt_conv_params *params, const mt_dims4 *input_dims,                    \
                              const mt_dims4 *filter_dims, const int8_t *filter, const float *filter_scale, \
                              const mt_dims4 *output_dims, const T *grad_out, const int8_t *grad_out_exp,  \
                              T *grad_in, int8_t *grad_in_exp, int32_t accumulate);                        \
  /* The same two with the weights split between SRAM and Flash (common.h): the same bits. */               \
  void mt_conv_grad_input_split_##S(const mt_conv_params *params, const mt_dims4 *input_dims,              \
                                    const mt_dims4 *filter_dims, const mt_split_filter *filter,            \
                                    const float *filter_scale, const mt_dims4 *output_dims,                \
                                    const T *grad_out, const int8_t *grad_out_exp, T *grad_in,             \
                                    int8_t *grad_in_exp, int32_t accumulate);                              \
  void mt_fully_connected_grad_input_split_##S(int32_t batches, int32_t accum_depth, int32_t out_depth,    \
                                               const mt_split_filter *weights, const float *weight_scale,  \
                                               const T *grad_out, const int8_t *grad_out_exp, T *grad_in,  \
                                               int8_t *grad_in_exp, int32_t accumulate);                   \
  void mt_depthwise_conv_grad_input_##S(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims, \
                                        const mt_dims4 *filter_dims, const int8_t *filter,                 \
                                        const float *filter_scale, const mt_dims4 *output_dims,            \
                                        const T *grad_out, const int8_t *grad_out_exp, T *grad_in,         \
                                        int8_t *grad_in_exp, int32_t accumulate);                          \
  void mt_depthwise_conv_grad_input_inplace_##S(const mt_depthwise_conv_params *params,                     \
                                                const mt_dims4 *input_dims, const mt_dims4 *filter_dims,    \
                                                const int8_t *filter, const float *filter_scale,            \
                                                const mt_dims4 *output_dims, T *grad_out,                   \
                                                const int8_t *grad_out_exp, T *grad_in, int8_t *grad_in_exp, \
                                                T *ring);                                                   \
  void mt_fully_connected_grad_input_##S(int32_t batches, int32_t accum_depth, int32_t out_depth,          \
                                         const int8_t *weights, const float *weight_scale, const T *grad_out, \
                                         const int8_t *grad_out_exp, T *grad_in, int8_t *grad_in_exp,      \
                                         int32_t accumulate);                                              \
  void mt_avg_pool_grad_##S(const mt_pooling_params *params, const mt_dims4 *input_dims,                   \
                            const mt_dims4 *output_dims, const T *grad_out, const int8_t *grad_out_exp,    \
                            T *grad_in, int8_t *grad_in_exp, int32_t accumulate);                          \
  void mt_mean_hw_grad_##S(const mt_dims4 *input_dims, const T *grad_out, const int8_t *grad_out_exp,      \
                           T *grad_in, int8_t *grad_in_exp, int32_t accumulate);                           \
  void mt_pad_grad_##S(const mt_dims4 *input_dims, const mt_dims4 *output_dims, const int32_t pad_before[4], \
                       const T *grad_out, const int8_t *grad_out_exp, T *grad_in, int8_t *grad_in_exp,     \
                       int32_t accumulate);                                                                \
  void mt_bias_update_s32_##G(const mt_dims4 *output_dims, const T *grad_out, const int8_t *grad_out_exp,  \
                              int32_t *bias, const float *grad_factor, int32_t n_channels, const mt_sgd *sgd, \
                              float *momentum);                                                            \
  void mt_conv_update_weights_s8_##G(const mt_conv_params *params, const mt_dims4 *input_dims,             \
                                     const int8_t *input, float input_scale, const mt_dims4 *filter_dims,  \
                                     int8_t *filter, const float *grad_factor, int32_t n_channels,         \
                                     const mt_dims4 *output_dims, const T *grad_out,                       \
                                     const int8_t *grad_out_exp, const mt_sgd *sgd, float *momentum);      \
  void mt_depthwise_conv_update_weights_s8_##G(const mt_depthwise_conv_params *params,                     \
                                               const mt_dims4 *input_dims, const int8_t *input,            \
                                               float input_scale, const mt_dims4 *filter_dims,             \
                                               int8_t *filter, const float *grad_factor, int32_t n_channels, \
                                               const mt_dims4 *output_dims, const T *grad_out,             \
                                               const int8_t *grad_out_exp, const mt_sgd *sgd,              \
                                               float *momentum);                                           \
  void mt_fully_connected_update_weights_s8_##G(int32_t batches, int32_t accum_depth, int32_t out_depth,   \
                                                const int8_t *input, float input_scale,                    \
                                                int32_t input_offset, int8_t *weights,                     \
                                                const float *grad_factor, int32_t n_channels,              \
                                                const T *grad_out, const int8_t *grad_out_exp,             \
                                                const mt_sgd *sgd, float *momentum);

/* The kernels, as the macro above spells them for int16 and int8 gradients:
 *
 * Input gradients (the float32 kernels' maths, each grad_in element gathered whole, in memory order):
 *   conv:      for (fy, fx) of the taps that read it, for oc:      acc += (float)(g_q * w) * filter_scale[oc]
 *   depthwise: for (fy, fx) of the taps that read it, for m < dm:  the same with oc = ic * dm + m
 *              (filters up to 16x16: a larger one leaves grad_in untouched; the lowering refuses it)
 *   FC:        for oc:                                             the same
 *   avg pool:  for the windows (oy, ox) holding it, in order:      acc += (float)g_q / window count
 *   MEAN:      (float)g_q / (h * w);  PAD: the element itself;  copy: the element itself
 * where g_q is grad_out's stored integer; the value acc * 2^e_out is quantized as the header says.
 * With accumulate, the old grad_in element (at its old exponent, read before any is written) is
 * added first: v = old * 2^(e_old - e_out) + acc, one float addition.
 * Depthwise in place (_inplace, as mt_depthwise_conv_grad_input_inplace_f32 in train.h): the input
 * gradient overwrites the output gradient (grad_in == grad_out), never accumulating; ring holds
 * max(0, (filter_h - 1) * dilation_h - pad_h) + 1 rows of the output gradient.
 *
 * Updates: the float32 kernels' sums with grad_out's integers as the factor (exact int32 products),
 * the sum scaled by 2^e_out (exponent arithmetic on its bits) before input_scale and grad_factor:
 *   bias:    acc = sum (int64) of g_q;  g = (float)acc * 2^e * grad_factor[c]
 *   weights: acc = sum (float, same order) of (float)(g_q * (q_in + input_offset));
 *            g = ((acc * 2^e) * input_scale) * grad_factor[oc] */
MT_GRAD_NARROW_KERNELS(int16_t, s16, g16)
MT_GRAD_NARROW_KERNELS(int8_t, s8, g8)

#endif /* MCUTRAIN_KERNELS_TRAIN_NARROW_H */
