/* Training kernel tests (train.h): hand-worked examples and property checks, and a stdin "run" mode
 * through which test/kernels/train_kernels.test.ts compares every kernel bit for bit with a float32
 * reference. Floats cross stdin/stdout as the hex of their bits, so nothing is lost in printing.
 * Built with the kernels' own float-only rules (-Wdouble-promotion, -ffp-contract=off).
 *
 * The "digest" mode runs a fixed battery of every kernel on inputs from its own PRNG and prints one
 * hash of all output bits per kernel. The same file built as a bare-metal main for an emulated board
 * (no C library: Cortex-M without an OS) prints the digests over the UART at reset, so the test can
 * check that the board computes the host's bits exactly. */
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "../kernels/train_common.h"

#include "digest.h"
#if !MT_DIGEST_BOARD
#include "kernel_test_util.h"
#endif

/* ---- digest mode: shared by host and board, no C library ---- */

#define DG_CAP 4096
static int8_t dg_q[DG_CAP], dg_w[DG_CAP];
static float dg_go[DG_CAP], dg_gi[DG_CAP], dg_s[DG_CAP], dg_m[DG_CAP];
static int32_t dg_b[DG_CAP];

/* uniform in [-mag, mag): 24 random bits, exact in float */
static float dg_real(float mag) { return ((float)(int32_t)(dg_next() >> 8) * (1.0f / 8388608.0f) - 1.0f) * mag; }

static void dg_fill_f32(float *a, int32_t n, float mag) {
  for (int32_t i = 0; i < n; ++i) a[i] = dg_real(mag);
}

static void dg_mix_f32s(const float *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    union { float f; uint32_t u; } b;
    b.f = a[i];
    dg_mix(b.u);
  }
}

/* A conv or depthwise geometry as the JS suite draws them: strides and dilations 1-2, SAME or VALID. */
static void dg_conv_shape(int32_t depthwise, mt_conv_params *p, int32_t *dm, mt_dims4 *in_d, mt_dims4 *f_d,
                          mt_dims4 *out_d) {
  const mt_dims4 in = dg_dims(2, 7, 7, 4);
  *dm = depthwise ? dg_int(1, 2) : 1;
  const int32_t oc = depthwise ? in.c * *dm : dg_int(1, 5);
  mt_dims4 f = dg_dims(1, 3, 3, 1);
  f.n = depthwise ? 1 : oc;
  f.c = depthwise ? oc : in.c;
  const mt_conv_params base = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
  *p = base;
  p->stride_h = dg_int(1, 2);
  p->stride_w = dg_int(1, 2);
  p->dilation_h = dg_int(1, 2);
  p->dilation_w = dg_int(1, 2);
  p->input_offset = dg_int(-127, 128);
  const int32_t eff_h = (f.h - 1) * p->dilation_h + 1, eff_w = (f.w - 1) * p->dilation_w + 1;
  mt_dims4 out = {in.n, 0, 0, oc};
  if (dg_int(0, 1) || in.h < eff_h || in.w < eff_w) {
    out.h = (in.h + p->stride_h - 1) / p->stride_h;
    out.w = (in.w + p->stride_w - 1) / p->stride_w;
    p->pad_h = mt_max_i32((out.h - 1) * p->stride_h + eff_h - in.h, 0) / 2;
    p->pad_w = mt_max_i32((out.w - 1) * p->stride_w + eff_w - in.w, 0) / 2;
  } else {
    out.h = (in.h - eff_h) / p->stride_h + 1;
    out.w = (in.w - eff_w) / p->stride_w + 1;
  }
  *in_d = in, *f_d = f, *out_d = out;
}

static mt_sgd dg_sgd(int32_t k, float **m) {
  const mt_sgd sgd = {0.001f + 0.5f * (dg_real(0.5f) + 0.5f), k % 3 == 0 ? 0.0f : 0.9f};
  *m = k % 3 == 2 ? NULL : dg_m;
  return sgd;
}

static void digest_all(void) {
  dg_hash = 2166136261u;
  for (int32_t i = 0; i < 20000; ++i) {
    float x = -87.0f + (float)i * (175.0f / 20000.0f);
    x = mt_expf(x);
    dg_mix_f32s(&x, 1);
  }
  dg_report("expf");
  for (int32_t i = 0; i < 20000; ++i) {
    union { float f; uint32_t u; } b;
    b.u = dg_next() & 0x7fffffffu;
    if (b.u >= 0x7f800000u) b.u -= 0x7f800000u;
    float y = mt_logf(b.f);
    dg_mix_f32s(&y, 1);
  }
  dg_report("logf");
  for (int32_t k = 0; k < 200; ++k) {
    const int32_t n = dg_int(1, 24);
    dg_fill_i8(dg_q, n, -128, 127);
    int32_t predicted;
    const float scale = 0.005f + (dg_real(1.0f) + 1.0f);
    const int32_t zero_point = dg_int(-128, 127), label = dg_int(0, n - 1);
    const float loss = mt_softmax_xent_s8(dg_q, n, scale, zero_point, label, dg_gi, &predicted);
    dg_mix_f32s(&loss, 1);
    dg_mix_f32s(dg_gi, n);
    dg_mix((uint32_t)predicted);
  }
  dg_report("softmax_xent");
  for (int32_t k = 0; k < 200; ++k) {
    const int32_t depthwise = k & 1, accumulate = (k >> 1) & 1;
    mt_conv_params p;
    int32_t dm;
    mt_dims4 in_d, f_d, out_d;
    dg_conv_shape(depthwise, &p, &dm, &in_d, &f_d, &out_d);
    dg_fill_i8(dg_w, dg_count(&f_d), -127, 127);
    dg_fill_f32(dg_s, out_d.c, 0.05f);
    dg_fill_f32(dg_go, dg_count(&out_d), 1.0f);
    dg_fill_f32(dg_gi, dg_count(&in_d), 1.0f);
    if (depthwise) {
      const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w, dm,
                                          0, 0, -128, 127};
      mt_depthwise_conv_grad_input_f32(&d, &in_d, &f_d, dg_w, dg_s, &out_d, dg_go, dg_gi, accumulate);
    } else {
      mt_conv_grad_input_f32(&p, &in_d, &f_d, dg_w, dg_s, &out_d, dg_go, dg_gi, accumulate);
    }
    dg_mix_f32s(dg_gi, dg_count(&in_d));
  }
  dg_report("conv_dw_grad_input");
  for (int32_t k = 0; k < 300; ++k) {
    const int32_t kind = k % 3; /* conv, depthwise, fully connected */
    float *m;
    const mt_sgd sgd = dg_sgd(k / 3, &m);
    const float input_scale = 0.005f + 0.05f * (dg_real(0.5f) + 0.5f);
    if (kind == 2) {
      const int32_t batches = dg_int(1, 3), depth = dg_int(1, 30), out_depth = dg_int(1, 10);
      const int32_t n_channels = dg_int(1, out_depth), offset = dg_int(-127, 128);
      dg_fill_i8(dg_q, batches * depth, -128, 127);
      dg_fill_i8(dg_w, depth * out_depth, -127, 127);
      for (int32_t i = 0; i < n_channels; ++i) dg_s[i] = 0.5f + 200.0f * (dg_real(0.5f) + 0.5f);
      dg_fill_f32(dg_m, n_channels * depth, 50.0f);
      dg_fill_f32(dg_go, batches * out_depth, 1.0f);
      mt_fully_connected_grad_input_f32(batches, depth, out_depth, dg_w, dg_s, dg_go, dg_gi, k & 1);
      dg_mix_f32s(dg_gi, batches * depth);
      mt_fully_connected_update_weights_s8(batches, depth, out_depth, dg_q, input_scale, offset, dg_w, dg_s,
                                           n_channels, dg_go, &sgd, m);
      dg_mix_i8s(dg_w, depth * out_depth);
      dg_mix_f32s(dg_m, n_channels * depth);
      continue;
    }
    mt_conv_params p;
    int32_t dm;
    mt_dims4 in_d, f_d, out_d;
    dg_conv_shape(kind, &p, &dm, &in_d, &f_d, &out_d);
    const int32_t n_channels = dg_int(1, out_d.c);
    const int32_t per_channel = kind ? f_d.h * f_d.w : f_d.h * f_d.w * f_d.c;
    dg_fill_i8(dg_q, dg_count(&in_d), -128, 127);
    dg_fill_i8(dg_w, dg_count(&f_d), -127, 127);
    for (int32_t i = 0; i < n_channels; ++i) dg_s[i] = 0.5f + 200.0f * (dg_real(0.5f) + 0.5f);
    dg_fill_f32(dg_m, n_channels * per_channel, 50.0f);
    dg_fill_f32(dg_go, dg_count(&out_d), 1.0f);
    if (kind) {
      const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w, dm,
                                          p.input_offset, 0, -128, 127};
      mt_depthwise_conv_update_weights_s8(&d, &in_d, dg_q, input_scale, &f_d, dg_w, dg_s, n_channels, &out_d, dg_go,
                                          &sgd, m);
    } else {
      mt_conv_update_weights_s8(&p, &in_d, dg_q, input_scale, &f_d, dg_w, dg_s, n_channels, &out_d, dg_go, &sgd, m);
    }
    dg_mix_i8s(dg_w, dg_count(&f_d));
    dg_mix_f32s(dg_m, n_channels * per_channel);
  }
  dg_report("weight_updates");
  for (int32_t k = 0; k < 100; ++k) {
    const mt_dims4 out_d = dg_dims(2, 4, 4, 8);
    const int32_t n_channels = dg_int(1, out_d.c);
    float *m;
    const mt_sgd sgd = dg_sgd(k, &m);
    for (int32_t c = 0; c < out_d.c; ++c) dg_b[c] = (k & 1) ? INT32_MAX - dg_int(0, 3000) : dg_int(-100000, 100000);
    for (int32_t c = 0; c < n_channels; ++c) dg_s[c] = (k & 2) ? 1e9f : 1.0f + 1000.0f * (dg_real(0.5f) + 0.5f);
    dg_fill_f32(dg_m, n_channels, 100.0f);
    dg_fill_f32(dg_go, dg_count(&out_d), 1.0f);
    mt_bias_update_s32(&out_d, dg_go, dg_b, dg_s, n_channels, &sgd, m);
    dg_mix_i32s(dg_b, out_d.c);
    dg_mix_f32s(dg_m, n_channels);
  }
  dg_report("bias_update");
  for (int32_t k = 0; k < 100; ++k) {
    const mt_dims4 in_d = dg_dims(2, 7, 7, 3);
    mt_pooling_params p = {1, 1, 1, 1, 0, 0, -128, 127};
    p.stride_h = dg_int(1, 2);
    p.stride_w = dg_int(1, 2);
    p.filter_h = dg_int(1, 3);
    p.filter_w = dg_int(1, 3);
    p.pad_h = dg_int(0, 1);
    p.pad_w = dg_int(0, 1);
    const mt_dims4 out_d = {in_d.n, (in_d.h + p.stride_h - 1) / p.stride_h, (in_d.w + p.stride_w - 1) / p.stride_w,
                            in_d.c};
    const int32_t accumulate = k & 1;
    dg_fill_f32(dg_go, dg_count(&out_d), 1.0f);
    dg_fill_f32(dg_gi, dg_count(&in_d), 1.0f);
    mt_avg_pool_grad_f32(&p, &in_d, &out_d, dg_go, dg_gi, accumulate);
    dg_mix_f32s(dg_gi, dg_count(&in_d));
    mt_mean_hw_grad_f32(&in_d, dg_go, dg_gi, accumulate);
    dg_mix_f32s(dg_gi, dg_count(&in_d));
    int32_t before[4] = {0, 0, 0, 0};
    for (int i = 1; i < 4; ++i) before[i] = dg_int(0, 2);
    mt_dims4 padded = in_d;
    padded.h += before[1] + dg_int(0, 2);
    padded.w += before[2] + dg_int(0, 2);
    padded.c += before[3] + dg_int(0, 2);
    dg_fill_f32(dg_go, dg_count(&padded), 1.0f);
    mt_pad_grad_f32(&in_d, &padded, before, dg_go, dg_gi, accumulate);
    dg_mix_f32s(dg_gi, dg_count(&in_d));
    dg_fill_i8(dg_q, dg_count(&in_d), -128, 127);
    mt_clamp_mask_f32(dg_q, dg_gi, dg_count(&in_d), -100, 100);
    mt_grad_copy_f32(dg_gi, dg_go, dg_count(&in_d), accumulate);
    dg_mix_f32s(dg_go, dg_count(&in_d));
  }
  dg_report("pool_mean_pad_mask_copy");
}

#if MT_DIGEST_BOARD
int main(void) {
  dg_run_on_board(digest_all);
}
#else

#define CAP (1 << 14)
static int8_t in8[CAP], w8[CAP], out8[CAP];
static float go[CAP], gi[CAP], gi2[CAP], fs[CAP], gf[CAP], mom[CAP];
static int32_t bias_buf[CAP];


static void expect_bits(const char *what, const float *got, const float *want, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (test_bits_of_f32(got[i]) != test_bits_of_f32(want[i])) {
      printf("FAIL %s: element %ld is 0x%08lx, expected 0x%08lx\n", what, (long)i,
             (unsigned long)test_bits_of_f32(got[i]), (unsigned long)test_bits_of_f32(want[i]));
      ++test_failures;
      return;
    }
  }
}

static void expect_i32(const char *what, int32_t got, int32_t want) {
  if (got != want) {
    printf("FAIL %s: %ld, expected %ld\n", what, (long)got, (long)want);
    ++test_failures;
  }
}

/* |got - want| <= tol * |want|, compared without leaving float */
static void expect_near(const char *what, float got, float want, float tol) {
  const float diff = got > want ? got - want : want - got;
  const float mag = want < 0.0f ? -want : want;
  if (!(diff <= tol * mag)) {
    printf("FAIL %s: 0x%08lx, expected about 0x%08lx\n", what, (unsigned long)test_bits_of_f32(got),
           (unsigned long)test_bits_of_f32(want));
    ++test_failures;
  }
}

static void hand_rounding_and_steps(void) {
  expect_i32("round 0.5", mt_round_half_away_i32(0.5f), 1);
  expect_i32("round -0.5", mt_round_half_away_i32(-0.5f), -1);
  expect_i32("round 2.5", mt_round_half_away_i32(2.5f), 3);
  expect_i32("round -2.5", mt_round_half_away_i32(-2.5f), -3);
  expect_i32("round 0.49999997", mt_round_half_away_i32(0.49999997f), 0);
  expect_i32("round -1.4999999", mt_round_half_away_i32(-1.4999999f), -1);
  expect_i32("round 8388609", mt_round_half_away_i32(8388609.0f), 8388609);
  /* weights: 10 - 0.1 * 25 = 7.5 -> 8; clamps at +-127 (never -128); NaN leaves the weight */
  expect_i32("step s8 tie", mt_sgd_step_s8(10, 0.1f, 25.0f), 8);
  expect_i32("step s8 clamp high", mt_sgd_step_s8(120, 1.0f, -1e20f), 127);
  expect_i32("step s8 clamp low", mt_sgd_step_s8(-120, 1.0f, 100.0f), -127);
  expect_i32("step s8 NaN", mt_sgd_step_s8(5, 1.0f, test_f32_from_bits(0x7fc00000u)), 5);
  /* biases: b - round(lr * d), saturating */
  expect_i32("step s32 tie", mt_sgd_step_s32(100, 0.5f, 5.0f), 97);
  expect_i32("step s32 negative tie", mt_sgd_step_s32(100, 0.5f, -5.0f), 103);
  expect_i32("step s32 saturate high", mt_sgd_step_s32(INT32_MAX - 3, 1.0f, -10.0f), INT32_MAX);
  expect_i32("step s32 saturate low", mt_sgd_step_s32(INT32_MIN + 3, 1.0f, 10.0f), INT32_MIN);
  expect_i32("step s32 huge", mt_sgd_step_s32(0, 1.0f, 1e30f), -1073741824);
  expect_i32("step s32 huge from low", mt_sgd_step_s32(-2000000000, 1.0f, 1e30f), INT32_MIN);
  expect_i32("step s32 NaN", mt_sgd_step_s32(7, 1.0f, test_f32_from_bits(0x7fc00000u)), 7);
  /* momentum: m = 0.5 * 4 + 2 = 4, w = 0 - 1 * 4 */
  const mt_sgd sgd = {1.0f, 0.5f};
  float m = 4.0f;
  expect_i32("momentum step", mt_sgd_update_s8(&sgd, &m, 0, 2.0f), -4);
  expect_bits("momentum buffer", &m, &(float){4.0f}, 1);
}

static void hand_exp_log(void) {
  expect_bits("exp 0", &(float){mt_expf(0.0f)}, &(float){1.0f}, 1);
  expect_bits("log 1", &(float){mt_logf(1.0f)}, &(float){0.0f}, 1);
  expect_bits("exp -100", &(float){mt_expf(-100.0f)}, &(float){0.0f}, 1);
  expect_bits("log 0", &(float){mt_logf(0.0f)}, &(float){-1e30f}, 1);
  expect_bits("log -3", &(float){mt_logf(-3.0f)}, &(float){-1e30f}, 1);
  const float big = mt_expf(1000.0f);
  if (!(big > 1e38f && big < 3.4e38f)) {
    printf("FAIL exp 1000 is not large and finite\n");
    ++test_failures;
  }
  const float nan = test_f32_from_bits(0x7fc00000u), inf = test_f32_from_bits(0x7f800000u);
  if (mt_expf(nan) == mt_expf(nan) || mt_logf(nan) == mt_logf(nan)) {
    printf("FAIL NaN does not come out of mt_expf / mt_logf\n");
    ++test_failures;
  }
  expect_bits("log +inf", &(float){mt_logf(inf)}, &inf, 1);
  expect_near("exp 1", mt_expf(1.0f), 2.71828183f, 3e-7f);
  expect_near("exp -1", mt_expf(-1.0f), 0.367879441f, 3e-7f);
  expect_near("exp 10", mt_expf(10.0f), 22026.4658f, 3e-7f);
  expect_near("log 2", mt_logf(2.0f), 0.693147181f, 3e-7f);
  expect_near("log 10", mt_logf(10.0f), 2.30258509f, 3e-7f);
  expect_near("log 1e-40 (subnormal)", mt_logf(1e-40f), -92.1034037f, 3e-7f);
  /* e^(ln x) comes back to x within a few ulps */
  for (float x = 0.001f; x < 1000.0f; x *= 1.37f) expect_near("exp(log x)", mt_expf(mt_logf(x)), x, 1e-6f);
}

/* Equal logits: softmax 1/n everywhere, loss ln n, gradient 1/n - onehot; the predicted class is
 * the first of the equal maxima. */
static void hand_softmax(void) {
  const int8_t logits[4] = {7, 7, 7, 7};
  float grad[4];
  int32_t predicted = -5;
  const float loss = mt_softmax_xent_s8(logits, 4, 0.1f, 3, 2, grad, &predicted);
  expect_near("softmax uniform loss", loss, 1.38629436f, 3e-7f);
  const float want[4] = {0.25f, 0.25f, -0.75f, 0.25f};
  expect_bits("softmax uniform grad", grad, want, 4);
  expect_i32("softmax first maximum", predicted, 0);
  const int8_t two[3] = {-5, 9, 9};
  (void)mt_softmax_xent_s8(two, 3, 0.5f, 0, 0, NULL, &predicted);
  expect_i32("softmax first of equal maxima", predicted, 1);
  /* a label out of range: loss -1, the gradient is the plain softmax (sums to 1), nothing read out of bounds */
  const float no_label = mt_softmax_xent_s8(logits, 4, 0.1f, 3, 4, grad, NULL);
  expect_bits("softmax label out of range", &no_label, &(float){-1.0f}, 1);
  const float softmax[4] = {0.25f, 0.25f, 0.25f, 0.25f};
  expect_bits("softmax label out of range grad", grad, softmax, 4);
  expect_bits("softmax n = 0", &(float){mt_softmax_xent_s8(logits, 0, 0.1f, 0, 0, grad, &predicted)}, &(float){0.0f}, 1);
  expect_i32("softmax n = 0 predicts nothing", predicted, -1);
}

/* A 2x2 filter {1, 2; 3, 4} (scale 0.5) over a 3x3 input, VALID: the input gradient of a single
 * output gradient of 1 at (0, 0) is the scaled filter in the top-left corner; at (1, 1) the bottom
 * right; both together overlap in the centre. */
static void hand_conv_grad_input(void) {
  const int8_t filter[4] = {1, 2, 3, 4};
  const float scale[1] = {0.5f};
  const mt_dims4 in_d = {1, 3, 3, 1}, f_d = {1, 2, 2, 1}, out_d = {1, 2, 2, 1};
  const mt_conv_params p = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
  const float g[4] = {1.0f, 0.0f, 0.0f, 1.0f};
  float grad[9];
  mt_conv_grad_input_f32(&p, &in_d, &f_d, filter, scale, &out_d, g, grad, 0);
  const float want[9] = {0.5f, 1.0f, 0.0f, 1.5f, 2.5f, 1.0f, 0.0f, 1.5f, 2.0f};
  expect_bits("conv grad input hand", grad, want, 9);
  mt_conv_grad_input_f32(&p, &in_d, &f_d, filter, scale, &out_d, g, grad, 1);
  const float twice[9] = {1.0f, 2.0f, 0.0f, 3.0f, 5.0f, 2.0f, 0.0f, 3.0f, 4.0f};
  expect_bits("conv grad input accumulates", grad, twice, 9);
}

/* A 1x1 convolution is a fully connected layer over every pixel, in the same summation order: the
 * input gradients and the updates agree bit for bit. */
static void property_pointwise_is_fc(void) {
  for (int iter = 0; iter < 20; ++iter) {
    const mt_dims4 in_d = {rand_in(1, 2), rand_in(1, 4), rand_in(1, 4), rand_in(1, 8)};
    const int32_t oc = rand_in(1, 6), rows = in_d.n * in_d.h * in_d.w;
    const mt_dims4 f_d = {oc, 1, 1, in_d.c}, out_d = {in_d.n, in_d.h, in_d.w, oc};
    fill_i8(w8, oc * in_d.c, -127, 127);
    fill_i8(in8, rows * in_d.c, -128, 127);
    for (int32_t i = 0; i < rows * oc; ++i) go[i] = (float)rand_in(-1000, 1000) * 0.001f;
    for (int32_t i = 0; i < oc; ++i) fs[i] = (float)rand_in(1, 100) * 0.0007f, gf[i] = (float)rand_in(1, 100) * 0.3f;
    mt_conv_params p = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
    p.input_offset = rand_in(-127, 128);
    mt_conv_grad_input_f32(&p, &in_d, &f_d, w8, fs, &out_d, go, gi, 0);
    mt_fully_connected_grad_input_f32(rows, in_d.c, oc, w8, fs, go, gi2, 0);
    expect_bits("conv 1x1 grad input == fc", gi, gi2, rows * in_d.c);
    const mt_sgd sgd = {0.01f, 0.0f};
    memcpy(out8, w8, (size_t)(oc * in_d.c));
    const int32_t trained = rand_in(1, oc);
    mt_conv_update_weights_s8(&p, &in_d, in8, 0.02f, &f_d, w8, gf, trained, &out_d, go, &sgd, NULL);
    mt_fully_connected_update_weights_s8(rows, in_d.c, oc, in8, 0.02f, p.input_offset, out8, gf, trained, go, &sgd,
                                         NULL);
    expect_i8("conv 1x1 update == fc", w8, out8, oc * in_d.c);
  }
}

/* ---- run mode: one case per line, "<op> <fields...>"; floats as hex bits ---- */

static void read_f32s(float *a, int32_t n) { read_f32s_cap(a, n, CAP); }

static void print_f32s(const float *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) printf(" %08lx", (unsigned long)test_bits_of_f32(a[i]));
}

static void print_i32s_(const int32_t *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) printf(" %ld", (long)a[i]);
}

static void print_i8s_(const int8_t *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) printf(" %d", a[i]);
}

static void read_sgd(mt_sgd *sgd, int32_t *has_momentum) {
  sgd->lr = read_f32();
  sgd->momentum = read_f32();
  *has_momentum = read_i32();
}

enum {
  OP_EXP = 1, OP_LOG, OP_SOFTMAX, OP_CLAMP_MASK, OP_GRAD_COPY, OP_CONV_GRAD_INPUT, OP_DW_GRAD_INPUT,
  OP_FC_GRAD_INPUT, OP_AVG_POOL_GRAD, OP_MEAN_GRAD, OP_PAD_GRAD, OP_BIAS_UPDATE, OP_CONV_UPDATE,
  OP_DW_UPDATE, OP_FC_UPDATE, OP_CLAMP_MASK_PROJECTED
};

static void run_case(void) {
  const int32_t op = read_i32();
  switch (op) {
    case OP_EXP:
    case OP_LOG: {
      const int32_t n = read_i32();
      read_f32s(gi, n);
      for (int32_t i = 0; i < n; ++i) gi[i] = op == OP_EXP ? mt_expf(gi[i]) : mt_logf(gi[i]);
      print_f32s(gi, n);
      break;
    }
    case OP_SOFTMAX: {
      const int32_t n = read_i32();
      const float scale = read_f32();
      const int32_t zero_point = read_i32(), label = read_i32(), with_grad = read_i32();
      read_i8s(in8, n, CAP);
      int32_t predicted = -7;
      const float loss = mt_softmax_xent_s8(in8, n, scale, zero_point, label, with_grad ? gi : NULL, &predicted);
      print_f32s(&loss, 1);
      printf(" %ld", (long)predicted);
      if (with_grad) print_f32s(gi, n);
      break;
    }
    case OP_CLAMP_MASK: {
      const int32_t n = read_i32(), act_min = read_i32(), act_max = read_i32();
      read_i8s(in8, n, CAP);
      read_f32s(gi, n);
      mt_clamp_mask_f32(in8, gi, n, act_min, act_max);
      print_f32s(gi, n);
      break;
    }
    case OP_CLAMP_MASK_PROJECTED: {
      const int32_t n = read_i32(), act_min = read_i32(), act_max = read_i32();
      read_i8s(in8, n, CAP);
      read_f32s(gi, n);
      mt_clamp_mask_projected_f32(in8, gi, n, act_min, act_max);
      print_f32s(gi, n);
      break;
    }
    case OP_GRAD_COPY: {
      const int32_t n = read_i32(), accumulate = read_i32(), same = read_i32();
      read_f32s(go, n);
      read_f32s(gi, n);
      mt_grad_copy_f32(same ? gi : go, gi, n, accumulate);
      print_f32s(gi, n);
      break;
    }
    case OP_CONV_GRAD_INPUT:
    case OP_DW_GRAD_INPUT: {
      mt_conv_params p = read_conv_geometry();
      const int32_t depth_multiplier = op == OP_DW_GRAD_INPUT ? read_i32() : 1;
      mt_dims4 in_d, f_d, out_d;
      read_dims(&in_d), read_dims(&f_d), read_dims(&out_d);
      const int32_t accumulate = read_i32();
      read_i8s(w8, dims_count(&f_d), CAP);
      read_f32s(fs, out_d.c);
      read_f32s(go, dims_count(&out_d));
      read_f32s(gi, dims_count(&in_d));
      if (op == OP_CONV_GRAD_INPUT) {
        mt_conv_grad_input_f32(&p, &in_d, &f_d, w8, fs, &out_d, go, gi, accumulate);
      } else {
        const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w,
                                            depth_multiplier, 0, 0, -128, 127};
        mt_depthwise_conv_grad_input_f32(&d, &in_d, &f_d, w8, fs, &out_d, go, gi, accumulate);
      }
      print_f32s(gi, dims_count(&in_d));
      break;
    }
    case OP_FC_GRAD_INPUT: {
      const int32_t batches = read_i32(), depth = read_i32(), out_depth = read_i32(), accumulate = read_i32();
      read_i8s(w8, depth * out_depth, CAP);
      read_f32s(fs, out_depth);
      read_f32s(go, batches * out_depth);
      read_f32s(gi, batches * depth);
      mt_fully_connected_grad_input_f32(batches, depth, out_depth, w8, fs, go, gi, accumulate);
      print_f32s(gi, batches * depth);
      break;
    }
    case OP_AVG_POOL_GRAD: {
      mt_pooling_params p = {1, 1, 1, 1, 0, 0, -128, 127};
      p.stride_h = read_i32(), p.stride_w = read_i32();
      p.filter_h = read_i32(), p.filter_w = read_i32();
      p.pad_h = read_i32(), p.pad_w = read_i32();
      mt_dims4 in_d, out_d;
      read_dims(&in_d), read_dims(&out_d);
      const int32_t accumulate = read_i32();
      read_f32s(go, dims_count(&out_d));
      read_f32s(gi, dims_count(&in_d));
      mt_avg_pool_grad_f32(&p, &in_d, &out_d, go, gi, accumulate);
      print_f32s(gi, dims_count(&in_d));
      break;
    }
    case OP_MEAN_GRAD: {
      mt_dims4 in_d;
      read_dims(&in_d);
      const int32_t accumulate = read_i32();
      read_f32s(go, in_d.n * in_d.c);
      read_f32s(gi, dims_count(&in_d));
      mt_mean_hw_grad_f32(&in_d, go, gi, accumulate);
      print_f32s(gi, dims_count(&in_d));
      break;
    }
    case OP_PAD_GRAD: {
      mt_dims4 in_d, out_d;
      int32_t before[4];
      read_dims(&in_d), read_dims(&out_d);
      read_i32s(before, 4, 4);
      const int32_t accumulate = read_i32();
      read_f32s(go, dims_count(&out_d));
      read_f32s(gi, dims_count(&in_d));
      mt_pad_grad_f32(&in_d, &out_d, before, go, gi, accumulate);
      print_f32s(gi, dims_count(&in_d));
      break;
    }
    case OP_BIAS_UPDATE: {
      mt_dims4 out_d;
      read_dims(&out_d);
      const int32_t n_channels = read_i32();
      mt_sgd sgd;
      int32_t has_momentum;
      read_sgd(&sgd, &has_momentum);
      read_i32s(bias_buf, out_d.c, CAP);
      read_f32s(gf, n_channels);
      read_f32s(mom, n_channels);
      read_f32s(go, dims_count(&out_d));
      mt_bias_update_s32(&out_d, go, bias_buf, gf, n_channels, &sgd, has_momentum ? mom : NULL);
      print_i32s_(bias_buf, out_d.c);
      print_f32s(mom, n_channels);
      break;
    }
    case OP_CONV_UPDATE:
    case OP_DW_UPDATE: {
      mt_conv_params p = read_conv_geometry();
      const int32_t depth_multiplier = op == OP_DW_UPDATE ? read_i32() : 1;
      p.input_offset = read_i32();
      mt_dims4 in_d, f_d, out_d;
      read_dims(&in_d), read_dims(&f_d), read_dims(&out_d);
      const float input_scale = read_f32();
      const int32_t n_channels = read_i32();
      mt_sgd sgd;
      int32_t has_momentum;
      read_sgd(&sgd, &has_momentum);
      const int32_t per_channel = op == OP_DW_UPDATE ? f_d.h * f_d.w : f_d.h * f_d.w * f_d.c;
      read_i8s(in8, dims_count(&in_d), CAP);
      read_i8s(w8, dims_count(&f_d), CAP);
      read_f32s(gf, n_channels);
      read_f32s(mom, n_channels * per_channel);
      read_f32s(go, dims_count(&out_d));
      float *m = has_momentum ? mom : NULL;
      if (op == OP_CONV_UPDATE) {
        mt_conv_update_weights_s8(&p, &in_d, in8, input_scale, &f_d, w8, gf, n_channels, &out_d, go, &sgd, m);
      } else {
        const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w,
                                            depth_multiplier, p.input_offset, 0, -128, 127};
        mt_depthwise_conv_update_weights_s8(&d, &in_d, in8, input_scale, &f_d, w8, gf, n_channels, &out_d, go, &sgd,
                                            m);
      }
      print_i8s_(w8, dims_count(&f_d));
      print_f32s(mom, n_channels * per_channel);
      break;
    }
    case OP_FC_UPDATE: {
      const int32_t batches = read_i32(), depth = read_i32(), out_depth = read_i32();
      const float input_scale = read_f32();
      const int32_t input_offset = read_i32(), n_channels = read_i32();
      mt_sgd sgd;
      int32_t has_momentum;
      read_sgd(&sgd, &has_momentum);
      read_i8s(in8, batches * depth, CAP);
      read_i8s(w8, depth * out_depth, CAP);
      read_f32s(gf, n_channels);
      read_f32s(mom, n_channels * depth);
      read_f32s(go, batches * out_depth);
      mt_fully_connected_update_weights_s8(batches, depth, out_depth, in8, input_scale, input_offset, w8, gf,
                                           n_channels, go, &sgd, has_momentum ? mom : NULL);
      print_i8s_(w8, depth * out_depth);
      print_f32s(mom, n_channels * depth);
      break;
    }
    default:
      fprintf(stderr, "run: unknown op %ld\n", (long)op);
      exit(2);
  }
  printf("\n");
}

static int run_cases(void) {
  const int32_t cases = read_i32();
  for (int32_t k = 0; k < cases; ++k) run_case();
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "run") == 0) return run_cases();
  if (argc > 1 && strcmp(argv[1], "digest") == 0) {
    digest_all();
    return 0;
  }
  hand_rounding_and_steps();
  hand_exp_log();
  hand_softmax();
  hand_conv_grad_input();
  property_pointwise_is_fc();
  return test_report("train");
}
#endif
