/* FULLY_CONNECTED, int8 (TFLite's FullyConnected / FullyConnectedPerChannel in
 * one kernel: per-tensor weights repeat their multiplier for every output and
 * may have a zero point; per-channel weights have zero point 0). */
#ifndef MCUTRAIN_KERNELS_FULLY_CONNECTED_H
#define MCUTRAIN_KERNELS_FULLY_CONNECTED_H

#include <stdint.h>

#include "mcutrain/kernels/common.h"

typedef struct {
  int32_t batches;            /* rows of the input seen as [batches, accum_depth] */
  int32_t accum_depth;        /* inputs per output */
  int32_t output_depth;       /* outputs per row */
  int32_t input_offset;       /* minus the input zero point */
  int32_t filter_offset;      /* minus the weights' zero point */
  int32_t output_offset;      /* the output zero point */
  int32_t act_min, act_max;   /* fused activation, as int8 bounds */
  int32_t rounding;           /* MT_ROUND_DOUBLE or MT_ROUND_SINGLE (see common.h) */
} mt_fully_connected_params;

/* filter is [output_depth, accum_depth]; bias (one int32 per output) may be
 * NULL; output_mult/output_shift hold one multiplier per output.
 * output is [batches, output_depth].
 * Precondition (checked by the lowering): no accumulator exceeds int32. */
void mt_fully_connected_s8(const mt_fully_connected_params *params,
                           const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *output_mult, const int32_t *output_shift,
                           int8_t *output);

/* The same with int4 weights, packed two per byte as TFLite's INT4 stores them
 * (element 2i in the low nibble of byte i), unpacked on the fly. */
void mt_fully_connected_s4w(const mt_fully_connected_params *params,
                            const int8_t *input, const uint8_t *filter, const int32_t *bias,
                            const int32_t *output_mult, const int32_t *output_shift,
                            int8_t *output);

/* The same with int8 weights split between SRAM and Flash (common.h: the trained block of a training
 * build's tensor): bit for bit mt_fully_connected_s8 on the whole tensor. */
void mt_fully_connected_s8_split(const mt_fully_connected_params *params,
                                 const int8_t *input, const mt_split_filter *filter, const int32_t *bias,
                                 const int32_t *output_mult, const int32_t *output_shift,
                                 int8_t *output);

#endif /* MCUTRAIN_KERNELS_FULLY_CONNECTED_H */
