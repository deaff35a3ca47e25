/* What the digest batteries (kernel_test_train.c, kernel_test_grad_int.c) share: where the text goes
 * (MT_DIGEST_BOARD 1: a bare-metal main on an emulated MPS2 board, UART0; 0: the host's stdout),
 * random integers from a fixed xorshift32, an FNV-1a hash of every output word, "DIGEST <name> <hash>"
 * lines, random dims. The same sequence and hash on the host and on a board, with no C library on the
 * board. Everything is static: a harness uses what it needs. */
#ifndef MCUTRAIN_DIGEST_H
#define MCUTRAIN_DIGEST_H

#include <stdint.h>

#include "mcutrain/kernels/common.h"

#if defined(__arm__) && !defined(__linux__)
#define MT_DIGEST_BOARD 1
#include "mcutrain/platform.h"
#include "mps2.h"
static inline void put_str(const char *s) { mt_mps2_uart_puts(s); }
#else
#define MT_DIGEST_BOARD 0
#include <stdio.h>
static inline void put_str(const char *s) { fputs(s, stdout); }
#endif

static uint32_t dg_rng = 0x2545f491u, dg_hash = 2166136261u;

static inline uint32_t dg_next(void) {
  dg_rng ^= dg_rng << 13;
  dg_rng ^= dg_rng >> 17;
  dg_rng ^= dg_rng << 5;
  return dg_rng;
}

static inline int32_t dg_int(int32_t lo, int32_t hi) { return lo + (int32_t)(dg_next() % (uint32_t)(hi - lo + 1)); }

static inline void dg_fill_i8(int8_t *a, int32_t n, int32_t lo, int32_t hi) {
  for (int32_t i = 0; i < n; ++i) a[i] = (int8_t)dg_int(lo, hi);
}

/* FNV-1a over 32-bit words */
static inline void dg_mix(uint32_t v) {
  for (int i = 0; i < 4; ++i) dg_hash = (dg_hash ^ ((v >> (8 * i)) & 0xffu)) * 16777619u;
}

static inline void dg_mix_i32s(const int32_t *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) dg_mix((uint32_t)a[i]);
}

static inline void dg_mix_i8s(const int8_t *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) dg_mix((uint32_t)(int32_t)a[i]);
}

/* "DIGEST <name> <hash>", then a fresh hash. */
static inline void dg_report(const char *name) {
  char hex[9];
  for (int i = 0; i < 8; ++i) hex[i] = "0123456789abcdef"[(dg_hash >> (28 - 4 * i)) & 0xfu];
  hex[8] = 0;
  put_str("DIGEST ");
  put_str(name);
  put_str(" ");
  put_str(hex);
  put_str("\n");
  dg_hash = 2166136261u;
}

#if MT_DIGEST_BOARD
/* A board image's whole run: "ready", the battery's digests, "DONE", then the exit the runner waits for. */
static inline void dg_run_on_board(void (*digest_all)(void)) {
  put_str("ready\n");
  digest_all();
  put_str("DONE\n");
  mt_platform_exit(0);
}
#endif

static inline int32_t dg_count(const mt_dims4 *d) { return d->n * d->h * d->w * d->c; }

/* Random dims, drawn n, h, w, c in that order (the elements of a braced initializer, like the arguments
 * of a call, are evaluated in an unspecified order: never draw inside one, or the boards disagree). */
static inline mt_dims4 dg_dims(int32_t n_hi, int32_t h_hi, int32_t w_hi, int32_t c_hi) {
  mt_dims4 d;
  d.n = dg_int(1, n_hi);
  d.h = dg_int(1, h_hi);
  d.w = dg_int(1, w_hi);
  d.c = dg_int(1, c_hi);
  return d;
}

#endif /* MCUTRAIN_DIGEST_H */
