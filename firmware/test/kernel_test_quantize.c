/* QUANTIZE (float32 -> int8) / DEQUANTIZE (int8 -> float32) kernel tests: hand-worked values
 * (ties away from zero, saturation, infinities, NaN) and a stdin "run" mode (per case: kind
 * (0 quantize, 1 dequantize), scale as its IEEE-754 bits, zero point, count, then the input: float
 * bits or int8 values). Dequantized outputs are printed as float bits, so nothing is lost in text. */
#include <math.h>

#include "kernel_test_util.h"
#include "mcutrain/kernels/quantize.h"

#define CAP (1 << 14)
static float float_buf[CAP];
static int8_t int8_buf[CAP];

static float float_from_bits(int32_t bits) { return test_f32_from_bits((uint32_t)bits); }

static int32_t bits_from_float(float f) { return (int32_t)test_bits_of_f32(f); }

static void hand_values(void) {
  /* scale 1/2, zero point 3: x / scale = 2x; ties (+-2.5) go away from zero */
  const mt_quantize_params half = {0.5f, 3, 10};
  const float in[10] = {1.25f, -1.25f, 0.0f, -0.0f, 0.2f, -0.3f, 1000.0f, -1000.0f, INFINITY, -INFINITY};
  const int8_t want[10] = {6, 0, 3, 3, 3, 2, 127, -128, 127, -128};
  int8_t out[10];
  mt_quantize_f32_s8(&half, in, out);
  expect_i8("quantize", out, want, 10);
  /* NaN has no number to round: it lands on the int8 minimum */
  const mt_quantize_params one = {1.0f, 0, 1};
  const float nan_in[1] = {NAN};
  const int8_t want_nan[1] = {-128};
  mt_quantize_f32_s8(&one, nan_in, out);
  expect_i8("quantize NaN", out, want_nan, 1);

  /* scale 1/4, zero point -3: q = 5 is 8 steps above zero, 2.0; q = -128 is -31.25 */
  const mt_quantize_params quarter = {0.25f, -3, 3};
  const int8_t q[3] = {5, -3, -128};
  const float want_f[3] = {2.0f, 0.0f, -31.25f};
  float got_f[3];
  mt_dequantize_s8_f32(&quarter, q, got_f);
  for (int i = 0; i < 3; ++i) {
    if (got_f[i] != want_f[i]) {
      printf("FAIL dequantize: element %d is %g, expected %g\n", i, got_f[i], want_f[i]);
      ++test_failures;
    }
  }
}

static void run(void) {
  const int32_t cases = read_i32();
  for (int32_t k = 0; k < cases; ++k) {
    const int32_t kind = read_i32();
    mt_quantize_params p;
    p.scale = float_from_bits(read_i32());
    p.zero_point = read_i32();
    p.count = read_i32();
    require_fits(p.count, CAP);
    if (kind == 0) {
      for (int32_t i = 0; i < p.count; ++i) float_buf[i] = float_from_bits(read_i32());
      mt_quantize_f32_s8(&p, float_buf, int8_buf);
      print_i8s(int8_buf, p.count);
    } else {
      read_i8s(int8_buf, p.count, CAP);
      mt_dequantize_s8_f32(&p, int8_buf, float_buf);
      for (int32_t i = 0; i < p.count; ++i) printf(i ? " %ld" : "%ld", (long)bits_from_float(float_buf[i]));
      printf("\n");
    }
  }
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "run") == 0) {
    run();
    return 0;
  }
  hand_values();
  return test_report("quantize");
}
