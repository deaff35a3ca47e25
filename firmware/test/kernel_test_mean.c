/* MEAN kernel tests: hand-worked means in the three modes (truncating integer mean, requantizing
 * mean, float mean), and a stdin "run" mode (per case: mode input_zp output_zp multiplier shift,
 * scale and bias as IEEE-754 bits, n h w c, then the int8 NHWC input) for the vitest suite. */
#include "kernel_test_util.h"
#include "mcutrain/kernels/mean.h"

#define CAP (1 << 17) /* a 7x7x1280 global average fits */
static int8_t input_buf[CAP], output_buf[CAP];

static void hand_means(void) {
  /* 2x2 window, two channels: channel 0 holds -1, 0, -2, 1 (mean -0.5), channel 1 holds 3, 3, 2, 3 (2.75) */
  const mt_dims4 d = {1, 2, 2, 2};
  const int8_t in[8] = {-1, 3, 0, 3, -2, 2, 1, 3};
  int8_t out[2];
  /* truncation toward zero, not rounding (the interpreter between equal quantizations) */
  const mt_mean_params divide = {MT_MEAN_DIVIDE, 0, 0, 0, 0, 0.0f, 0.0f};
  const int8_t want_divide[2] = {0, 2};
  mt_mean_s8(&divide, &d, in, out);
  expect_i8("divide truncates", out, want_divide, 2);
  /* requantize with scale ratio 1 over 4 elements: QuantizeMultiplier(1) = (2^30, 1), 1/4 folded in
   * as TFLite does: shift by floor(log2 4) = 2 -> multiplier 2^30 * 4 / 4, shift 1 - 2 = -1.
   * Means -0.5 and 2.75 round half away from zero to -1 and 3. */
  const mt_mean_params requant = {MT_MEAN_REQUANTIZE, 0, 0, 1 << 30, -1, 0.0f, 0.0f};
  const int8_t want_requant[2] = {-1, 3};
  mt_mean_s8(&requant, &d, in, out);
  expect_i8("requantize rounds", out, want_requant, 2);
  /* zero points: input zp 2 and output zp -3 shift the mean by -2 and then by -3: -0.5-2-3 = -5.5 -> -6 */
  const mt_mean_params offsets = {MT_MEAN_REQUANTIZE, 2, -3, 1 << 30, -1, 0.0f, 0.0f};
  const int8_t want_offsets[2] = {-6, -2};
  mt_mean_s8(&offsets, &d, in, out);
  expect_i8("zero points", out, want_offsets, 2);
  /* saturation: a mean of 127 at output scale / 4 would be 508 */
  const mt_dims4 d1 = {2, 1, 1, 1};
  const int8_t big[2] = {127, -128};
  const mt_mean_params times4 = {MT_MEAN_REQUANTIZE, 0, 0, 1 << 30, 3, 0.0f, 0.0f};
  const int8_t want_big[2] = {127, -128};
  mt_mean_s8(&times4, &d1, big, out);
  expect_i8("saturates", out, want_big, 2);
  /* float: scale 2, bias -1.5 (input zero point 0.75 at scale 2), output zero point 1:
   * round(-0.5 * 2 - 1.5) + 1 = round(-2.5) + 1 = -2 and round(2.75 * 2 - 1.5) + 1 = 5 */
  const mt_mean_params in_float = {MT_MEAN_FLOAT, 0, 1, 0, 0, 2.0f, -1.5f};
  const int8_t want_float[2] = {-2, 5};
  mt_mean_s8(&in_float, &d, in, out);
  expect_i8("float rounds half away from zero", out, want_float, 2);
  const mt_mean_params float_big = {MT_MEAN_FLOAT, 0, 0, 0, 0, 1e20f, 0.0f};
  mt_mean_s8(&float_big, &d1, big, out);
  expect_i8("float saturates", out, want_big, 2);
}

static void run(void) {
  const int32_t cases = read_i32();
  for (int32_t k = 0; k < cases; ++k) {
    mt_mean_params p;
    p.mode = read_i32();
    p.input_zero_point = read_i32();
    p.output_zero_point = read_i32();
    p.multiplier = read_i32();
    p.shift = read_i32();
    p.scale = test_f32_from_bits((uint32_t)read_i32());
    p.bias = test_f32_from_bits((uint32_t)read_i32());
    mt_dims4 d;
    read_dims(&d);
    read_i8s(input_buf, dims_count(&d), CAP);
    mt_mean_s8(&p, &d, input_buf, output_buf);
    print_i8s(output_buf, d.n * d.c);
  }
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "run") == 0) {
    run();
    return 0;
  }
  hand_means();
  return test_report("mean");
}
