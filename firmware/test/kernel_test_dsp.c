/* The DSP kernels (firmware/kernels/arm/) against the portable ones (firmware/kernels/), in one image:
 * the build links the DSP twins under the kernels' own names (make DSP=1), and this file includes the
 * portable sources under other names. Random cases (seeded: every shape, stride, padding, dilation,
 * depth multiplier, group count, offset, rounding mode and requantization the kernels accept) run
 * through both, and every output byte, plus a guard band after the output, must agree. Then a few
 * model-like shapes are timed with mt_platform_ticks (instructions, under QEMU -icount).
 *
 * On an emulated MPS2 board (test/kernels/dsp_equivalence.test.ts builds it with `make DSP=1
 * MAIN=runtime/test/kernel_test_dsp.c`) it prints "ready", reads seed, cases and flags (u32 each,
 * little-endian) from UART0, reports over UART0 and exits (semihosting) with 0 when all agree, 1 when
 * not. The requantization also gets cases of its own, cases / 10 runs of 512 chosen accumulators
 * (CASES requantization). On the host, built with -DMT_DSP_EMULATE (kernels/arm/dsp.h then emulates
 * the instructions in C, for the sanitizers), the three numbers are its arguments. Flag 1 corrupts
 * one output byte of the DSP side in one conv case: the run must then fail (the check can fail);
 * flags >> 8, when not 0, runs only that benchmark (1-based), for profiling. Lines:
 *   MISMATCH <kernel> case=<i> at=<byte> portable=<v> dsp=<v> <parameters>
 *   CASES <kernel> <cases> <mismatching cases>
 *   BENCH <kernel> <shape> macs=<n> portable=<ticks> dsp=<ticks> same=<0|1> */
#include <stdint.h>

#include "mcutrain/kernels/conv.h"
#include "mcutrain/kernels/depthwise_conv.h"
#include "mcutrain/kernels/fully_connected.h"

/* The portable kernels under other names (their headers are already included, so the renamed
 * definitions stand alone). */
#define mt_conv_s8 mt_portable_conv_s8
#define mt_conv_s8_split mt_portable_conv_s8_split
#include "../kernels/conv.c"
#undef mt_conv_s8
#undef mt_conv_s8_split
#define mt_depthwise_conv_s8 mt_portable_depthwise_conv_s8
#include "../kernels/depthwise_conv.c"
#undef mt_depthwise_conv_s8
#define mt_fully_connected_s8 mt_portable_fully_connected_s8
#define mt_fully_connected_s8_split mt_portable_fully_connected_s8_split
#include "../kernels/fully_connected.c"
#undef mt_fully_connected_s8
#undef mt_fully_connected_s8_split

#include "harness_io.h" /* put_str, put_int, put_kv, put_cases, get_u32, ticks, rand_u32, rand_in */

/* ---- buffers ---- */
#define IN_CAP 32768
#define FILTER_CAP 32768
#define OUT_CAP 32768
#define CH_CAP 512
#define GUARD 16
#define SENTINEL 0x5a

static int8_t in_buf[IN_CAP], filter_buf[FILTER_CAP];
static int8_t out_ref[OUT_CAP + GUARD], out_dsp[OUT_CAP + GUARD];
static int32_t bias_buf[CH_CAP], mult_buf[CH_CAP], shift_buf[CH_CAP];

/* A case's operands end where their buffers end, so that a read past one leaves its array (which
 * AddressSanitizer reports in the host build). Outputs start at the front, followed by a guard band. */
static int8_t *input_of(int32_t n) { return &in_buf[IN_CAP - n]; }
static int8_t *filter_of(int32_t n) { return &filter_buf[FILTER_CAP - n]; }
static int32_t *bias_of(int32_t n) { return &bias_buf[CH_CAP - n]; }
static int32_t *mult_of(int32_t n) { return &mult_buf[CH_CAP - n]; }
static int32_t *shift_of(int32_t n) { return &shift_buf[CH_CAP - n]; }

static void fill_s8(int8_t *a, int32_t n) {
  for (int32_t i = 0; i < n; ++i) a[i] = (int8_t)rand_in(-128, 127);
}

static int32_t overflows = 0; /* cases too big for the buffers: a fault of this harness, reported as failures */

static void check_fits(int32_t in, int32_t filter, int32_t out, int32_t channels) {
  if (in > IN_CAP || filter > FILTER_CAP || out > OUT_CAP || channels > CH_CAP) {
    ++overflows;
    put_str("CAPACITY a case does not fit the harness buffers\n");
  }
}

static void clear_outputs(int32_t n) {
  for (int32_t i = 0; i < n + GUARD; ++i) out_ref[i] = out_dsp[i] = (int8_t)SENTINEL;
}

static int32_t count4(const mt_dims4 *d) { return d->n * d->h * d->w * d->c; }

/* floor(log2(v)) for v >= 1 */
static int32_t log2_floor(uint32_t v) {
  int32_t r = 0;
  while (v >>= 1) ++r;
  return r;
}

/* Per-channel multipliers and shifts. Mostly what the lowering makes (a Q31 multiplier in [0.5, 1)
 * and a shift that maps a typical accumulator to about 30), then the edges: any shift in [-31, 2],
 * any int32 multiplier, INT32_MIN, left shifts that wrap. */
static void fill_requant(int32_t channels, int32_t typical) {
  const int32_t usual = 5 - log2_floor((uint32_t)(typical > 1 ? typical : 1));
  const int32_t mode = rand_in(0, 9);
  for (int32_t c = 0; c < channels; ++c) {
    int32_t m = rand_in(1 << 30, INT32_MAX), s = usual + rand_in(-1, 1);
    if (mode == 7) s = rand_in(-31, 2);
    if (mode == 8) m = (int32_t)rand_u32();
    if (mode == 9) {
      const int32_t edge[4] = {INT32_MIN, 1 << 30, INT32_MAX, -(1 << 30)};
      m = edge[rand_in(0, 3)];
      s = rand_in(-2, 2);
    }
    if (rand_in(0, 29) == 0) s = rand_in(1, 2);
    if (s < -31) s = -31;
    mult_of(channels)[c] = m;
    shift_of(channels)[c] = s;
  }
}

/* NULL one time in five; now and then values so large that accumulators pass 2^30 (the DSP
 * requantization's fast path ends there) while staying inside int32 for |sum| < 2^29. */
static const int32_t *fill_bias(int32_t channels, int32_t typical) {
  const int32_t mode = rand_in(0, 9);
  if (mode < 2) return NULL;
  for (int32_t c = 0; c < channels; ++c) {
    bias_of(channels)[c] =
        mode == 9 ? rand_in(-(INT32_MAX - (1 << 29)), INT32_MAX - (1 << 29)) : rand_in(-2 * typical, 2 * typical);
  }
  return bias_of(channels);
}

static int32_t isqrt(int32_t v) {
  int32_t r = 0;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

/* Output extent for an input of `in` with padding `pad` before, a far-side padding drawn at random,
 * and now and then one more output whose window lies wholly outside the input. */
static int32_t out_extent(int32_t in, int32_t pad, int32_t reach, int32_t stride) {
  int32_t out = (in + pad + rand_in(0, reach - 1) - reach) / stride + 1;
  if (out < 1) out = 1;
  if (rand_in(0, 9) == 0) out += 1;
  return out;
}

static int32_t first_mismatch(int32_t n) {
  for (int32_t i = 0; i < n + GUARD; ++i) {
    if (out_ref[i] != out_dsp[i]) return i;
  }
  return -1;
}

static int32_t reports = 0;

static void report_mismatch(const char *kernel, int32_t index, int32_t at) {
  if (++reports > 20) return;
  put_str("MISMATCH ");
  put_str(kernel);
  put_kv("case", index);
  put_kv("at", at);
  put_kv("portable", out_ref[at]);
  put_kv("dsp", out_dsp[at]);
}

static void put_dims(const char *key, const mt_dims4 *d) {
  put_str(" ");
  put_str(key);
  put_str("=");
  put_int(d->n), put_str("x"), put_int(d->h), put_str("x"), put_int(d->w), put_str("x"), put_int(d->c);
}

/* ---- CONV_2D ---- */

typedef struct {
  mt_conv_params p;
  mt_dims4 in, filter, out;
  const int32_t *bias;
} conv_case;

static conv_case random_conv(void) {
  conv_case k;
  const int pointwise = rand_in(0, 3) == 0;
  const int32_t groups = pointwise || rand_in(0, 3) != 0 ? 1 : rand_in(2, 3);
  const int32_t group_depth = pointwise ? rand_in(1, 48) : rand_in(1, 20);
  const int32_t per_group = rand_in(1, 9);
  const int32_t fh = pointwise ? 1 : rand_in(0, 7) == 0 ? 5 : rand_in(1, 3);
  const int32_t fw = pointwise ? 1 : rand_in(0, 7) == 0 ? 5 : rand_in(1, 3);
  k.p.stride_h = pointwise ? rand_in(1, 2) : rand_in(1, 3);
  k.p.stride_w = pointwise ? rand_in(1, 2) : rand_in(1, 3);
  k.p.dilation_h = rand_in(1, 2);
  k.p.dilation_w = rand_in(1, 2);
  const int32_t reach_h = (fh - 1) * k.p.dilation_h + 1, reach_w = (fw - 1) * k.p.dilation_w + 1;
  k.p.pad_h = pointwise ? 0 : rand_in(0, reach_h - 1);
  k.p.pad_w = pointwise ? 0 : rand_in(0, reach_w - 1);
  k.in = (mt_dims4){rand_in(1, 2), rand_in(1, 9), rand_in(1, 9), groups * group_depth};
  k.filter = (mt_dims4){groups * per_group, fh, fw, group_depth};
  k.out = (mt_dims4){k.in.n, out_extent(k.in.h, k.p.pad_h, reach_h, k.p.stride_h),
                     out_extent(k.in.w, k.p.pad_w, reach_w, k.p.stride_w), groups * per_group};
  if (pointwise && rand_in(0, 1) == 0) { /* the plain 1x1 layout: output pixels = input pixels */
    k.p.stride_h = k.p.stride_w = 1;
    k.out.h = k.in.h, k.out.w = k.in.w;
  }
  k.p.input_offset = rand_in(-127, 128);
  k.p.output_offset = rand_in(0, 3) == 0 ? rand_in(-128, 127) : rand_in(-40, 40);
  const int full_range = rand_in(0, 1);
  k.p.act_min = full_range ? -128 : rand_in(-128, -20);
  k.p.act_max = full_range ? 127 : rand_in(20, 127);
  k.p.rounding = rand_in(0, 1) ? MT_ROUND_SINGLE : MT_ROUND_DOUBLE;
  const int32_t typical = isqrt(fh * fw * group_depth) * 128 * 74;
  check_fits(count4(&k.in), count4(&k.filter), count4(&k.out), k.out.c);
  fill_s8(input_of(count4(&k.in)), count4(&k.in));
  fill_s8(filter_of(count4(&k.filter)), count4(&k.filter));
  fill_requant(k.out.c, typical);
  k.bias = fill_bias(k.out.c, typical);
  return k;
}

static void put_conv(const conv_case *k) {
  put_dims("in", &k->in), put_dims("filter", &k->filter), put_dims("out", &k->out);
  put_kv("stride", k->p.stride_h * 10 + k->p.stride_w), put_kv("dilation", k->p.dilation_h * 10 + k->p.dilation_w);
  put_kv("pad", k->p.pad_h * 10 + k->p.pad_w), put_kv("rounding", k->p.rounding);
  put_str("\n");
}

static void run_conv(const conv_case *k, uint32_t *t_ref, uint32_t *t_dsp) {
  clear_outputs(count4(&k->out));
  uint32_t t0 = ticks();
  const int8_t *input = input_of(count4(&k->in)), *filter = filter_of(count4(&k->filter));
  const int32_t *mult = mult_of(k->out.c), *shift = shift_of(k->out.c);
  mt_portable_conv_s8(&k->p, &k->in, input, &k->filter, filter, k->bias, mult, shift, &k->out, out_ref);
  uint32_t t1 = ticks();
  mt_conv_s8(&k->p, &k->in, input, &k->filter, filter, k->bias, mult, shift, &k->out, out_dsp);
  uint32_t t2 = ticks();
  *t_ref = t1 - t0;
  *t_dsp = t2 - t1;
}

/* ---- DEPTHWISE_CONV_2D ---- */

typedef struct {
  mt_depthwise_conv_params p;
  mt_dims4 in, filter, out;
  const int32_t *bias;
} depthwise_case;

static depthwise_case random_depthwise(void) {
  depthwise_case k;
  const int32_t multipliers[5] = {2, 3, 4, 5, 8};
  const int32_t multiplier = rand_in(0, 2) == 0 ? multipliers[rand_in(0, 4)] : 1;
  const int32_t in_c = rand_in(1, multiplier > 4 ? 8 : 24);
  const int32_t fh = rand_in(0, 7) == 0 ? 5 : rand_in(1, 3);
  const int32_t fw = rand_in(0, 7) == 0 ? 5 : rand_in(1, 3);
  k.p.stride_h = rand_in(1, 3);
  k.p.stride_w = rand_in(1, 3);
  k.p.dilation_h = rand_in(1, 2);
  k.p.dilation_w = rand_in(1, 2);
  const int32_t reach_h = (fh - 1) * k.p.dilation_h + 1, reach_w = (fw - 1) * k.p.dilation_w + 1;
  k.p.pad_h = rand_in(0, reach_h - 1);
  k.p.pad_w = rand_in(0, reach_w - 1);
  k.p.depth_multiplier = multiplier;
  k.in = (mt_dims4){rand_in(1, 2), rand_in(1, 9), rand_in(1, 9), in_c};
  k.filter = (mt_dims4){1, fh, fw, in_c * multiplier};
  k.out = (mt_dims4){k.in.n, out_extent(k.in.h, k.p.pad_h, reach_h, k.p.stride_h),
                     out_extent(k.in.w, k.p.pad_w, reach_w, k.p.stride_w), in_c * multiplier};
  k.p.input_offset = rand_in(-127, 128);
  k.p.output_offset = rand_in(0, 3) == 0 ? rand_in(-128, 127) : rand_in(-40, 40);
  const int full_range = rand_in(0, 1);
  k.p.act_min = full_range ? -128 : rand_in(-128, -20);
  k.p.act_max = full_range ? 127 : rand_in(20, 127);
  const int32_t typical = isqrt(fh * fw) * 128 * 74;
  check_fits(count4(&k.in), count4(&k.filter), count4(&k.out), k.out.c);
  fill_s8(input_of(count4(&k.in)), count4(&k.in));
  fill_s8(filter_of(count4(&k.filter)), count4(&k.filter));
  fill_requant(k.out.c, typical);
  k.bias = fill_bias(k.out.c, typical);
  return k;
}

static void put_depthwise(const depthwise_case *k) {
  put_dims("in", &k->in), put_dims("filter", &k->filter), put_dims("out", &k->out);
  put_kv("stride", k->p.stride_h * 10 + k->p.stride_w), put_kv("dilation", k->p.dilation_h * 10 + k->p.dilation_w);
  put_kv("pad", k->p.pad_h * 10 + k->p.pad_w), put_kv("multiplier", k->p.depth_multiplier);
  put_str("\n");
}

static void run_depthwise(const depthwise_case *k, uint32_t *t_ref, uint32_t *t_dsp) {
  clear_outputs(count4(&k->out));
  uint32_t t0 = ticks();
  const int8_t *input = input_of(count4(&k->in)), *filter = filter_of(count4(&k->filter));
  const int32_t *mult = mult_of(k->out.c), *shift = shift_of(k->out.c);
  mt_portable_depthwise_conv_s8(&k->p, &k->in, input, &k->filter, filter, k->bias, mult, shift, &k->out, out_ref);
  uint32_t t1 = ticks();
  mt_depthwise_conv_s8(&k->p, &k->in, input, &k->filter, filter, k->bias, mult, shift, &k->out, out_dsp);
  uint32_t t2 = ticks();
  *t_ref = t1 - t0;
  *t_dsp = t2 - t1;
}

/* ---- FULLY_CONNECTED ---- */

typedef struct {
  mt_fully_connected_params p;
  const int32_t *bias;
} fc_case;

static fc_case random_fc(void) {
  fc_case k;
  k.p.batches = rand_in(1, 4);
  k.p.accum_depth = rand_in(0, 3) == 0 ? rand_in(1, 9) : rand_in(1, 300);
  k.p.output_depth = rand_in(1, 21);
  k.p.input_offset = rand_in(-127, 128);
  k.p.filter_offset = rand_in(0, 1) ? 0 : rand_in(-127, 128);
  k.p.output_offset = rand_in(0, 3) == 0 ? rand_in(-128, 127) : rand_in(-40, 40);
  const int full_range = rand_in(0, 1);
  k.p.act_min = full_range ? -128 : rand_in(-128, -20);
  k.p.act_max = full_range ? 127 : rand_in(20, 127);
  k.p.rounding = rand_in(0, 1) ? MT_ROUND_SINGLE : MT_ROUND_DOUBLE;
  const int32_t typical = isqrt(k.p.accum_depth) * 128 * 74;
  check_fits(k.p.batches * k.p.accum_depth, k.p.output_depth * k.p.accum_depth, k.p.batches * k.p.output_depth,
             k.p.output_depth);
  fill_s8(input_of(k.p.batches * k.p.accum_depth), k.p.batches * k.p.accum_depth);
  fill_s8(filter_of(k.p.output_depth * k.p.accum_depth), k.p.output_depth * k.p.accum_depth);
  fill_requant(k.p.output_depth, typical);
  k.bias = fill_bias(k.p.output_depth, typical);
  return k;
}

static void put_fc(const fc_case *k) {
  put_kv("batches", k->p.batches), put_kv("depth", k->p.accum_depth), put_kv("outputs", k->p.output_depth);
  put_kv("filter_offset", k->p.filter_offset), put_kv("rounding", k->p.rounding);
  put_str("\n");
}

static void run_fc(const fc_case *k, uint32_t *t_ref, uint32_t *t_dsp) {
  clear_outputs(k->p.batches * k->p.output_depth);
  uint32_t t0 = ticks();
  const int8_t *input = input_of(k->p.batches * k->p.accum_depth);
  const int8_t *filter = filter_of(k->p.output_depth * k->p.accum_depth);
  const int32_t *mult = mult_of(k->p.output_depth), *shift = shift_of(k->p.output_depth);
  mt_portable_fully_connected_s8(&k->p, input, filter, k->bias, mult, shift, out_ref);
  uint32_t t1 = ticks();
  mt_fully_connected_s8(&k->p, input, filter, k->bias, mult, shift, out_dsp);
  uint32_t t2 = ticks();
  *t_ref = t1 - t0;
  *t_dsp = t2 - t1;
}


/* ---- the requantization's edges ----
 * A fully connected layer of depth 1 over a zero input and zero weights has its bias as accumulator,
 * so these cases put chosen accumulators (the ends of int32, the ends of the DSP fast path at +-2^30,
 * exact rounding ties) through every shift from -31 to 2, multipliers including 0, 1, negative ones
 * and INT32_MIN, both roundings and both kinds of clamp. */

static int32_t edge_accumulator(void) {
  const int32_t k = rand_in(-1000, 1000), j = rand_in(0, 20);
  switch (rand_in(0, 9)) {
    case 0: {
      const int32_t ends[12] = {0, 1, -1, 1 << 30, (1 << 30) - 1, -(1 << 30), -(1 << 30) - 1, -(1 << 30) + 1,
                                INT32_MAX, INT32_MIN, INT32_MIN + 1, INT32_MAX - 1};
      return ends[rand_in(0, 11)];
    }
    case 1: return (int32_t)rand_u32();
    case 2: case 3: case 4: /* k * 2^j and k * 2^j + 2^(j-1): ties for shifts near j */
      return k * ((int32_t)1 << j) + (rand_in(0, 1) ? ((int32_t)1 << j) / 2 : 0);
    default: return rand_in(-100000, 100000);
  }
}

static int32_t requant_edges(int32_t rounds) {
  int32_t bad = 0;
  const int32_t n = CH_CAP;
  for (int32_t round = 0; round < rounds; ++round) {
    fc_case k;
    k.p = (mt_fully_connected_params){1, 1, n, 0, 0, 0, -128, 127, round % 2 ? MT_ROUND_SINGLE : MT_ROUND_DOUBLE};
    if ((round / 2) % 2) { /* a fused clamp narrower than int8, an offset at either end */
      k.p.act_min = rand_in(-128, -1), k.p.act_max = rand_in(0, 127);
      k.p.output_offset = rand_in(0, 1) ? -128 : 127;
    } else {
      k.p.output_offset = rand_in(-128, 127);
    }
    input_of(1)[0] = 0;
    for (int32_t c = 0; c < n; ++c) {
      const int32_t edge_mults[7] = {INT32_MIN, -(1 << 30), 0, 1, -1, 1 << 30, INT32_MAX};
      filter_of(n)[c] = 0;
      bias_of(n)[c] = edge_accumulator();
      mult_of(n)[c] = rand_in(0, 3) == 0 ? edge_mults[rand_in(0, 6)] : rand_in(0, 3) == 0 ? (int32_t)rand_u32()
                                                                                         : rand_in(1 << 30, INT32_MAX);
      shift_of(n)[c] = rand_in(-31, 2);
    }
    k.bias = bias_of(n);
    uint32_t t_ref, t_dsp;
    run_fc(&k, &t_ref, &t_dsp);
    const int32_t at = first_mismatch(n);
    if (at >= 0) {
      ++bad;
      report_mismatch("requantization", round, at);
      if (reports <= 20) {
        put_kv("acc", bias_of(n)[at]), put_kv("multiplier", mult_of(n)[at]), put_kv("shift", shift_of(n)[at]);
        put_kv("rounding", k.p.rounding), put_str("\n");
      }
    }
  }
  put_cases("requantization", rounds, bad);
  return bad;
}

/* ---- the random cases ---- */


static int32_t random_cases(int32_t cases, uint32_t flags) {
  int32_t bad_conv = 0, bad_depthwise = 0, bad_fc = 0;
  uint32_t t_ref, t_dsp;
  for (int32_t i = 0; i < cases; ++i) {
    const conv_case k = random_conv();
    run_conv(&k, &t_ref, &t_dsp);
    if ((flags & 1u) && i == cases / 2) out_dsp[count4(&k.out) - 1] ^= 1; /* the check must catch this */
    const int32_t at = first_mismatch(count4(&k.out));
    if (at >= 0) {
      ++bad_conv;
      report_mismatch("conv", i, at);
      if (reports <= 20) put_conv(&k);
    }
  }
  put_cases("conv", cases, bad_conv);
  for (int32_t i = 0; i < cases; ++i) {
    const depthwise_case k = random_depthwise();
    run_depthwise(&k, &t_ref, &t_dsp);
    const int32_t at = first_mismatch(count4(&k.out));
    if (at >= 0) {
      ++bad_depthwise;
      report_mismatch("depthwise_conv", i, at);
      if (reports <= 20) put_depthwise(&k);
    }
  }
  put_cases("depthwise_conv", cases, bad_depthwise);
  for (int32_t i = 0; i < cases; ++i) {
    const fc_case k = random_fc();
    run_fc(&k, &t_ref, &t_dsp);
    const int32_t at = first_mismatch(k.p.batches * k.p.output_depth);
    if (at >= 0) {
      ++bad_fc;
      report_mismatch("fully_connected", i, at);
      if (reports <= 20) put_fc(&k);
    }
  }
  put_cases("fully_connected", cases, bad_fc);
  return bad_conv + bad_depthwise + bad_fc + overflows + requant_edges(cases / 10);
}

/* ---- model-like shapes, timed ---- */

static void bench_line(const char *kernel, const char *shape, int64_t macs, uint32_t t_ref, uint32_t t_dsp, int same) {
  put_str("BENCH ");
  put_str(kernel);
  put_str(" ");
  put_str(shape);
  put_kv("macs", macs);
  put_kv("portable", t_ref);
  put_kv("dsp", t_dsp);
  put_kv("same", same);
  put_str("\n");
}

/* Typical requantization for every channel (Q31 multiplier, shift for ~30 from a typical sum). */
static void usual_requant(int32_t channels, int32_t taps) {
  const int32_t shift = 5 - log2_floor((uint32_t)(isqrt(taps) * 128 * 74));
  for (int32_t c = 0; c < channels; ++c) {
    mult_of(channels)[c] = rand_in(1 << 30, INT32_MAX);
    shift_of(channels)[c] = shift;
    bias_of(channels)[c] = rand_in(-20000, 20000);
  }
}

static int32_t bench_conv(const char *shape, mt_dims4 in, int32_t fhw, int32_t stride, int32_t pad, int32_t out_c,
                          int32_t rounding) {
  conv_case k;
  k.p = (mt_conv_params){stride, stride, 1, 1, pad, pad, 3, -5, -128, 127, rounding};
  k.in = in;
  k.filter = (mt_dims4){out_c, fhw, fhw, in.c};
  k.out = (mt_dims4){in.n, (in.h + 2 * pad - fhw) / stride + 1, (in.w + 2 * pad - fhw) / stride + 1, out_c};
  k.bias = bias_of(out_c);
  fill_s8(input_of(count4(&k.in)), count4(&k.in));
  fill_s8(filter_of(count4(&k.filter)), count4(&k.filter));
  usual_requant(out_c, fhw * fhw * in.c);
  uint32_t t_ref, t_dsp;
  run_conv(&k, &t_ref, &t_dsp);
  const int same = first_mismatch(count4(&k.out)) < 0;
  bench_line("conv", shape, (int64_t)count4(&k.out) * fhw * fhw * in.c, t_ref, t_dsp, same);
  return !same;
}

static int32_t bench_depthwise(const char *shape, mt_dims4 in, int32_t fhw, int32_t stride, int32_t pad,
                               int32_t multiplier) {
  depthwise_case k;
  k.p = (mt_depthwise_conv_params){stride, stride, 1, 1, pad, pad, multiplier, 3, -5, -128, 127};
  k.in = in;
  k.filter = (mt_dims4){1, fhw, fhw, in.c * multiplier};
  k.out = (mt_dims4){in.n, (in.h + 2 * pad - fhw) / stride + 1, (in.w + 2 * pad - fhw) / stride + 1, in.c * multiplier};
  k.bias = bias_of(k.out.c);
  fill_s8(input_of(count4(&k.in)), count4(&k.in));
  fill_s8(filter_of(count4(&k.filter)), count4(&k.filter));
  usual_requant(k.out.c, fhw * fhw);
  uint32_t t_ref, t_dsp;
  run_depthwise(&k, &t_ref, &t_dsp);
  const int same = first_mismatch(count4(&k.out)) < 0;
  bench_line("depthwise_conv", shape, (int64_t)count4(&k.out) * fhw * fhw, t_ref, t_dsp, same);
  return !same;
}

static int32_t bench_fc(const char *shape, int32_t batches, int32_t depth, int32_t outputs, int32_t filter_offset) {
  fc_case k;
  k.p = (mt_fully_connected_params){batches, depth, outputs, 3, filter_offset, -5, -128, 127, MT_ROUND_DOUBLE};
  k.bias = bias_of(outputs);
  fill_s8(input_of(batches * depth), batches * depth);
  fill_s8(filter_of(outputs * depth), outputs * depth);
  usual_requant(outputs, depth);
  uint32_t t_ref, t_dsp;
  run_fc(&k, &t_ref, &t_dsp);
  const int same = first_mismatch(batches * outputs) < 0;
  bench_line("fully_connected", shape, (int64_t)batches * depth * outputs, t_ref, t_dsp, same);
  return !same;
}

/* All of them, or only number `only` (1-based). */
static int32_t benchmarks(uint32_t only) {
  int32_t bad = 0;
  uint32_t i = 0;
#define BENCH(call) \
  if (only == 0 || ++i == only) bad += call
  BENCH(bench_conv("1x1_8x8x32_to_64", (mt_dims4){1, 8, 8, 32}, 1, 1, 0, 64, MT_ROUND_DOUBLE));
  BENCH(bench_conv("1x1_8x8x32_to_64_single", (mt_dims4){1, 8, 8, 32}, 1, 1, 0, 64, MT_ROUND_SINGLE));
  BENCH(bench_conv("1x1_7x7x64_to_64", (mt_dims4){1, 7, 7, 64}, 1, 1, 0, 64, MT_ROUND_DOUBLE));
  BENCH(bench_conv("1x1_4x4x128_to_128", (mt_dims4){1, 4, 4, 128}, 1, 1, 0, 128, MT_ROUND_DOUBLE));
  BENCH(bench_conv("3x3_s2_pad1_16x16x3_to_16", (mt_dims4){1, 16, 16, 3}, 3, 2, 1, 16, MT_ROUND_DOUBLE));
  BENCH(bench_conv("3x3_s1_pad1_8x8x16_to_16", (mt_dims4){1, 8, 8, 16}, 3, 1, 1, 16, MT_ROUND_DOUBLE));
  BENCH(bench_depthwise("3x3_s1_pad1_16x16x32", (mt_dims4){1, 16, 16, 32}, 3, 1, 1, 1));
  BENCH(bench_depthwise("3x3_s2_pad1_16x16x32", (mt_dims4){1, 16, 16, 32}, 3, 2, 1, 1));
  BENCH(bench_depthwise("3x3_s1_pad1_8x8x8_m2", (mt_dims4){1, 8, 8, 8}, 3, 1, 1, 2));
  BENCH(bench_fc("1x256_to_64", 1, 256, 64, 0));
  BENCH(bench_fc("4x128_to_32_filter_offset", 4, 128, 32, 7));
#undef BENCH
  return bad;
}

#if defined(MT_DSP_EMULATE)
int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s seed cases flags\n", argv[0]);
    return 2;
  }
  rng_state = (uint32_t)strtoul(argv[1], NULL, 0) | 1u;
  const uint32_t flags = (uint32_t)strtoul(argv[3], NULL, 0);
  const int32_t bad = random_cases((int32_t)strtol(argv[2], NULL, 0), flags) + benchmarks(flags >> 8);
  return bad == 0 ? 0 : 1;
}
#else
int main(void) {
  put_str("ready\n");
  rng_state = get_u32() | 1u;
  const int32_t cases = (int32_t)get_u32();
  const uint32_t flags = get_u32();
  const int32_t bad = random_cases(cases, flags) + benchmarks(flags >> 8);
  put_str("DONE\n");
  mt_platform_exit(bad == 0 ? 0 : 1);
}
#endif
