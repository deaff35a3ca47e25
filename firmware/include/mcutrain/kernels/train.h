/* Backward and update kernels of the training engine (docs/training.md).
 *
 * Gradients are float32 and real-valued: dL/d(real tensor), where an int8 tensor q with scale s and
 * zero point z stands for s * (q - z). Weights and biases stay int8 / int32 and are updated in place.
 * Every kernel is deterministic: the same C on every target gives the same bits, provided the build
 * forbids float contraction (-ffp-contract=off, in every generated Makefile) and nothing here calls
 * libm (mt_expf / mt_logf below are our own, built from + - * / only).
 *
 * Batch size is the n of the dims; all gradients are summed over it. The order in which each kernel
 * adds its terms is part of this contract (float addition does not associate): it is written at each
 * kernel in firmware/kernels/ (train_loss.c, *_backward.c, bias_update.c), and
 * test/kernels/train_reference.ts mirrors it bit for bit. Weights are symmetric int8 (zero point 0,
 * values in [-127, 127]), as TFLite's int8 scheme has them. */
#ifndef MCUTRAIN_KERNELS_TRAIN_H
#define MCUTRAIN_KERNELS_TRAIN_H

#include <stdint.h>

#include "mcutrain/kernels/common.h"
#include "mcutrain/kernels/conv.h"
#include "mcutrain/kernels/depthwise_conv.h"
#include "mcutrain/kernels/pooling.h"

/* SGD with optional momentum, shared by every update kernel of a model; lr may change between steps. */
typedef struct {
  float lr;
  float momentum; /* 0: plain SGD (momentum buffers may then be NULL) */
} mt_sgd;

/* e^x and ln x in single precision from + - * / and bit manipulation only, identical on every
 * target (relative error < 2e-7 over the ranges softmax uses). mt_logf(x <= 0) = -INFINITY-like -1e30f.
 * Edges: mt_expf(x > 88) = e^88 (large, finite), mt_expf(x < -87) = 0 (no subnormal is ever produced);
 * mt_logf takes subnormals, mt_logf(+inf) = +inf; NaN in, NaN out. */
float mt_expf(float x);
float mt_logf(float x);

/* Loss of one sample: softmax cross-entropy of the int8 logits (n of them, real = scale * (q - zero_point))
 * against class `label`. Returns the loss; *predicted = argmax of the logits (first of equal maxima).
 * When grad is not NULL it receives dL/dlogit = softmax - onehot(label) (n floats).
 * scale > 0; zero_point cancels (only differences of logits matter). predicted may be NULL. A label
 * outside [0, n) returns -1 (no real loss is negative) and grad = softmax without the one-hot term;
 * n <= 0 returns 0 with *predicted = -1. */
float mt_softmax_xent_s8(const int8_t *logits, int32_t n, float scale, int32_t zero_point,
                         int32_t label, float *grad, int32_t *predicted);

/* The gradient through a clamp: grad[i] = 0 where the int8 forward output out[i] sits at act_min or
 * act_max (fused ReLU/ReLU6 and int8 saturation). An output exactly at ReLU's zero counts as clamped
 * (gradient 0 there). The unpacked form: generated engines pack the mask in the forward pass (below). */
void mt_clamp_mask_f32(const int8_t *out, float *grad, int32_t n, int32_t act_min, int32_t act_max);

/* The clamp mask packed by the forward pass, so the int8 output need not live until its backward step:
 * bit i (bit i & 7 of bits[i >> 3], LSB first) is 1 where the gradient passes (act_min < out[i] <
 * act_max, the complement of mt_clamp_mask_f32's condition) and 0 where the output is clamped; the
 * unused high bits of the last byte are 0. bits holds (n + 7) / 8 bytes. */
void mt_clamp_mask_pack_s8(const int8_t *out, uint8_t *bits, int32_t n, int32_t act_min, int32_t act_max);

/* The backward side of a packed mask: grad[i] = 0 where bit i is 0 (same result as mt_clamp_mask_f32
 * on the output the bits were packed from). */
void mt_mask_apply_f32(const uint8_t *bits, float *grad, int32_t n);

/* The clamp of the logits, projected: a gradient that would push a saturated logit further out is
 * zeroed, one that pulls it back in passes. With the plain mask, logits that all saturate (a new task
 * whose scores leave the calibrated range) stop every gradient and training can never recover. */
void mt_clamp_mask_projected_f32(const int8_t *out, float *grad, int32_t n, int32_t act_min, int32_t act_max);

/* dst = src (accumulate == 0) or dst += src (accumulate != 0): a tensor read by several operators
 * collects the gradient of each. dst and src may be the same buffer only when accumulate == 0. */
void mt_grad_copy_f32(const float *src, float *dst, int32_t n, int32_t accumulate);

/* ---- input gradients: write (accumulate == 0) or add to (accumulate != 0) grad_in ---------------- */

/* CONV_2D (no groups: filter depth == input depth). filter_scale: one per output channel. Uses
 * params' strides, dilations and pads only. */
void mt_conv_grad_input_f32(const mt_conv_params *params, const mt_dims4 *input_dims,
                            const mt_dims4 *filter_dims, const int8_t *filter, const float *filter_scale,
                            const mt_dims4 *output_dims, const float *grad_out, float *grad_in,
                            int32_t accumulate);

/* The same two with the weights split between SRAM and Flash (common.h): the same bits. */
void mt_conv_grad_input_split_f32(const mt_conv_params *params, const mt_dims4 *input_dims,
                                  const mt_dims4 *filter_dims, const mt_split_filter *filter,
                                  const float *filter_scale, const mt_dims4 *output_dims, const float *grad_out,
                                  float *grad_in, int32_t accumulate);
void mt_fully_connected_grad_input_split_f32(int32_t batches, int32_t accum_depth, int32_t out_depth,
                                             const mt_split_filter *weights, const float *weight_scale,
                                             const float *grad_out, float *grad_in, int32_t accumulate);

/* DEPTHWISE_CONV_2D, any depth multiplier. */
void mt_depthwise_conv_grad_input_f32(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims,
                                      const mt_dims4 *filter_dims, const int8_t *filter,
                                      const float *filter_scale, const mt_dims4 *output_dims,
                                      const float *grad_out, float *grad_in, int32_t accumulate);

/* DEPTHWISE_CONV_2D in place: the input gradient written over the output gradient (grad_in ==
 * grad_out), for stride 1, depth multiplier 1 and input and output of one shape. Gathered element by
 * element in memory order: acc = sum over the taps (fy, fx) that read it, in that order, of
 * (grad_out * filter_scale[c]) * w (firmware/kernels/depthwise_grad_gather.inc); filters up to 16x16
 * (a larger one leaves grad_in untouched; the lowering never asks). ring: scratch of
 * max(0, (filter_h - 1) * dilation_h - pad_h) + 1 rows of the output gradient, where row y is copied
 * just before input row y overwrites it. */
void mt_depthwise_conv_grad_input_inplace_f32(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims,
                                              const mt_dims4 *filter_dims, const int8_t *filter,
                                              const float *filter_scale, const mt_dims4 *output_dims,
                                              float *grad_out, float *grad_in, float *ring);

/* FULLY_CONNECTED: weights [out_depth, accum_depth] (per-channel scales, or one repeated), `batches` rows. */
void mt_fully_connected_grad_input_f32(int32_t batches, int32_t accum_depth, int32_t out_depth,
                                       const int8_t *weights, const float *weight_scale,
                                       const float *grad_out, float *grad_in, int32_t accumulate);

/* AVERAGE_POOL_2D: each output's gradient spread evenly over the in-bounds elements of its window. */
void mt_avg_pool_grad_f32(const mt_pooling_params *params, const mt_dims4 *input_dims,
                          const mt_dims4 *output_dims, const float *grad_out, float *grad_in,
                          int32_t accumulate);

/* MEAN over height and width (output {n, 1, 1, c}): the gradient spread evenly over h * w. */
void mt_mean_hw_grad_f32(const mt_dims4 *input_dims, const float *grad_out, float *grad_in, int32_t accumulate);

/* PAD: the gradient of the input is the output's gradient with the padding cropped away;
 * pad_before = {n, h, w, c} leading pads. */
void mt_pad_grad_f32(const mt_dims4 *input_dims, const mt_dims4 *output_dims, const int32_t pad_before[4],
                     const float *grad_out, float *grad_in, int32_t accumulate);

/* ---- updates: gradient and SGD step fused, one output channel at a time (no gradient buffer) ------
 * For output channel c < n_channels (the first channels are the trained ones):
 *   g = (dL/dparam_real) * grad_factor[c]
 * grad_factor is prepared at compile time: with QAS 1/s_W[c] for weights and 1/(s_W[c] s_x) for
 * biases, without QAS s_W[c] and s_W[c] s_x (the raw gradient of the integer parameter).
 *   m = momentum * m + g (momentum buffer, n_channels * params-per-channel floats) when momentum != 0
 *   int8 weight:  w = clamp(round_half_away(w - lr * m_or_g), -127, 127)
 *   int32 bias:   b = saturate(b - round_half_away(lr * m_or_g))
 * in float, one rounding per operation as written: (momentum * m) + g; lr * m_or_g, then w minus that.
 * The bias step is limited to +-2^30 before it becomes an integer (larger ones saturate anyway). A NaN
 * step leaves the parameter unchanged. With momentum == 0 a given buffer is neither read nor written.
 * The real parameter gradient is summed with the input scale factored out:
 *   g = ((sum of grad_out * (q_in + input_offset)) * input_scale) * grad_factor[c]
 * The weight-gradient kernels read the saved int8 input (real = input_scale * (q + input_offset)).
 * A momentum buffer holds one float per trained parameter, laid out as the parameter tensor restricted
 * to its first n_channels output channels: OHWI conv and [out, in] FC weights: the first
 * n_channels * (per-channel size) entries; 1HWC depthwise: [filter_h][filter_w][n_channels];
 * bias: n_channels.
 * A layer trained on its first input channels only (1x1 conv, FC) is updated as the layer restricted to
 * them: filter_dims (conv) or accum_depth (FC) are the trained block's, whose weights (and momentum) are
 * [out][trained inputs], and the input is the packed copy of its first channels the forward pass saved
 * (a conv reads the first filter_dims->c channels of an input of input_dims->c, so a whole input works too). */

/* Bias of any layer whose output gradient is NHWC with c = channels: dL/db[c] = sum of grad_out[.., c]. */
void mt_bias_update_s32(const mt_dims4 *output_dims, const float *grad_out, int32_t *bias,
                        const float *grad_factor, int32_t n_channels, const mt_sgd *sgd, float *momentum);

void mt_conv_update_weights_s8(const mt_conv_params *params, const mt_dims4 *input_dims, const int8_t *input,
                               float input_scale, const mt_dims4 *filter_dims, int8_t *filter,
                               const float *grad_factor, int32_t n_channels, const mt_dims4 *output_dims,
                               const float *grad_out, const mt_sgd *sgd, float *momentum);

void mt_depthwise_conv_update_weights_s8(const mt_depthwise_conv_params *params, const mt_dims4 *input_dims,
                                         const int8_t *input, float input_scale, const mt_dims4 *filter_dims,
                                         int8_t *filter, const float *grad_factor, int32_t n_channels,
                                         const mt_dims4 *output_dims, const float *grad_out,
                                         const mt_sgd *sgd, float *momentum);

void mt_fully_connected_update_weights_s8(int32_t batches, int32_t accum_depth, int32_t out_depth,
                                          const int8_t *input, float input_scale, int32_t input_offset,
                                          int8_t *weights, const float *grad_factor, int32_t n_channels,
                                          const float *grad_out, const mt_sgd *sgd, float *momentum);

#endif /* MCUTRAIN_KERNELS_TRAIN_H */
