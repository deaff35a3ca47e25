/* What the random-case kernel harnesses (kernel_test_dsp.c, kernel_test_split.c) and kernel_bench_int.c
 * share: text output, on the host (stdio; built with MT_HARNESS_HOST or MT_DSP_EMULATE) or an emulated
 * MPS2 board (UART0, SysTick, semihosting, and get_u32 to read the run's parameters), and xorshift32
 * random numbers, the same sequence on every platform. Everything is static inline: a harness uses what
 * it needs. */
#ifndef MCUTRAIN_HARNESS_IO_H
#define MCUTRAIN_HARNESS_IO_H

#include <stdint.h>

#if defined(MT_HARNESS_HOST) || defined(MT_DSP_EMULATE)
#include <stdio.h>
#include <stdlib.h>
static inline void put_str(const char *s) { fputs(s, stdout); }
static inline uint32_t ticks(void) { return 0; }
#else
#include "mcutrain/platform.h"
#include "mps2.h"
static inline void put_str(const char *s) { mt_mps2_uart_puts(s); }
static inline uint32_t ticks(void) { return mt_platform_ticks(); }
static inline uint32_t get_u32(void) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)(uint8_t)mt_mps2_uart_getc(0xFFFFFFFFu) << (8 * i);
  return v;
}
#endif

static inline void put_int(int64_t v) {
  char buf[24];
  int i = (int)sizeof buf - 1;
  const int negative = v < 0;
  uint64_t u = negative ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + (int)(u % 10u));
    u /= 10u;
  } while (u != 0);
  if (negative) buf[--i] = '-';
  put_str(&buf[i]);
}

static inline void put_kv(const char *key, int64_t v) {
  put_str(" ");
  put_str(key);
  put_str("=");
  put_int(v);
}

/* "CASES <kernel> <cases> <mismatching cases>": how a harness reports each kernel. */
static inline void put_cases(const char *kernel, int32_t cases, int32_t bad) {
  put_str("CASES ");
  put_str(kernel);
  put_str(" ");
  put_int(cases);
  put_str(" ");
  put_int(bad);
  put_str("\n");
}

static uint32_t rng_state = 1;

static inline uint32_t rand_u32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Uniform enough on [lo, hi] (hi - lo < 2^32). */
static inline int32_t rand_in(int32_t lo, int32_t hi) {
  const uint32_t span = (uint32_t)hi - (uint32_t)lo + 1u;
  return span == 0 ? (int32_t)rand_u32() : (int32_t)((uint32_t)lo + rand_u32() % span);
}

#endif /* MCUTRAIN_HARNESS_IO_H */
