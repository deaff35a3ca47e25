/* Shared by the kernel test harnesses (host and emulated boards):
 * failure-counting checks, a deterministic PRNG for property checks, and the
 * "run" mode that reads cases as whitespace-separated integers from stdin so
 * the vitest suites can compare kernels with an independent oracle. */
#ifndef MCUTRAIN_KERNEL_TEST_UTIL_H
#define MCUTRAIN_KERNEL_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcutrain/kernels/common.h"
#include "mcutrain/kernels/conv.h"

static int test_failures = 0;

static inline void expect_i8(const char *what, const int8_t *got, const int8_t *want, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      printf("FAIL %s: element %ld is %d, expected %d\n", what, (long)i, got[i], want[i]);
      ++test_failures;
      return;
    }
  }
}

static inline int test_report(const char *suite) {
  if (test_failures == 0) printf("PASS %s\n", suite);
  else printf("%d FAILED in %s\n", test_failures, suite);
  return test_failures == 0 ? 0 : 1;
}

/* A float from its IEEE-754 bits and back: harnesses pass floats as bits so nothing is lost in text. */
static inline float test_f32_from_bits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline uint32_t test_bits_of_f32(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

/* xorshift32: the same sequence on every platform. */
static uint32_t test_rng = 0x9e3779b9u;

static inline int32_t rand_in(int32_t lo, int32_t hi) {
  test_rng ^= test_rng << 13;
  test_rng ^= test_rng >> 17;
  test_rng ^= test_rng << 5;
  return lo + (int32_t)(test_rng % (uint32_t)(hi - lo + 1));
}

static inline void fill_i8(int8_t *a, int32_t n, int32_t lo, int32_t hi) {
  for (int32_t i = 0; i < n; ++i) a[i] = (int8_t)rand_in(lo, hi);
}

static inline void fill_i32(int32_t *a, int32_t n, int32_t lo, int32_t hi) {
  for (int32_t i = 0; i < n; ++i) a[i] = rand_in(lo, hi);
}

static inline int32_t dims_count(const mt_dims4 *d) { return d->n * d->h * d->w * d->c; }

/* ---- run mode ---- */

static inline int32_t read_i32(void) {
  long v;
  if (scanf("%ld", &v) != 1) {
    fprintf(stderr, "run: malformed or truncated case input\n");
    exit(2);
  }
  return (int32_t)v;
}

static inline void read_dims(mt_dims4 *d) {
  d->n = read_i32();
  d->h = read_i32();
  d->w = read_i32();
  d->c = read_i32();
}

static inline void require_fits(int32_t n, int32_t cap) {
  if (n < 0 || n > cap) {
    fprintf(stderr, "run: case needs %ld elements, harness holds %ld\n", (long)n, (long)cap);
    exit(2);
  }
}

static inline void read_i8s(int8_t *a, int32_t n, int32_t cap) {
  require_fits(n, cap);
  for (int32_t i = 0; i < n; ++i) a[i] = (int8_t)read_i32();
}

/* A float given as the hex of its bits (the harnesses' run mode passes floats so, losing nothing). */
static inline float read_f32(void) {
  unsigned long v;
  if (scanf("%lx", &v) != 1) {
    fprintf(stderr, "run: malformed or truncated case input\n");
    exit(2);
  }
  return test_f32_from_bits((uint32_t)v);
}

static inline void read_f32s_cap(float *a, int32_t n, int32_t cap) {
  require_fits(n, cap);
  for (int32_t i = 0; i < n; ++i) a[i] = read_f32();
}

static inline void read_i32s(int32_t *a, int32_t n, int32_t cap) {
  require_fits(n, cap);
  for (int32_t i = 0; i < n; ++i) a[i] = read_i32();
}

/* A conv's geometry as the run-mode cases give it (stride h w, dilation h w, pad h w); the rest at defaults. */
static inline mt_conv_params read_conv_geometry(void) {
  mt_conv_params p = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
  p.stride_h = read_i32(), p.stride_w = read_i32();
  p.dilation_h = read_i32(), p.dilation_w = read_i32();
  p.pad_h = read_i32(), p.pad_w = read_i32();
  return p;
}

static inline void print_i8s(const int8_t *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) printf(i ? " %d" : "%d", a[i]);
  printf("\n");
}

#endif /* MCUTRAIN_KERNEL_TEST_UTIL_H */
