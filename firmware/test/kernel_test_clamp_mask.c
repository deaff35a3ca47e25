/* 1-bit clamp mask kernels (clamp_mask.c): a hand-worked example and the property the engine relies
 * on (apply(pack(out)) zeroes exactly what mt_clamp_mask_f32(out) zeroes), plus a stdin "run" mode
 * through which test/kernels/clamp_mask.test.ts compares both kernels with a TypeScript reference.
 * Cases: "1 n act_min act_max out[n]" packs (prints (n + 7) / 8 mask bytes, then the byte after them,
 * which must still hold its 0xa5 guard); "2 n bits[(n + 7) / 8] grad[n]" applies (grads as hex bits). */
#include <stdint.h>

#include "mcutrain/kernels/train.h"
#include "kernel_test_util.h"

#define CAP 4096
#define GUARD 0xa5
static int8_t out8[CAP];
static uint8_t bits[CAP / 8 + 2];
static float grad[CAP], want[CAP];

static void expect_bytes(const char *what, const uint8_t *got, const uint8_t *expected, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (got[i] != expected[i]) {
      printf("FAIL %s: byte %ld is 0x%02x, expected 0x%02x\n", what, (long)i, got[i], expected[i]);
      ++test_failures;
      return;
    }
  }
}

/* ReLU6-like range [-128, 5]: 0x16 = elements 1, 2, 4 pass; the last byte holds element 8 only. */
static void hand_pack(void) {
  const int8_t out[9] = {-128, -127, 0, 5, 4, 127, -128, 6, 1};
  memset(bits, GUARD, sizeof bits);
  mt_clamp_mask_pack_s8(out, bits, 9, -128, 5);
  const uint8_t expected[3] = {0x16, 0x01, GUARD};
  expect_bytes("pack hand", bits, expected, 3);
}

/* On random outputs (boundaries included) and every n up to 70, pack + apply == the unpacked mask. */
static void property_matches_unpacked(void) {
  for (int32_t n = 0; n <= 70; ++n) {
    const int32_t act_min = rand_in(-128, 0), act_max = rand_in(act_min + 1, 127);
    fill_i8(out8, n, act_min, act_max);
    for (int32_t i = 0; i < n; ++i) grad[i] = want[i] = (float)rand_in(-1000, 1000) * 0.25f + 0.125f;
    mt_clamp_mask_f32(out8, want, n, act_min, act_max);
    mt_clamp_mask_pack_s8(out8, bits, n, act_min, act_max);
    mt_mask_apply_f32(bits, grad, n);
    for (int32_t i = 0; i < n; ++i) {
      if (test_bits_of_f32(grad[i]) != test_bits_of_f32(want[i])) {
        printf("FAIL pack + apply != mt_clamp_mask_f32 at n %ld, element %ld\n", (long)n, (long)i);
        ++test_failures;
        break;
      }
    }
  }
}

static void run_case(void) {
  const int32_t op = read_i32(), n = read_i32();
  require_fits(n, CAP);
  const int32_t bytes = (n + 7) / 8;
  if (op == 1) {
    const int32_t act_min = read_i32(), act_max = read_i32();
    read_i8s(out8, n, CAP);
    memset(bits, GUARD, sizeof bits);
    mt_clamp_mask_pack_s8(out8, bits, n, act_min, act_max);
    for (int32_t i = 0; i <= bytes; ++i) printf(" %d", bits[i]);
  } else if (op == 2) {
    for (int32_t i = 0; i < bytes; ++i) bits[i] = (uint8_t)read_i32();
    for (int32_t i = 0; i < n; ++i) {
      unsigned long v;
      if (scanf("%lx", &v) != 1) exit(2);
      grad[i] = test_f32_from_bits((uint32_t)v);
    }
    mt_mask_apply_f32(bits, grad, n);
    for (int32_t i = 0; i < n; ++i) printf(" %08lx", (unsigned long)test_bits_of_f32(grad[i]));
  } else {
    fprintf(stderr, "run: unknown case %ld\n", (long)op);
    exit(2);
  }
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "run") == 0) {
    const int32_t cases = read_i32();
    for (int32_t k = 0; k < cases; ++k) run_case();
    return 0;
  }
  hand_pack();
  property_matches_unpacked();
  return test_report("clamp_mask");
}
