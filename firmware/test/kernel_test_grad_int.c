/* Harness of the integer-only training kernels (train_int.h), run mode only: one case per line on stdin,
 * "<op> <bits> <fields...>" (bits 16 or 8; all integers), one line of results per case, which
 * test/kernels/grad_int.test.ts compares with its mirror (grad_int_reference.ts). */
#include <stdint.h>
#include <stdio.h>

#include "mcutrain/kernels/train_int.h"
#include "kernel_test_util.h"

#define CAP 65536
static int8_t in8[CAP], w8[CAP], q8a[CAP], q8b[CAP];
static int16_t q16a[CAP], q16b[CAP];
static int32_t ints[CAP], bias[CAP], scale_q[CAP], mult[CAP], shift[CAP];

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

#define BOTH(fn, ...)                      \
  do {                                     \
    if (bits == 16) fn##_i16(__VA_ARGS__); \
    else fn##_i8(__VA_ARGS__);             \
  } while (0)

enum { OP_LOSS = 1, OP_COPY, OP_CONV_GI, OP_DW_GI, OP_FC_GI, OP_POOL_GI, OP_MEAN_GI, OP_BIAS, OP_CONV_UPDATE,
       OP_DW_UPDATE, OP_FC_UPDATE };

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

/* n scale multipliers and the exponent. */
static mt_int_scales read_scales(int32_t n) {
  read_i32s(scale_q, n, CAP);
  mt_int_scales s = {scale_q, read_i32()};
  return s;
}

/* lr multiplier, lr shift, rounding, rng state; then n channel multipliers and n shifts. */
static mt_sgd_int read_sgd(void) {
  mt_sgd_int s;
  s.lr_multiplier = read_i32();
  s.lr_shift = read_i32();
  s.rounding = read_i32();
  s.rng = (uint32_t)read_i32();
  return s;
}

static mt_int_factors read_factors(int32_t n) {
  read_i32s(mult, n, CAP);
  read_i32s(shift, n, CAP);
  mt_int_factors f = {mult, shift};
  return f;
}

static void run_case(void) {
  const int32_t op = read_i32();
  bits = read_i32();
  switch (op) {
    case OP_LOSS: {
      const int32_t n = read_i32();
      mt_xent_int_params p;
      p.input_multiplier = read_i32(), p.input_left_shift = read_i32(), p.diff_min = read_i32();
      const int32_t label = read_i32();
      read_i8s(in8, n, CAP);
      int32_t predicted = -7;
      int8_t e = 99;
      void *g = bits == 16 ? (void *)q16a : (void *)q8a;
      const int32_t loss = bits == 16 ? mt_softmax_xent_s8_grad_i16(in8, n, &p, label, g, &e, &predicted)
                                      : mt_softmax_xent_s8_grad_i8(in8, n, &p, label, g, &e, &predicted);
      printf(" %ld %ld %d", (long)loss, (long)predicted, e);
      print_grad(g, n);
      break;
    }
    case OP_COPY: {
      const int32_t n = read_i32();
      grads g = read_grads(n, n);
      BOTH(mt_grad_copy, g.go, &g.e_out, g.gi, &g.e_in, n, g.accumulate);
      print_result(&g, n);
      break;
    }
    case OP_CONV_GI:
    case OP_DW_GI: {
      mt_conv_params p = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
      p.stride_h = read_i32(), p.stride_w = read_i32();
      p.dilation_h = read_i32(), p.dilation_w = read_i32();
      p.pad_h = read_i32(), p.pad_w = read_i32();
      const int32_t dm = op == OP_DW_GI ? read_i32() : 1;
      mt_dims4 in_d, f_d, out_d;
      read_dims(&in_d), read_dims(&f_d), read_dims(&out_d);
      read_i8s(w8, dims_count(&f_d), CAP);
      const mt_int_scales s = read_scales(out_d.c);
      grads g = read_grads(dims_count(&out_d), dims_count(&in_d));
      if (op == OP_CONV_GI) {
        BOTH(mt_conv_grad_input, &p, &in_d, &f_d, w8, &s, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      } else {
        const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w, dm, 0, 0, -128, 127};
        BOTH(mt_depthwise_conv_grad_input, &d, &in_d, &f_d, w8, &s, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      }
      print_result(&g, dims_count(&in_d));
      break;
    }
    case OP_FC_GI: {
      const int32_t batches = read_i32(), depth = read_i32(), out_depth = read_i32();
      read_i8s(w8, depth * out_depth, CAP);
      const mt_int_scales s = read_scales(out_depth);
      grads g = read_grads(batches * out_depth, batches * depth);
      BOTH(mt_fully_connected_grad_input, batches, depth, out_depth, w8, &s, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      print_result(&g, batches * depth);
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
    case OP_BIAS: {
      mt_dims4 out_d;
      read_dims(&out_d);
      const int32_t n_channels = read_i32();
      mt_sgd_int sgd = read_sgd();
      const mt_int_factors f = read_factors(n_channels);
      read_i32s(bias, n_channels, CAP);
      const int8_t e = (int8_t)read_i32();
      void *go = read_grad(0, dims_count(&out_d));
      BOTH(mt_bias_update_s32, &out_d, go, &e, bias, &f, n_channels, &sgd);
      for (int32_t i = 0; i < n_channels; ++i) printf(" %ld", (long)bias[i]);
      printf(" %lu", (unsigned long)sgd.rng);
      break;
    }
    case OP_CONV_UPDATE:
    case OP_DW_UPDATE:
    case OP_FC_UPDATE: {
      mt_conv_params p = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
      int32_t dm = 1, batches = 0, depth = 0, out_depth = 0;
      mt_dims4 in_d = {0, 0, 0, 0}, f_d = {0, 0, 0, 0}, out_d = {0, 0, 0, 0};
      if (op == OP_FC_UPDATE) {
        batches = read_i32(), depth = read_i32(), out_depth = read_i32();
      } else {
        p.stride_h = read_i32(), p.stride_w = read_i32();
        p.dilation_h = read_i32(), p.dilation_w = read_i32();
        p.pad_h = read_i32(), p.pad_w = read_i32();
        if (op == OP_DW_UPDATE) dm = read_i32();
        read_dims(&in_d), read_dims(&f_d), read_dims(&out_d);
      }
      p.input_offset = read_i32();
      const int32_t n_channels = read_i32();
      mt_sgd_int sgd = read_sgd();
      const mt_int_factors f = read_factors(n_channels);
      const int32_t n_in = op == OP_FC_UPDATE ? batches * depth : dims_count(&in_d);
      const int32_t n_w = op == OP_FC_UPDATE ? depth * out_depth : dims_count(&f_d);
      const int32_t n_out = op == OP_FC_UPDATE ? batches * out_depth : dims_count(&out_d);
      read_i8s(in8, n_in, CAP);
      read_i8s(w8, n_w, CAP);
      const int8_t e = (int8_t)read_i32();
      void *go = read_grad(0, n_out);
      if (op == OP_FC_UPDATE) {
        BOTH(mt_fully_connected_update_weights_s8, batches, depth, out_depth, in8, p.input_offset, w8, &f, n_channels, go, &e, &sgd);
      } else if (op == OP_CONV_UPDATE) {
        BOTH(mt_conv_update_weights_s8, &p, &in_d, in8, &f_d, w8, &f, n_channels, &out_d, go, &e, &sgd);
      } else {
        const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w, dm,
                                            p.input_offset, 0, -128, 127};
        BOTH(mt_depthwise_conv_update_weights_s8, &d, &in_d, in8, &f_d, w8, &f, n_channels, &out_d, go, &e, &sgd);
      }
      for (int32_t i = 0; i < n_w; ++i) printf(" %d", w8[i]);
      printf(" %lu", (unsigned long)sgd.rng);
      break;
    }
    default:
      fprintf(stderr, "run: unknown op %ld\n", (long)op);
      exit(2);
  }
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s run < cases\n", argv[0]);
    return 2;
  }
  const int32_t cases = read_i32();
  for (int32_t i = 0; i < cases; ++i) run_case();
  return 0;
}
