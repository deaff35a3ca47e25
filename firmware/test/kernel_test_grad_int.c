/* Harness of the integer-only training kernels (train_int.h).
 * "run" mode: one case per line on stdin, "<op> <bits> <fields...>" (bits 16 or 8; all integers), one
 * line of results per case, which test/kernels/grad_int.test.ts compares with its mirror
 * (grad_int_reference.ts).
 * "digest" mode: a fixed battery of every kernel, both widths and both roundings, on inputs from its
 * own PRNG, one hash of all outputs per group. The same file built as a bare-metal main for an
 * emulated board (no C library, no float: the image must call nothing of the soft-float library)
 * prints the digests over the UART at reset, so the test checks the board computes the host's bits. */
#include <stdint.h>

#include "mcutrain/kernels/train_int.h"

#include "digest.h"
#if !MT_DIGEST_BOARD
#include "kernel_test_util.h"
#endif

/* ---- digest mode: shared by host and board, no C library ---- */

#define DG_CAP 4096
static int8_t dg_x[DG_CAP], dg_w[DG_CAP], dg_g8[DG_CAP], dg_o8[DG_CAP];
static int16_t dg_g16[DG_CAP], dg_o16[DG_CAP];
static int32_t dg_b[DG_CAP], dg_sq[DG_CAP], dg_mult[DG_CAP], dg_shift[DG_CAP];
static int32_t dg_bits;

/* The group's digest, named with the gradient width. */
static void dg_report_width(const char *name_i16, const char *name_i8) { dg_report(dg_bits == 16 ? name_i16 : name_i8); }

/* A gradient in buffer a (which 0: grad_out) or b (grad_in) of the current width: its exponent drawn,
 * sometimes all zero, its integers full range. */
static void *dg_grad(int which, int32_t n, int8_t *exp) {
  const int32_t zero = dg_int(0, 9) == 0, qmax = dg_bits == 16 ? 32767 : 127;
  *exp = (int8_t)(zero ? MT_GRAD_EXP_ZERO : dg_int(-30, 2));
  for (int32_t i = 0; i < n; ++i) {
    const int32_t q = zero ? 0 : dg_int(-qmax, qmax);
    if (which == 0) dg_g16[i] = (int16_t)q, dg_g8[i] = (int8_t)q;
    else dg_o16[i] = (int16_t)q, dg_o8[i] = (int8_t)q;
  }
  if (which == 0) return dg_bits == 16 ? (void *)dg_g16 : (void *)dg_g8;
  return dg_bits == 16 ? (void *)dg_o16 : (void *)dg_o8;
}

static void dg_mix_grad(const void *g, int32_t n, int8_t exp) {
  dg_mix((uint32_t)(int32_t)exp);
  for (int32_t i = 0; i < n; ++i) dg_mix((uint32_t)(dg_bits == 16 ? ((const int16_t *)g)[i] : ((const int8_t *)g)[i]));
}

/* A conv (or depthwise) geometry: filter 1-3, stride 1-2, dilation 1, pad below the filter. */
static void dg_conv_shape(int32_t depthwise, mt_conv_params *p, int32_t *dm, mt_dims4 *in_d, mt_dims4 *f_d, mt_dims4 *out_d) {
  const mt_conv_params base = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127, MT_ROUND_DOUBLE};
  *p = base;
  *in_d = dg_dims(2, 7, 7, 4);
  *dm = depthwise ? dg_int(1, 2) : 1;
  const int32_t oc = depthwise ? in_d->c * *dm : dg_int(1, 6);
  *f_d = dg_dims(1, 3, 3, 1);
  f_d->n = depthwise ? 1 : oc;
  f_d->c = depthwise ? oc : in_d->c;
  p->stride_h = dg_int(1, 2);
  p->stride_w = dg_int(1, 2);
  p->pad_h = dg_int(0, f_d->h - 1);
  p->pad_w = dg_int(0, f_d->w - 1);
  p->input_offset = dg_int(-20, 128);
  out_d->n = in_d->n;
  out_d->h = mt_max_i32(1, (in_d->h + 2 * p->pad_h - f_d->h) / p->stride_h + 1);
  out_d->w = mt_max_i32(1, (in_d->w + 2 * p->pad_w - f_d->w) / p->stride_w + 1);
  out_d->c = oc;
}

static mt_depthwise_conv_params dg_dw(const mt_conv_params *p, int32_t dm) {
  const mt_depthwise_conv_params d = {p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->pad_h, p->pad_w, dm,
                                      p->input_offset, 0, -128, 127};
  return d;
}

static mt_int_scales dg_scales(int32_t n) {
  for (int32_t i = 0; i < n; ++i) dg_sq[i] = dg_int(1 << 18, (1 << 24) - 1);
  mt_int_scales s = {dg_sq, -dg_int(24, 34)};
  return s;
}

static mt_int_factors dg_factors(int32_t n) {
  for (int32_t i = 0; i < n; ++i) dg_mult[i] = dg_int(1 << 30, 2147483647), dg_shift[i] = dg_int(-2, 10);
  mt_int_factors f = {dg_mult, dg_shift};
  return f;
}

static mt_sgd_int dg_sgd(int32_t stochastic) {
  mt_sgd_int s;
  s.lr_multiplier = dg_int(1 << 30, 2147483647);
  s.lr_shift = dg_int(-12, -1);
  s.rounding = stochastic ? MT_ROUND_STOCHASTIC : MT_ROUND_NEAREST;
  s.rng = dg_next() | 1u;
  return s;
}

#define DG_BOTH(fn, ...)                      \
  do {                                        \
    if (dg_bits == 16) fn##_i16(__VA_ARGS__); \
    else fn##_i8(__VA_ARGS__);                \
  } while (0)

static void digest_width(void) {
  for (int32_t k = 0; k < 200; ++k) {
    const int32_t n = dg_int(1, 24), label = dg_int(-1, n - 1);
    dg_fill_i8(dg_x, n, -128, 127);
    mt_softmax_params p;
    p.input_multiplier = dg_int(1 << 30, 2147483647);
    p.input_left_shift = dg_int(20, 25);
    p.diff_min = -(int32_t)(((int64_t)31 << 26) >> p.input_left_shift);
    p.rows = 1, p.depth = n;
    int32_t predicted = -7, loss;
    int8_t e = 99;
    if (dg_bits == 16) loss = mt_softmax_xent_s8_grad_i16(dg_x, &p, label, dg_g16, &e, &predicted);
    else loss = mt_softmax_xent_s8_grad_i8(dg_x, &p, label, dg_g8, &e, &predicted);
    dg_mix((uint32_t)loss);
    dg_mix((uint32_t)predicted);
    dg_mix_grad(dg_bits == 16 ? (void *)dg_g16 : (void *)dg_g8, n, e);
  }
  dg_report_width("loss_i16", "loss_i8");
  for (int32_t k = 0; k < 300; ++k) {
    const int32_t kind = k % 5, accumulate = dg_int(0, 2) == 0;
    int8_t e_out, e_in;
    if (kind <= 1) {
      mt_conv_params p;
      int32_t dm;
      mt_dims4 in_d, f_d, out_d;
      dg_conv_shape(kind, &p, &dm, &in_d, &f_d, &out_d);
      dg_fill_i8(dg_w, dg_count(&f_d), -127, 127);
      const mt_int_scales s = dg_scales(out_d.c);
      void *go = dg_grad(0, dg_count(&out_d), &e_out), *gi = dg_grad(1, dg_count(&in_d), &e_in);
      if (kind == 0) {
        DG_BOTH(mt_conv_grad_input, &p, &in_d, &f_d, dg_w, &s, &out_d, go, &e_out, gi, &e_in, accumulate);
      } else {
        const mt_depthwise_conv_params d = dg_dw(&p, dm);
        DG_BOTH(mt_depthwise_conv_grad_input, &d, &in_d, &f_d, dg_w, &s, &out_d, go, &e_out, gi, &e_in, accumulate);
      }
      dg_mix_grad(gi, dg_count(&in_d), e_in);
    } else if (kind == 2) {
      const int32_t batches = dg_int(1, 3), depth = dg_int(1, 40), out_depth = dg_int(1, 12);
      dg_fill_i8(dg_w, depth * out_depth, -127, 127);
      const mt_int_scales s = dg_scales(out_depth);
      void *go = dg_grad(0, batches * out_depth, &e_out), *gi = dg_grad(1, batches * depth, &e_in);
      DG_BOTH(mt_fully_connected_grad_input, batches, depth, out_depth, dg_w, &s, go, &e_out, gi, &e_in, accumulate);
      dg_mix_grad(gi, batches * depth, e_in);
    } else if (kind == 3) {
      mt_pooling_params p = {1, 1, 1, 1, 0, 0, -128, 127};
      const mt_dims4 in_d = dg_dims(2, 7, 7, 3);
      p.stride_h = dg_int(1, 3), p.stride_w = dg_int(1, 3), p.filter_h = dg_int(1, 4), p.filter_w = dg_int(1, 4);
      p.pad_h = dg_int(0, p.filter_h - 1), p.pad_w = dg_int(0, p.filter_w - 1);
      mt_dims4 out_d = in_d;
      out_d.h = mt_max_i32(1, (in_d.h + 2 * p.pad_h - p.filter_h) / p.stride_h + 1);
      out_d.w = mt_max_i32(1, (in_d.w + 2 * p.pad_w - p.filter_w) / p.stride_w + 1);
      void *go = dg_grad(0, dg_count(&out_d), &e_out), *gi = dg_grad(1, dg_count(&in_d), &e_in);
      DG_BOTH(mt_avg_pool_grad, &p, &in_d, &out_d, go, &e_out, gi, &e_in, accumulate);
      dg_mix_grad(gi, dg_count(&in_d), e_in);
    } else {
      const mt_dims4 in_d = dg_dims(2, 6, 6, 5);
      void *go = dg_grad(0, in_d.n * in_d.c, &e_out), *gi = dg_grad(1, dg_count(&in_d), &e_in);
      DG_BOTH(mt_mean_hw_grad, &in_d, go, &e_out, gi, &e_in, accumulate);
      dg_mix_grad(gi, dg_count(&in_d), e_in);
    }
    {
      /* PAD's gradient, and the depthwise one in place (stride 1, an odd filter, SAME) */
      const mt_dims4 in_d = dg_dims(1, 5, 5, 4);
      int32_t before[4] = {0, 0, 0, 0};
      before[1] = dg_int(0, 2), before[2] = dg_int(0, 2), before[3] = dg_int(0, 1);
      mt_dims4 out_d = in_d;
      out_d.h += before[1] + dg_int(0, 2), out_d.w += before[2] + dg_int(0, 2), out_d.c += before[3] + dg_int(0, 1);
      void *go = dg_grad(0, dg_count(&out_d), &e_out), *gi = dg_grad(1, dg_count(&in_d), &e_in);
      DG_BOTH(mt_pad_grad, &in_d, &out_d, before, go, &e_out, gi, &e_in, accumulate);
      dg_mix_grad(gi, dg_count(&in_d), e_in);
      mt_dims4 f_d = {1, 1, 1, in_d.c};
      f_d.h = 2 * dg_int(0, 2) + 1, f_d.w = 2 * dg_int(0, 2) + 1;
      const mt_conv_params p = {1, 1, 1, 1, (f_d.h - 1) / 2, (f_d.w - 1) / 2, 0, 0, -128, 127, MT_ROUND_DOUBLE};
      const mt_depthwise_conv_params d = dg_dw(&p, 1);
      dg_fill_i8(dg_w, dg_count(&f_d), -127, 127);
      const mt_int_scales s = dg_scales(in_d.c);
      void *g = dg_grad(0, dg_count(&in_d), &e_out);
      DG_BOTH(mt_depthwise_conv_grad_input_inplace, &d, &in_d, &f_d, dg_w, &s, &in_d, g, &e_out, g, &e_in,
              dg_bits == 16 ? (void *)dg_o16 : (void *)dg_o8);
      dg_mix_grad(g, dg_count(&in_d), e_in);
    }
    const int32_t n = dg_int(1, 64);
    void *src = dg_grad(0, n, &e_out), *dst = dg_grad(1, n, &e_in);
    DG_BOTH(mt_grad_copy, src, &e_out, dst, &e_in, n, accumulate);
    dg_mix_grad(dst, n, e_in);
  }
  dg_report_width("input_gradients_pad_copy_i16", "input_gradients_pad_copy_i8");
  for (int32_t k = 0; k < 200; ++k) {
    const int32_t kind = k % 4;
    mt_sgd_int sgd = dg_sgd((k >> 2) & 1);
    int8_t e;
    if (kind == 0) {
      const mt_dims4 out_d = dg_dims(2, 6, 6, 6);
      const int32_t n_ch = dg_int(1, out_d.c);
      const mt_int_factors f = dg_factors(n_ch);
      for (int32_t i = 0; i < n_ch; ++i) dg_b[i] = dg_int(-100000, 100000);
      void *go = dg_grad(0, dg_count(&out_d), &e);
      DG_BOTH(mt_bias_update_s32, &out_d, go, &e, dg_b, &f, n_ch, &sgd);
      for (int32_t i = 0; i < n_ch; ++i) dg_mix((uint32_t)dg_b[i]);
    } else if (kind == 3) {
      const int32_t batches = dg_int(1, 3), depth = dg_int(1, 40), out_depth = dg_int(1, 8), n_ch = dg_int(1, out_depth);
      const int32_t offset = dg_int(-20, 128);
      const mt_int_factors f = dg_factors(n_ch);
      dg_fill_i8(dg_x, batches * depth, -128, 127);
      dg_fill_i8(dg_w, depth * out_depth, -127, 127);
      void *go = dg_grad(0, batches * out_depth, &e);
      DG_BOTH(mt_fully_connected_update_weights_s8, batches, depth, out_depth, dg_x, offset, dg_w, &f, n_ch, go, &e, &sgd);
      for (int32_t i = 0; i < depth * out_depth; ++i) dg_mix((uint32_t)(int32_t)dg_w[i]);
    } else {
      mt_conv_params p;
      int32_t dm;
      mt_dims4 in_d, f_d, out_d;
      dg_conv_shape(kind == 2, &p, &dm, &in_d, &f_d, &out_d);
      const int32_t n_ch = dg_int(1, out_d.c);
      const mt_int_factors f = dg_factors(n_ch);
      dg_fill_i8(dg_x, dg_count(&in_d), -128, 127);
      dg_fill_i8(dg_w, dg_count(&f_d), -127, 127);
      void *go = dg_grad(0, dg_count(&out_d), &e);
      if (kind == 1) {
        DG_BOTH(mt_conv_update_weights_s8, &p, &in_d, dg_x, &f_d, dg_w, &f, n_ch, &out_d, go, &e, &sgd);
      } else {
        const mt_depthwise_conv_params d = dg_dw(&p, dm);
        DG_BOTH(mt_depthwise_conv_update_weights_s8, &d, &in_d, dg_x, &f_d, dg_w, &f, n_ch, &out_d, go, &e, &sgd);
      }
      for (int32_t i = 0; i < dg_count(&f_d); ++i) dg_mix((uint32_t)(int32_t)dg_w[i]);
    }
    dg_mix(sgd.rng);
  }
  dg_report_width("updates_i16", "updates_i8");
}

static void digest_all(void) {
  for (dg_bits = 16; dg_bits >= 8; dg_bits -= 8) digest_width();
}

#if MT_DIGEST_BOARD
int main(void) {
  dg_run_on_board(digest_all);
}
#else

#define CAP 65536
static int8_t in8[CAP], w8[CAP];
static int32_t bias[CAP], scale_q[CAP], mult[CAP], shift[CAP];
static int8_t trained[CAP], frozen[CAP];
static int16_t ring16[CAP];
static int8_t ring8[CAP];

/* The filter (rows of row_size) split as common.h lays it out: the first block_cols values of the first
 * block_rows rows in `trained`, the rest in `frozen`, in row order. */
static mt_split_filter split_of(const int8_t *filter, int32_t rows, int32_t row_size, int32_t block_rows, int32_t block_cols) {
  int32_t t = 0, f = 0;
  for (int32_t r = 0; r < rows; ++r) {
    for (int32_t j = 0; j < row_size; ++j) {
      if (r < block_rows && j < block_cols) trained[t++] = filter[r * row_size + j];
      else frozen[f++] = filter[r * row_size + j];
    }
  }
  mt_split_filter s = {trained, frozen, block_rows, block_cols};
  return s;
}

#define BOTH(fn, ...) BY_WIDTH(fn, _i16, _i8, __VA_ARGS__)

enum { OP_LOSS = 1, OP_COPY, OP_CONV_GI, OP_DW_GI, OP_FC_GI, OP_POOL_GI, OP_MEAN_GI, OP_BIAS, OP_CONV_UPDATE,
       OP_DW_UPDATE, OP_FC_UPDATE, OP_PAD_GI };

#include "grad_case_io.h"

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

static void run_own_case(int32_t op) {
  switch (op) {
    case OP_LOSS: {
      const int32_t n = read_i32();
      mt_softmax_params p;
      p.input_multiplier = read_i32(), p.input_left_shift = read_i32(), p.diff_min = read_i32();
      p.rows = 1, p.depth = n;
      const int32_t label = read_i32();
      read_i8s(in8, n, CAP);
      int32_t predicted = -7;
      int8_t e = 99;
      void *g = bits == 16 ? (void *)q16a : (void *)q8a;
      const int32_t loss = bits == 16 ? mt_softmax_xent_s8_grad_i16(in8, &p, label, g, &e, &predicted)
                                      : mt_softmax_xent_s8_grad_i8(in8, &p, label, g, &e, &predicted);
      printf(" %ld %ld %d", (long)loss, (long)predicted, e);
      print_grad(g, n);
      break;
    }
    case OP_CONV_GI:
    case OP_DW_GI: {
      mt_conv_params p = read_conv_geometry();
      const int32_t dm = op == OP_DW_GI ? read_i32() : 1;
      /* conv: the split's rows and columns (0 0: the whole filter); depthwise: 1 for in place */
      const int32_t variant = read_i32(), block_cols = op == OP_CONV_GI ? read_i32() : 0;
      mt_dims4 in_d, f_d, out_d;
      read_dims(&in_d), read_dims(&f_d), read_dims(&out_d);
      read_i8s(w8, dims_count(&f_d), CAP);
      const mt_int_scales s = read_scales(out_d.c);
      grads g = read_grads(dims_count(&out_d), dims_count(&in_d));
      if (op == OP_CONV_GI && block_cols == 0) {
        BOTH(mt_conv_grad_input, &p, &in_d, &f_d, w8, &s, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      } else if (op == OP_CONV_GI) {
        const mt_split_filter sf = split_of(w8, f_d.n, f_d.h * f_d.w * f_d.c, variant, block_cols);
        BOTH(mt_conv_grad_input_split, &p, &in_d, &f_d, &sf, &s, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      } else {
        const mt_depthwise_conv_params d = {p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_h, p.pad_w, dm, 0, 0, -128, 127};
        if (variant) { /* the input gradient written over the output gradient */
          g.gi = g.go;
          BOTH(mt_depthwise_conv_grad_input_inplace, &d, &in_d, &f_d, w8, &s, &out_d, g.go, &g.e_out, g.gi, &g.e_in,
               bits == 16 ? (void *)ring16 : (void *)ring8);
        } else {
          BOTH(mt_depthwise_conv_grad_input, &d, &in_d, &f_d, w8, &s, &out_d, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
        }
      }
      print_result(&g, dims_count(&in_d));
      break;
    }
    case OP_FC_GI: {
      const int32_t batches = read_i32(), depth = read_i32(), out_depth = read_i32();
      const int32_t block_rows = read_i32(), block_cols = read_i32(); /* 0 0: the whole filter */
      read_i8s(w8, depth * out_depth, CAP);
      const mt_int_scales s = read_scales(out_depth);
      grads g = read_grads(batches * out_depth, batches * depth);
      if (block_cols == 0) {
        BOTH(mt_fully_connected_grad_input, batches, depth, out_depth, w8, &s, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      } else {
        const mt_split_filter sf = split_of(w8, out_depth, depth, block_rows, block_cols);
        BOTH(mt_fully_connected_grad_input_split, batches, depth, out_depth, &sf, &s, g.go, &g.e_out, g.gi, &g.e_in, g.accumulate);
      }
      print_result(&g, batches * depth);
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
      const update_shape u = read_update_shape(op == OP_FC_UPDATE, op == OP_DW_UPDATE);
      const int32_t n_channels = read_i32();
      mt_sgd_int sgd = read_sgd();
      const mt_int_factors f = read_factors(n_channels);
      read_i8s(in8, u.n_in, CAP);
      read_i8s(w8, u.n_w, CAP);
      const int8_t e = (int8_t)read_i32();
      void *go = read_grad(0, u.n_out);
      if (op == OP_FC_UPDATE) {
        BOTH(mt_fully_connected_update_weights_s8, u.batches, u.depth, u.out_depth, in8, u.p.input_offset, w8, &f, n_channels, go, &e, &sgd);
      } else if (op == OP_CONV_UPDATE) {
        BOTH(mt_conv_update_weights_s8, &u.p, &u.in_d, in8, &u.f_d, w8, &f, n_channels, &u.out_d, go, &e, &sgd);
      } else {
        BOTH(mt_depthwise_conv_update_weights_s8, &u.d, &u.in_d, in8, &u.f_d, w8, &f, n_channels, &u.out_d, go, &e, &sgd);
      }
      for (int32_t i = 0; i < u.n_w; ++i) printf(" %d", w8[i]);
      printf(" %lu", (unsigned long)sgd.rng);
      break;
    }
    default:
      run_common_case(op);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "digest") == 0) {
    digest_all();
    return 0;
  }
  if (argc < 2 || strcmp(argv[1], "run") != 0) {
    fprintf(stderr, "usage: %s run < cases | %s digest\n", argv[0], argv[0]);
    return 2;
  }
  run_cases();
  return 0;
}
#endif
