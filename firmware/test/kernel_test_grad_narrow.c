/* Harness of the narrow-gradient kernels (train_narrow.h), run mode only: one case per line on stdin,
 * "<op> <bits> <fields...>" (bits 16 or 8; floats as hex bits), one line of results per case, which
 * test/kernels/grad_narrow.test.ts compares with its mirror (grad_narrow_reference.ts). */
#include <stdint.h>
#include <stdio.h>

#include "mcutrain/kernels/train_narrow.h"
#include "kernel_test_util.h"

#define CAP 65536
static int8_t in8[CAP], w8[CAP], q8a[CAP], q8b[CAP], ring8[CAP];
static int16_t q16a[CAP], q16b[CAP], ring16[CAP];
static int32_t ints[CAP], bias[CAP];
static float fs[CAP], gf[CAP], mom[CAP], gf32[CAP], ring32[CAP];
static uint8_t bits8[CAP];

static void read_f32s(float *a, int32_t n) { read_f32s_cap(a, n, CAP); }

static void print_f32(float v) { printf(" %08lx", (unsigned long)test_bits_of_f32(v)); }

static int32_t bits;

/* A narrow gradient read into buffer a (q16a/q8a) or b, returned as the kernels' void pointer. */
static void *read_grad(int which, int32_t n) {
  read_i32s(ints, n, CAP);
  for (int32_t i = 0; i < n; ++i) {
    if (which == 0) {
      q16a[i] = (int16_t)ints[i];
      q8a[i] = (int8_t)ints[i];
    } else {
      q16b[i] = (int16_t)ints[i];
      q8b[i] = (int8_t)ints[i];
    }
  }
  if (which == 0) return bits == 16 ? (void *)q16a : (void *)q8a;
  return bits == 16 ? (void *)q16b : (void *)q8b;
}

static void print_grad(const void *g, int32_t n) {
  for (int32_t i = 0; i < n; ++i) printf(" %d", bits == 16 ? ((const int16_t *)g)[i] : ((const int8_t *)g)[i]);
}

#define BOTH(fn, ...)              \
  do {                             \
    if (bits == 16) fn##_s16(__VA_ARGS__); \
    else fn##_s8(__VA_ARGS__);     \
  } while (0)
#define BOTH_UPDATE(fn, ...)       \
  do {                             \
    if (bits == 16) fn##_g16(__VA_ARGS__); \
    else fn##_g8(__VA_ARGS__);     \
  } while (0)

enum { OP_LOSS = 1, OP_MASK, OP_COPY, OP_CONV_GI, OP_DW_GI, OP_FC_GI, OP_POOL_GI, OP_MEAN_GI, OP_PAD_GI,
       OP_BIAS, OP_CONV_UPDATE, OP_DW_UPDATE, OP_FC_UPDATE, OP_DW_INPLACE_F32 };

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

static mt_sgd read_sgd(void) {
  mt_sgd s;
  s.lr = read_f32();
  s.momentum = read_f32();
  return s;
}

static void run_case(void) {
  const int32_t op = read_i32();
  bits = read_i32();
  switch (op) {
    case OP_LOSS: {
      const int32_t n = read_i32();
      const float scale = read_f32();
      const int32_t label = read_i32();
      read_i8s(in8, n, CAP);
      int32_t predicted = -7;
      int8_t e = 99;
      void *g = bits == 16 ? (void *)q16a : (void *)q8a;
      const float loss = bits == 16 ? mt_softmax_xent_s8_grad_s16(in8, n, scale, 0, label, g, &e, &predicted)
                                    : mt_softmax_xent_s8_grad_s8(in8, n, scale, 0, label, g, &e, &predicted);
      print_f32(loss);
      printf(" %ld %d", (long)predicted, e);
      print_grad(g, n);
      break;
    }
    case OP_MASK: {
      const int32_t kind = read_i32(), n = read_i32(), act_min = read_i32(), act_max = read_i32();
      if (kind == 2) {
        require_fits((n + 7) / 8, CAP);
        for (int32_t i = 0; i < (n + 7) / 8; ++i) bits8[i] = (uint8_t)read_i32();
      } else {
        read_i8s(in8, n, CAP);
      }
      void *g = read_grad(0, n);
      if (kind == 0) BOTH(mt_clamp_mask, in8, g, n, act_min, act_max);
      else if (kind == 1) BOTH(mt_clamp_mask_projected, in8, g, n, act_min, act_max);
      else BOTH(mt_mask_apply, bits8, g, n);
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
      const int32_t in_place = op == OP_DW_GI ? read_i32() : 0;
      mt_dims4 in_d, f_d, out_d;
      read_dims(&in_d), read_dims(&f_d), read_dims(&out_d);
      read_i8s(w8, dims_count(&f_d), CAP);
      read_f32s(fs, out_d.c);
      grads g = read_grads(dims_count(&out_d), dims_count(&in_d));
      if (op == OP_CONV_GI) {
        BOTH(mt_conv_grad_input, &p, &in_d, &f_d, w8, fs, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      } else {
        const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w, dm, 0, 0, -128, 127};
        if (in_place) { /* the input gradient written over the output gradient */
          g.gi = g.go;
          BOTH(mt_depthwise_conv_grad_input_inplace, &d, &in_d, &f_d, w8, fs, &out_d, g.go, &g.e_out, g.gi, &g.e_in,
               bits == 16 ? (void *)ring16 : (void *)ring8);
        } else {
          BOTH(mt_depthwise_conv_grad_input, &d, &in_d, &f_d, w8, fs, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
        }
      }
      print_result(&g, dims_count(&in_d));
      break;
    }
    case OP_FC_GI: {
      const int32_t batches = read_i32(), depth = read_i32(), out_depth = read_i32();
      read_i8s(w8, depth * out_depth, CAP);
      read_f32s(fs, out_depth);
      grads g = read_grads(batches * out_depth, batches * depth);
      BOTH(mt_fully_connected_grad_input, batches, depth, out_depth, w8, fs, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
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
    case OP_BIAS: {
      mt_dims4 out_d;
      read_dims(&out_d);
      const int32_t n_channels = read_i32();
      const mt_sgd sgd = read_sgd();
      read_i32s(bias, n_channels, CAP);
      read_f32s(gf, n_channels);
      const int8_t e = (int8_t)read_i32();
      void *go = read_grad(0, dims_count(&out_d));
      for (int32_t i = 0; i < n_channels; ++i) mom[i] = 0.0f;
      BOTH_UPDATE(mt_bias_update_s32, &out_d, go, &e, bias, gf, n_channels, &sgd, mom);
      for (int32_t i = 0; i < n_channels; ++i) printf(" %ld", (long)bias[i]);
      for (int32_t i = 0; i < n_channels; ++i) print_f32(mom[i]);
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
      const float input_scale = read_f32();
      const int32_t n_channels = read_i32();
      const mt_sgd sgd = read_sgd();
      const int32_t n_in = op == OP_FC_UPDATE ? batches * depth : dims_count(&in_d);
      const int32_t n_w = op == OP_FC_UPDATE ? depth * out_depth : dims_count(&f_d);
      const int32_t n_out = op == OP_FC_UPDATE ? batches * out_depth : dims_count(&out_d);
      read_i8s(in8, n_in, CAP);
      read_i8s(w8, n_w, CAP);
      read_f32s(gf, n_channels);
      const int8_t e = (int8_t)read_i32();
      void *go = read_grad(0, n_out);
      for (int32_t i = 0; i < n_w; ++i) mom[i] = 0.0f;
      if (op == OP_FC_UPDATE) {
        BOTH_UPDATE(mt_fully_connected_update_weights_s8, batches, depth, out_depth, in8, input_scale, p.input_offset, w8, gf,
                    n_channels, go, &e, &sgd, mom);
      } else if (op == OP_CONV_UPDATE) {
        BOTH_UPDATE(mt_conv_update_weights_s8, &p, &in_d, in8, input_scale, &f_d, w8, gf, n_channels, &out_d, go, &e, &sgd, mom);
      } else {
        const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w, dm,
                                            p.input_offset, 0, -128, 127};
        BOTH_UPDATE(mt_depthwise_conv_update_weights_s8, &d, &in_d, in8, input_scale, &f_d, w8, gf, n_channels, &out_d, go, &e, &sgd, mom);
      }
      for (int32_t i = 0; i < n_w; ++i) printf(" %d", w8[i]);
      for (int32_t i = 0; i < n_w; ++i) print_f32(mom[i]);
      break;
    }
    case OP_DW_INPLACE_F32: { /* bits is ignored: float32 gradients */
      mt_depthwise_conv_params d = {1, 1, 1, 1, 0, 0, 1, 0, 0, -128, 127};
      d.stride_h = read_i32(), d.stride_w = read_i32();
      d.dilation_h = read_i32(), d.dilation_w = read_i32();
      d.pad_h = read_i32(), d.pad_w = read_i32();
      mt_dims4 in_d, f_d, out_d;
      read_dims(&in_d), read_dims(&f_d), read_dims(&out_d);
      read_i8s(w8, dims_count(&f_d), CAP);
      read_f32s(fs, out_d.c);
      read_f32s(gf32, dims_count(&out_d));
      mt_depthwise_conv_grad_input_inplace_f32(&d, &in_d, &f_d, w8, fs, &out_d, gf32, gf32, ring32);
      for (int32_t i = 0; i < dims_count(&in_d); ++i) print_f32(gf32[i]);
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
