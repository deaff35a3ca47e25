/* Harness of the narrow-gradient kernels (train_narrow.h), run mode only: one case per line on stdin,
 * "<op> <bits> <fields...>" (bits 16 or 8; floats as hex bits), one line of results per case, which
 * test/kernels/grad_narrow.test.ts compares with its mirror (grad_narrow_reference.ts). */
#include <stdint.h>
#include <stdio.h>

#include "mcutrain/kernels/train_narrow.h"
#include "kernel_test_util.h"

#define CAP 65536
static int8_t in8[CAP], w8[CAP], ring8[CAP];
static int16_t ring16[CAP];
static int32_t bias[CAP];
static float fs[CAP], gf[CAP], mom[CAP], gf32[CAP], ring32[CAP];
static uint8_t bits8[CAP];

static void read_f32s(float *a, int32_t n) { read_f32s_cap(a, n, CAP); }

static void print_f32(float v) { printf(" %08lx", (unsigned long)test_bits_of_f32(v)); }

#define BOTH(fn, ...) BY_WIDTH(fn, _s16, _s8, __VA_ARGS__)
#define BOTH_UPDATE(fn, ...) BY_WIDTH(fn, _g16, _g8, __VA_ARGS__) /* the updates: named for the gradient's width */

enum { OP_LOSS = 1, OP_MASK, OP_COPY, OP_CONV_GI, OP_DW_GI, OP_FC_GI, OP_POOL_GI, OP_MEAN_GI, OP_PAD_GI,
       OP_BIAS, OP_CONV_UPDATE, OP_DW_UPDATE, OP_FC_UPDATE, OP_DW_INPLACE_F32 };

#include "grad_case_io.h"

static mt_sgd read_sgd(void) {
  mt_sgd s;
  s.lr = read_f32();
  s.momentum = read_f32();
  return s;
}

static void run_own_case(int32_t op) {
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
    case OP_CONV_GI:
    case OP_DW_GI: {
      mt_conv_params p = read_conv_geometry();
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
      const update_shape u = read_update_shape(op == OP_FC_UPDATE, op == OP_DW_UPDATE);
      const float input_scale = read_f32();
      const int32_t n_channels = read_i32();
      const mt_sgd sgd = read_sgd();
      read_i8s(in8, u.n_in, CAP);
      read_i8s(w8, u.n_w, CAP);
      read_f32s(gf, n_channels);
      const int8_t e = (int8_t)read_i32();
      void *go = read_grad(0, u.n_out);
      for (int32_t i = 0; i < u.n_w; ++i) mom[i] = 0.0f;
      if (op == OP_FC_UPDATE) {
        BOTH_UPDATE(mt_fully_connected_update_weights_s8, u.batches, u.depth, u.out_depth, in8, input_scale, u.p.input_offset, w8, gf,
                    n_channels, go, &e, &sgd, mom);
      } else if (op == OP_CONV_UPDATE) {
        BOTH_UPDATE(mt_conv_update_weights_s8, &u.p, &u.in_d, in8, input_scale, &u.f_d, w8, gf, n_channels, &u.out_d, go, &e, &sgd, mom);
      } else {
        BOTH_UPDATE(mt_depthwise_conv_update_weights_s8, &u.d, &u.in_d, in8, input_scale, &u.f_d, w8, gf, n_channels, &u.out_d, go, &e, &sgd, mom);
      }
      for (int32_t i = 0; i < u.n_w; ++i) printf(" %d", w8[i]);
      for (int32_t i = 0; i < u.n_w; ++i) print_f32(mom[i]);
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
      run_common_case(op);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s run < cases\n", argv[0]);
    return 2;
  }
  run_cases();
  return 0;
}
