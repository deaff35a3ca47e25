/* The kernels that read a weight tensor split between SRAM and Flash (mt_split_filter, common.h) give
 * the bits of the same kernels on the whole tensor, on random cases: the forward CONV_2D (no groups)
 * and FULLY_CONNECTED (portable, or the DSP twins when built with them) and the input gradients. Each
 * case splits its filter by output channels (the first k rows; any filter size, stride, dilation,
 * padding) or, for a 1x1 convolution and for FULLY_CONNECTED, by input channels (the first k values
 * of every row); k runs from 0 to all of them.
 *
 * test/kernels/split_filter.test.ts builds it for the host (portable, and the DSP twins with the
 * instructions emulated, under ASan/UBSan: each operand ends where its array ends) and for the emulated
 * Cortex-M7 (make DSP=1). Host (MT_HARNESS_HOST): arguments seed and cases. Board: prints "ready", reads seed and cases
 * (u32 each, little-endian) from UART0, reports there and exits (semihosting) with 0 when every case
 * agrees, 1 when not. Flag (host: a third argument) 1 changes one trained weight of the split copy in
 * every tenth case, so those cases must fail. Lines:
 *   MISMATCH <kernel> case=<i> at=<element>
 *   CASES <kernel> <cases> <mismatching cases> */
#include <stdint.h>
#include <string.h>

#include "mcutrain/kernels/conv.h"
#include "mcutrain/kernels/fully_connected.h"
#include "mcutrain/kernels/train.h"
#include "mcutrain/kernels/train_narrow.h"

#include "harness_io.h" /* put_str, put_int, put_cases, get_u32, rand_u32, rand_in */

static float rand_float(void) { return (float)rand_in(-1000000, 1000000) / 1000000.0f; }

#define CAP 16384
#define CH_CAP 64
#define GUARD 16

/* Operands end where their arrays end (a read past one leaves it); outputs have a guard band after them. */
static int8_t in_buf[CAP], filter_buf[CAP], trained_buf[CAP], frozen_buf[CAP];
static int8_t out_whole[CAP + GUARD], out_split[CAP + GUARD];
static float grad_out_buf[CAP], grad_whole[CAP + GUARD], grad_split[CAP + GUARD], scale_buf[CH_CAP];
static int32_t bias_buf[CH_CAP], mult_buf[CH_CAP], shift_buf[CH_CAP];

#define END_OF(array, n) (&(array)[sizeof(array) / sizeof((array)[0]) - (size_t)(n)])

static int32_t tamper = 0; /* flag 1: corrupt the split copy of every tenth case */

/* The filter's `rows` rows of row_size values split as common.h lays them out, the block's rows by
 * output channels (block_rows < rows, block_cols == row_size) or by input channels (block_rows == rows). */
static mt_split_filter split_of(const int8_t *filter, int32_t rows, int32_t row_size, int32_t block_rows, int32_t block_cols,
                                int32_t index) {
  const int32_t block = block_rows * block_cols, rest = rows * row_size - block;
  int8_t *t = END_OF(trained_buf, block), *f = END_OF(frozen_buf, rest);
  int32_t at = 0;
  for (int32_t r = 0; r < rows; ++r) {
    const int32_t cut = r < block_rows ? block_cols : 0;
    memcpy(t + r * block_cols, filter + r * row_size, (size_t)cut);
    memcpy(f + at, filter + r * row_size + cut, (size_t)(row_size - cut));
    at += row_size - cut;
  }
  if (tamper && index % 10 == 0 && block > 0) t[block - 1] = (int8_t)(t[block - 1] ^ 0x40);
  mt_split_filter s = {t, f, block_rows, block_cols};
  return s;
}

/* A split of random form: by output channels, or (when allowed) by input channels; any size. */
static mt_split_filter random_split(const int8_t *filter, int32_t rows, int32_t row_size, int by_input_allowed, int32_t index) {
  if (by_input_allowed && rand_in(0, 1)) return split_of(filter, rows, row_size, rows, rand_in(0, row_size), index);
  return split_of(filter, rows, row_size, rand_in(0, rows), row_size, index);
}

static void fill_s8(int8_t *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) a[i] = (int8_t)rand_in(-127, 127);
}

static void fill_requant(int32_t channels) {
  for (int32_t c = 0; c < channels; ++c) {
    END_OF(mult_buf, channels)[c] = rand_in(1 << 30, INT32_MAX);
    END_OF(shift_buf, channels)[c] = rand_in(-14, 0);
  }
}

static const int32_t *fill_bias(int32_t channels) {
  if (rand_in(0, 4) == 0) return NULL;
  for (int32_t c = 0; c < channels; ++c) END_OF(bias_buf, channels)[c] = rand_in(-20000, 20000);
  return END_OF(bias_buf, channels);
}

static int32_t first_difference(const void *a, const void *b, int32_t n, int32_t size) {
  const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
  for (int32_t i = 0; i < n * size; ++i) if (x[i] != y[i]) return i / size;
  return -1;
}

static int32_t check(const char *kernel, int32_t index, int32_t at) {
  if (at < 0) return 0;
  put_str("MISMATCH ");
  put_str(kernel);
  put_str(" case=");
  put_int(index);
  put_str(" at=");
  put_int(at);
  put_str("\n");
  return 1;
}


static int16_t g16_out[CAP], g16_whole[CAP + GUARD], g16_split[CAP + GUARD];
static int8_t g8_out[CAP], g8_whole[CAP + GUARD], g8_split[CAP + GUARD];

/* Mismatching cases of the narrow input gradients (int16, int8), and how many ran. */
static int32_t narrow_cases = 0, narrow_bad[2] = {0, 0};

/* Random narrow gradients: grad_out of n_out and the same old grad_in (n_in and its guard band) for
 * both sides, with exponents. */
static void fill_narrow(int32_t n_out, int32_t n_in, int8_t *exp_out, int8_t *exp_in) {
  for (int32_t i = 0; i < n_out; ++i) {
    END_OF(g16_out, n_out)[i] = (int16_t)rand_in(-32767, 32767);
    END_OF(g8_out, n_out)[i] = (int8_t)rand_in(-127, 127);
  }
  for (int32_t i = 0; i < n_in + GUARD; ++i) {
    g16_whole[i] = g16_split[i] = (int16_t)rand_in(-32767, 32767);
    g8_whole[i] = g8_split[i] = (int8_t)rand_in(-127, 127);
  }
  *exp_out = (int8_t)rand_in(-30, 0);
  *exp_in = (int8_t)rand_in(-30, 0);
}

/* The narrow results of one case: grad_in and its exponent, whole against split. */
static void check_narrow(const char *kernel, int32_t index, int32_t n_in, const int8_t exp_whole[2], const int8_t exp_split[2]) {
  ++narrow_cases;
  const int32_t at16 = first_difference(g16_whole, g16_split, n_in + GUARD, 2), at8 = first_difference(g8_whole, g8_split, n_in + GUARD, 1);
  narrow_bad[0] += check(kernel, index, at16 >= 0 ? at16 : exp_whole[0] != exp_split[0] ? n_in : -1);
  narrow_bad[1] += check(kernel, index, at8 >= 0 ? at8 : exp_whole[1] != exp_split[1] ? n_in : -1);
}

static int32_t conv_case(int32_t index, int32_t *grad_cases, int32_t *grad_bad) {
  const int32_t pointwise = rand_in(0, 2) == 0;
  const int32_t fh = pointwise ? 1 : rand_in(1, 3), fw = pointwise ? 1 : rand_in(1, 3);
  /* mt_conv_s8_split takes no groups */
  mt_dims4 in_d = {rand_in(1, 2), rand_in(1, 8), rand_in(1, 8), rand_in(1, 24)};
  const mt_dims4 f_d = {rand_in(1, 24), fh, fw, in_d.c};
  mt_conv_params p;
  p.stride_h = rand_in(1, 2), p.stride_w = rand_in(1, 2);
  p.dilation_h = rand_in(1, 2), p.dilation_w = rand_in(1, 2);
  p.pad_h = rand_in(0, fh - 1), p.pad_w = rand_in(0, fw - 1);
  p.input_offset = rand_in(-127, 128), p.output_offset = rand_in(-128, 127);
  p.act_min = rand_in(-128, 0), p.act_max = rand_in(p.act_min, 127);
  p.rounding = rand_in(0, 1);
  const int32_t reach_h = p.dilation_h * (fh - 1) + 1, reach_w = p.dilation_w * (fw - 1) + 1;
  if (in_d.h + 2 * p.pad_h < reach_h) in_d.h = reach_h;
  if (in_d.w + 2 * p.pad_w < reach_w) in_d.w = reach_w;
  const mt_dims4 out_d = {in_d.n, (in_d.h + 2 * p.pad_h - reach_h) / p.stride_h + 1,
                          (in_d.w + 2 * p.pad_w - reach_w) / p.stride_w + 1, f_d.n};
  const int32_t n_in = in_d.n * in_d.h * in_d.w * in_d.c, row_size = fh * fw * in_d.c;
  const int32_t n_filter = f_d.n * row_size, n_out = out_d.n * out_d.h * out_d.w * out_d.c;
  int8_t *input = END_OF(in_buf, n_in), *filter = END_OF(filter_buf, n_filter);
  fill_s8(input, n_in);
  fill_s8(filter, n_filter);
  fill_requant(f_d.n);
  const int32_t *bias = fill_bias(f_d.n);
  const mt_split_filter split = random_split(filter, f_d.n, row_size, pointwise, index);
  memset(out_whole, 0x5a, sizeof out_whole);
  memset(out_split, 0x5a, sizeof out_split);
  const int32_t *mult = END_OF(mult_buf, f_d.n), *shift = END_OF(shift_buf, f_d.n);
  mt_conv_s8(&p, &in_d, input, &f_d, filter, bias, mult, shift, &out_d, out_whole);
  mt_conv_s8_split(&p, &in_d, input, &f_d, &split, bias, mult, shift, &out_d, out_split);
  const int32_t bad = check("conv", index, first_difference(out_whole, out_split, n_out + GUARD, 1));

  { /* the input gradient */
    ++*grad_cases;
    const int32_t accumulate = rand_in(0, 1);
    float *grad_out = END_OF(grad_out_buf, n_out), *scale = END_OF(scale_buf, f_d.n);
    for (int32_t i = 0; i < n_out; ++i) grad_out[i] = rand_float();
    for (int32_t c = 0; c < f_d.n; ++c) scale[c] = rand_float();
    for (int32_t i = 0; i < n_in + GUARD; ++i) grad_whole[i] = grad_split[i] = rand_float();
    mt_conv_grad_input_f32(&p, &in_d, &f_d, filter, scale, &out_d, grad_out, grad_whole, accumulate);
    mt_conv_grad_input_split_f32(&p, &in_d, &f_d, &split, scale, &out_d, grad_out, grad_split, accumulate);
    *grad_bad += check("conv_grad_input", index, first_difference(grad_whole, grad_split, n_in + GUARD, 4));

    int8_t e_out, e_in, ew[2], es[2];
    fill_narrow(n_out, n_in, &e_out, &e_in);
    ew[0] = es[0] = ew[1] = es[1] = e_in;
    const int16_t *o16 = END_OF(g16_out, n_out);
    const int8_t *o8 = END_OF(g8_out, n_out);
    mt_conv_grad_input_s16(&p, &in_d, &f_d, filter, scale, &out_d, o16, &e_out, g16_whole, &ew[0], accumulate);
    mt_conv_grad_input_split_s16(&p, &in_d, &f_d, &split, scale, &out_d, o16, &e_out, g16_split, &es[0], accumulate);
    mt_conv_grad_input_s8(&p, &in_d, &f_d, filter, scale, &out_d, o8, &e_out, g8_whole, &ew[1], accumulate);
    mt_conv_grad_input_split_s8(&p, &in_d, &f_d, &split, scale, &out_d, o8, &e_out, g8_split, &es[1], accumulate);
    check_narrow("conv_grad_input_narrow", index, n_in, ew, es);
  }
  return bad;
}

static int32_t fully_connected_case(int32_t index, int32_t *grad_bad) {
  mt_fully_connected_params p;
  p.batches = rand_in(1, 4), p.accum_depth = rand_in(1, 40), p.output_depth = rand_in(1, 24);
  p.input_offset = rand_in(-127, 128), p.filter_offset = 0, p.output_offset = rand_in(-128, 127);
  p.act_min = rand_in(-128, 0), p.act_max = rand_in(p.act_min, 127);
  p.rounding = rand_in(0, 1);
  const int32_t n_in = p.batches * p.accum_depth, n_filter = p.output_depth * p.accum_depth, n_out = p.batches * p.output_depth;
  int8_t *input = END_OF(in_buf, n_in), *filter = END_OF(filter_buf, n_filter);
  fill_s8(input, n_in);
  fill_s8(filter, n_filter);
  fill_requant(p.output_depth);
  const int32_t *bias = fill_bias(p.output_depth);
  const mt_split_filter split = random_split(filter, p.output_depth, p.accum_depth, 1, index);
  memset(out_whole, 0x5a, sizeof out_whole);
  memset(out_split, 0x5a, sizeof out_split);
  const int32_t *mult = END_OF(mult_buf, p.output_depth), *shift = END_OF(shift_buf, p.output_depth);
  mt_fully_connected_s8(&p, input, filter, bias, mult, shift, out_whole);
  mt_fully_connected_s8_split(&p, input, &split, bias, mult, shift, out_split);
  const int32_t bad = check("fully_connected", index, first_difference(out_whole, out_split, n_out + GUARD, 1));

  const int32_t accumulate = rand_in(0, 1);
  float *grad_out = END_OF(grad_out_buf, n_out), *scale = END_OF(scale_buf, p.output_depth);
  for (int32_t i = 0; i < n_out; ++i) grad_out[i] = rand_float();
  for (int32_t c = 0; c < p.output_depth; ++c) scale[c] = rand_float();
  for (int32_t i = 0; i < n_in + GUARD; ++i) grad_whole[i] = grad_split[i] = rand_float();
  mt_fully_connected_grad_input_f32(p.batches, p.accum_depth, p.output_depth, filter, scale, grad_out, grad_whole, accumulate);
  mt_fully_connected_grad_input_split_f32(p.batches, p.accum_depth, p.output_depth, &split, scale, grad_out, grad_split, accumulate);
  *grad_bad += check("fully_connected_grad_input", index, first_difference(grad_whole, grad_split, n_in + GUARD, 4));

  int8_t e_out, e_in, ew[2], es[2];
  fill_narrow(n_out, n_in, &e_out, &e_in);
  ew[0] = es[0] = ew[1] = es[1] = e_in;
  const int16_t *o16 = END_OF(g16_out, n_out);
  const int8_t *o8 = END_OF(g8_out, n_out);
  mt_fully_connected_grad_input_s16(p.batches, p.accum_depth, p.output_depth, filter, scale, o16, &e_out, g16_whole, &ew[0], accumulate);
  mt_fully_connected_grad_input_split_s16(p.batches, p.accum_depth, p.output_depth, &split, scale, o16, &e_out, g16_split, &es[0], accumulate);
  mt_fully_connected_grad_input_s8(p.batches, p.accum_depth, p.output_depth, filter, scale, o8, &e_out, g8_whole, &ew[1], accumulate);
  mt_fully_connected_grad_input_split_s8(p.batches, p.accum_depth, p.output_depth, &split, scale, o8, &e_out, g8_split, &es[1], accumulate);
  check_narrow("fully_connected_grad_input_narrow", index, n_in, ew, es);
  return bad;
}

static int32_t run(int32_t cases) {
  int32_t conv_bad = 0, fc_bad = 0, conv_grad_cases = 0, conv_grad_bad = 0, fc_grad_bad = 0;
  for (int32_t i = 0; i < cases; ++i) conv_bad += conv_case(i, &conv_grad_cases, &conv_grad_bad);
  for (int32_t i = 0; i < cases; ++i) fc_bad += fully_connected_case(i, &fc_grad_bad);
  put_cases("conv", cases, conv_bad);
  put_cases("conv_grad_input", conv_grad_cases, conv_grad_bad);
  put_cases("fully_connected", cases, fc_bad);
  put_cases("fully_connected_grad_input", cases, fc_grad_bad);
  put_cases("grad_input_s16", narrow_cases, narrow_bad[0]);
  put_cases("grad_input_s8", narrow_cases, narrow_bad[1]);
  return conv_bad + fc_bad + conv_grad_bad + fc_grad_bad + narrow_bad[0] + narrow_bad[1];
}

#if defined(MT_HARNESS_HOST)
int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s seed cases [flags]\n", argv[0]);
    return 2;
  }
  rng_state = (uint32_t)strtoul(argv[1], NULL, 0) | 1u;
  tamper = argc == 4 && strtol(argv[3], NULL, 0) == 1;
  return run((int32_t)strtol(argv[2], NULL, 0)) == 0 ? 0 : 1;
}
#else
int main(void) {
  put_str("ready\n");
  rng_state = get_u32() | 1u;
  const int32_t cases = (int32_t)get_u32();
  tamper = get_u32() == 1u;
  const int32_t bad = run(cases);
  put_str("DONE\n");
  mt_platform_exit(bad == 0 ? 0 : 1);
}
#endif
