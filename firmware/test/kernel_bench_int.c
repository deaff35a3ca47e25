/* Instructions of the training kernels on an emulated board (QEMU -icount: the ticks count
 * instructions), one layer at a time, with float32 gradients (train.h), int16 gradients with float
 * sums (train_narrow.h, `--grad i16`) and the integer-only kernels (train_int.h). Built soft-float for
 * the Cortex-M3 (mps2-an385) this is the float engine's cost without an FPU against the integer one's.
 * Prints "BENCH <kernel> <f32> <s16> <i16>" per kernel, then "DONE". Inputs from a fixed xorshift32. */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "mcutrain/kernels/train_int.h"
#include "mcutrain/kernels/train_narrow.h"
#include "harness_io.h" /* put_str, put_int, rand_in, ticks */

#define CAP 8192
static int8_t x8[CAP], w8[CAP], logits[16];
static float gof[CAP], gif[CAP], scale_f[CAP], factor_f[CAP];
static int16_t go16[CAP], gi16[CAP];
static int32_t bias[CAP], scale_q[CAP], mult[CAP], shift[CAP];

static void report(const char *name, uint32_t f32, uint32_t s16, uint32_t i16) {
  put_str("BENCH ");
  put_str(name);
  put_str(" ");
  put_int(f32);
  put_str(" ");
  put_int(s16);
  put_str(" ");
  put_int(i16);
  put_str("\n");
}

/* Fresh gradients (the same values in every form: q * 2^-14 as float) and parameters before each run. */
static void fill(int32_t n_go, int32_t n_x, int32_t n_w, int32_t n_ch) {
  for (int32_t i = 0; i < n_go; ++i) {
    go16[i] = (int16_t)rand_in(-32767, 32767);
    gof[i] = (float)go16[i] * (1.0f / 16384.0f);
  }
  for (int32_t i = 0; i < n_x; ++i) x8[i] = (int8_t)rand_in(-128, 127);
  for (int32_t i = 0; i < n_w; ++i) w8[i] = (int8_t)rand_in(-127, 127);
  for (int32_t c = 0; c < n_ch; ++c) {
    scale_q[c] = rand_in(1 << 22, (1 << 24) - 1);
    scale_f[c] = (float)scale_q[c] * (1.0f / 1073741824.0f); /* q * 2^-30 */
    mult[c] = rand_in(1 << 30, 2147483647);
    shift[c] = 4;
    factor_f[c] = (float)(mult[c] >> 8) * (1.0f / 8388608.0f) * 16.0f; /* m * 2^(4 - 31) */
    bias[c] = rand_in(-1000, 1000);
  }
}

#define TIME(var, call)                      \
  do {                                       \
    const uint32_t t0 = ticks();             \
    call;                                    \
    var = ticks() - t0;                      \
  } while (0)

int main(void) {
  put_str("ready\n");
  const mt_sgd sgd = {0.01f, 0.0f};
  mt_sgd_int sgd_int = {1374389535, -6, MT_ROUND_STOCHASTIC, 0x9e3779b9u}; /* 0.01 */
  const mt_int_factors factors = {mult, shift};
  const mt_int_scales scales = {scale_q, -30};
  const int8_t e_out = -14;
  int8_t e_in = MT_GRAD_EXP_ZERO;
  uint32_t a, b, c;

  /* the classifier: FULLY_CONNECTED 160 -> 10 */
  fill(10, 160, 1600, 10);
  TIME(a, mt_fully_connected_grad_input_f32(1, 160, 10, w8, scale_f, gof, gif, 0));
  TIME(b, mt_fully_connected_grad_input_s16(1, 160, 10, w8, scale_f, go16, &e_out, gi16, &e_in, 0));
  TIME(c, mt_fully_connected_grad_input_i16(1, 160, 10, w8, &scales, go16, &e_out, gi16, &e_in, 0));
  report("fc_input_gradient_160x10", a, b, c);
  TIME(a, mt_fully_connected_update_weights_s8(1, 160, 10, x8, 0.02f, 3, w8, factor_f, 10, gof, &sgd, NULL));
  TIME(b, mt_fully_connected_update_weights_s8_g16(1, 160, 10, x8, 0.02f, 3, w8, factor_f, 10, go16, &e_out, &sgd, NULL));
  TIME(c, mt_fully_connected_update_weights_s8_i16(1, 160, 10, x8, 3, w8, &factors, 10, go16, &e_out, &sgd_int));
  report("fc_update_160x10", a, b, c);

  /* a pointwise convolution: 5x5x48 -> 5x5x16 */
  {
    const mt_conv_params p = {1, 1, 1, 1, 0, 0, 3, 0, -128, 127, MT_ROUND_DOUBLE};
    const mt_dims4 in_d = {1, 5, 5, 48}, f_d = {16, 1, 1, 48}, out_d = {1, 5, 5, 16};
    fill(400, 1200, 768, 16);
    TIME(a, mt_conv_grad_input_f32(&p, &in_d, &f_d, w8, scale_f, &out_d, gof, gif, 0));
    TIME(b, mt_conv_grad_input_s16(&p, &in_d, &f_d, w8, scale_f, &out_d, go16, &e_out, gi16, &e_in, 0));
    TIME(c, mt_conv_grad_input_i16(&p, &in_d, &f_d, w8, &scales, &out_d, go16, &e_out, gi16, &e_in, 0));
    report("conv1x1_input_gradient_5x5x48x16", a, b, c);
    TIME(a, mt_conv_update_weights_s8(&p, &in_d, x8, 0.02f, &f_d, w8, factor_f, 16, &out_d, gof, &sgd, NULL));
    TIME(b, mt_conv_update_weights_s8_g16(&p, &in_d, x8, 0.02f, &f_d, w8, factor_f, 16, &out_d, go16, &e_out, &sgd, NULL));
    TIME(c, mt_conv_update_weights_s8_i16(&p, &in_d, x8, &f_d, w8, &factors, 16, &out_d, go16, &e_out, &sgd_int));
    report("conv1x1_update_5x5x48x16", a, b, c);
    TIME(a, mt_bias_update_s32(&out_d, gof, bias, factor_f, 16, &sgd, NULL));
    TIME(b, mt_bias_update_s32_g16(&out_d, go16, &e_out, bias, factor_f, 16, &sgd, NULL));
    TIME(c, mt_bias_update_s32_i16(&out_d, go16, &e_out, bias, &factors, 16, &sgd_int));
    report("bias_update_5x5x16", a, b, c);
  }

  /* a depthwise 3x3 convolution, stride 1, SAME: 5x5x48 */
  {
    const mt_depthwise_conv_params p = {1, 1, 1, 1, 1, 1, 1, 3, 0, -128, 127};
    const mt_dims4 in_d = {1, 5, 5, 48}, f_d = {1, 3, 3, 48}, out_d = {1, 5, 5, 48};
    fill(1200, 1200, 432, 48);
    TIME(a, mt_depthwise_conv_grad_input_f32(&p, &in_d, &f_d, w8, scale_f, &out_d, gof, gif, 0));
    TIME(b, mt_depthwise_conv_grad_input_s16(&p, &in_d, &f_d, w8, scale_f, &out_d, go16, &e_out, gi16, &e_in, 0));
    TIME(c, mt_depthwise_conv_grad_input_i16(&p, &in_d, &f_d, w8, &scales, &out_d, go16, &e_out, gi16, &e_in, 0));
    report("depthwise3x3_input_gradient_5x5x48", a, b, c);
    TIME(a, mt_depthwise_conv_update_weights_s8(&p, &in_d, x8, 0.02f, &f_d, w8, factor_f, 48, &out_d, gof, &sgd, NULL));
    TIME(b, mt_depthwise_conv_update_weights_s8_g16(&p, &in_d, x8, 0.02f, &f_d, w8, factor_f, 48, &out_d, go16, &e_out, &sgd, NULL));
    TIME(c, mt_depthwise_conv_update_weights_s8_i16(&p, &in_d, x8, &f_d, w8, &factors, 48, &out_d, go16, &e_out, &sgd_int));
    report("depthwise3x3_update_5x5x48", a, b, c);
  }

  /* the loss over 10 classes */
  {
    for (int32_t i = 0; i < 10; ++i) logits[i] = (int8_t)rand_in(-128, 127);
    const mt_softmax_params xp = {1717986944, 23, -248, 1, 10}; /* logit scale 0.1, as the SOFTMAX lowering computes it */
    int32_t predicted;
    int8_t e;
    TIME(a, mt_softmax_xent_s8(logits, 10, 0.1f, 0, 3, gif, &predicted));
    TIME(b, mt_softmax_xent_s8_grad_s16(logits, 10, 0.1f, 0, 3, gi16, &e, &predicted));
    TIME(c, mt_softmax_xent_s8_grad_i16(logits, &xp, 3, gi16, &e, &predicted));
    report("softmax_xent_10", a, b, c);
  }
  put_str("DONE\n");
  mt_platform_exit(0);
}
