/* Shared by the run modes of the narrow-gradient harnesses (kernel_test_grad_narrow.c, float-scaled, and
 * kernel_test_grad_int.c, integer-only): the gradient buffers of the current width, reading and printing
 * them, and the cases whose fields and calls are the same in both. Before including it, define CAP (the
 * buffers' size), BOTH(fn, ...), which calls the harness's 16- or 8-bit variant of kernel fn by `bits`
 * (BY_WIDTH below makes one), and the enum of ops. */
#ifndef MCUTRAIN_GRAD_CASE_IO_H
#define MCUTRAIN_GRAD_CASE_IO_H

#include <stdint.h>
#include <stdio.h>

#include "kernel_test_util.h"

/* Calls fn's 16-bit variant (fn with suffix s16) or its 8-bit one by the case's width: a harness's BOTH. */
#define BY_WIDTH(fn, s16, s8, ...)          \
  do {                                      \
    if (bits == 16) fn##s16(__VA_ARGS__);   \
    else fn##s8(__VA_ARGS__);               \
  } while (0)

static int8_t q8a[CAP], q8b[CAP];
static int16_t q16a[CAP], q16b[CAP];
static int32_t ints[CAP];

/* The case's gradient width: 16 or 8. */
static int32_t bits;

/* A gradient read into buffer a (which 0) or b, returned as the kernels' void pointer. */
static void *read_grad(int which, int32_t n) {
  read_i32s(ints, n, CAP);
  int16_t *q16 = which == 0 ? q16a : q16b;
  int8_t *q8 = which == 0 ? q8a : q8b;
  for (int32_t i = 0; i < n; ++i) {
    q16[i] = (int16_t)ints[i];
    q8[i] = (int8_t)ints[i];
  }
  return bits == 16 ? (void *)q16 : (void *)q8;
}

static void print_grad(const void *g, int32_t n) {
  for (int32_t i = 0; i < n; ++i) printf(" %d", bits == 16 ? ((const int16_t *)g)[i] : ((const int8_t *)g)[i]);
}

/* grad_out (a) with its exponent, the old grad_in (b) with its exponent and accumulate. */
typedef struct {
  void *go, *gi;
  int8_t e_out, e_in;
  int32_t accumulate;
} grads;

static grads read_grads(int32_t n_out, int32_t n_in) {
  grads g;
  g.e_out = (int8_t)read_i32();
  g.go = read_grad(0, n_out);
  g.e_in = (int8_t)read_i32();
  g.accumulate = read_i32();
  g.gi = read_grad(1, n_in);
  return g;
}

static void print_result(const grads *g, int32_t n_in) {
  printf(" %d", g->e_in);
  print_grad(g->gi, n_in);
}

/* A weight update's layer as the cases give it: FULLY_CONNECTED's batches, depth and out_depth, or a conv's
 * geometry (then the depth multiplier, for depthwise) and dims; then the input offset. */
typedef struct {
  mt_conv_params p;
  mt_depthwise_conv_params d; /* p as depthwise params */
  int32_t batches, depth, out_depth;
  mt_dims4 in_d, f_d, out_d;
  int32_t n_in, n_w, n_out; /* the element counts of input, filter and output gradient */
} update_shape;

static update_shape read_update_shape(int32_t fc, int32_t depthwise) {
  const mt_conv_params base = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
  const mt_dims4 none = {0, 0, 0, 0};
  update_shape u;
  int32_t dm = 1;
  u.p = base;
  u.batches = u.depth = u.out_depth = 0;
  u.in_d = u.f_d = u.out_d = none;
  if (fc) {
    u.batches = read_i32(), u.depth = read_i32(), u.out_depth = read_i32();
  } else {
    u.p = read_conv_geometry();
    if (depthwise) dm = read_i32();
    read_dims(&u.in_d), read_dims(&u.f_d), read_dims(&u.out_d);
  }
  u.p.input_offset = read_i32();
  const mt_depthwise_conv_params d = {u.p.stride_h, u.p.stride_w, u.p.dilation_h, u.p.dilation_w, u.p.pad_h, u.p.pad_w, dm,
                                      u.p.input_offset, 0, -128, 127};
  u.d = d;
  u.n_in = fc ? u.batches * u.depth : dims_count(&u.in_d);
  u.n_w = fc ? u.depth * u.out_depth : dims_count(&u.f_d);
  u.n_out = fc ? u.batches * u.out_depth : dims_count(&u.out_d);
  return u;
}

/* The cases both harnesses read and run alike (OP_COPY, OP_POOL_GI, OP_MEAN_GI, OP_PAD_GI of the includer's
 * enum, defined before this header); any other op reaching here is unknown to the harness: exit 2. */
static void run_common_case(int32_t op) {
  switch (op) {
    case OP_COPY: {
      const int32_t n = read_i32();
      grads g = read_grads(n, n);
      BOTH(mt_grad_copy, g.go, &g.e_out, g.gi, &g.e_in, n, g.accumulate);
      print_result(&g, n);
      break;
    }
    case OP_POOL_GI: {
      mt_pooling_params p = {1, 1, 1, 1, 0, 0, -128, 127};
      p.stride_h = read_i32(), p.stride_w = read_i32(), p.filter_h = read_i32(), p.filter_w = read_i32();
      p.pad_h = read_i32(), p.pad_w = read_i32();
      mt_dims4 in_d, out_d;
      read_dims(&in_d), read_dims(&out_d);
      grads g = read_grads(dims_count(&out_d), dims_count(&in_d));
      BOTH(mt_avg_pool_grad, &p, &in_d, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      print_result(&g, dims_count(&in_d));
      break;
    }
    case OP_MEAN_GI: {
      mt_dims4 in_d;
      read_dims(&in_d);
      grads g = read_grads(in_d.n * in_d.c, dims_count(&in_d));
      BOTH(mt_mean_hw_grad, &in_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      print_result(&g, dims_count(&in_d));
      break;
    }
    case OP_PAD_GI: {
      mt_dims4 in_d, out_d;
      read_dims(&in_d), read_dims(&out_d);
      int32_t before[4];
      read_i32s(before, 4, 4);
      grads g = read_grads(dims_count(&out_d), dims_count(&in_d));
      BOTH(mt_pad_grad, &in_d, &out_d, before, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      print_result(&g, dims_count(&in_d));
      break;
    }
    default:
      fprintf(stderr, "run: unknown op %ld\n", (long)op);
      exit(2);
  }
}

/* The harness's own cases, defined after this header: a switch on op whose default is run_common_case(op). */
static void run_own_case(int32_t op);

/* Run mode: the number of cases, then per case its op, its gradient width and its fields; one line of results
 * per case. */
static void run_cases(void) {
  const int32_t cases = read_i32();
  for (int32_t i = 0; i < cases; ++i) {
    const int32_t op = read_i32();
    bits = read_i32();
    run_own_case(op);
    printf("\n");
  }
}

#endif
