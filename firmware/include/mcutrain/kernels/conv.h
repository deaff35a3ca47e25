/* CONV_2D, int8 activations with per-output-channel int8 weights (TFLite's
 * ConvPerChannel). Per-tensor weights use the same kernel with the multiplier
 * repeated for every channel. */
#ifndef MCUTRAIN_KERNELS_CONV_H
#define MCUTRAIN_KERNELS_CONV_H

#include <stdint.h>

#include "mcutrain/kernels/common.h"

typedef struct {
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;       /* top and left padding; the far side needs no number */
  int32_t input_offset;       /* minus the input zero point */
  int32_t output_offset;      /* the output zero point */
  int32_t act_min, act_max;   /* fused activation, as int8 bounds */
  int32_t rounding;           /* MT_ROUND_DOUBLE or MT_ROUND_SINGLE (see common.h) */
} mt_conv_params;

/* filter is OHWI: {out_channels, filter_h, filter_w, in_channels / groups}.
 * bias (int32, one per output channel) may be NULL. output_mult/output_shift
 * hold one requantization multiplier per output channel.
 * Precondition (checked by the lowering): no accumulator exceeds int32. */
void mt_conv_s8(const mt_conv_params *params,
                const mt_dims4 *input_dims, const int8_t *input,
                const mt_dims4 *filter_dims, const int8_t *filter,
                const int32_t *bias,
                const int32_t *output_mult, const int32_t *output_shift,
                const mt_dims4 *output_dims, int8_t *output);

/* The same with int4 weights, packed two per byte as TFLite's INT4 stores them
 * (element 2i in the low nibble of byte i), unpacked on the fly. */
void mt_conv_s4w(const mt_conv_params *params,
                 const mt_dims4 *input_dims, const int8_t *input,
                 const mt_dims4 *filter_dims, const uint8_t *filter,
                 const int32_t *bias,
                 const int32_t *output_mult, const int32_t *output_shift,
                 const mt_dims4 *output_dims, int8_t *output);

/* The same with int8 weights split between SRAM and Flash (common.h: the trained block of a training
 * build's tensor), without groups: bit for bit mt_conv_s8 on the whole tensor. A split by input
 * channels (trained_cols < h * w * in_c) needs a 1x1 filter. */
void mt_conv_s8_split(const mt_conv_params *params,
                      const mt_dims4 *input_dims, const int8_t *input,
                      const mt_dims4 *filter_dims, const mt_split_filter *filter,
                      const int32_t *bias,
                      const int32_t *output_mult, const int32_t *output_shift,
                      const mt_dims4 *output_dims, int8_t *output);

#endif /* MCUTRAIN_KERNELS_CONV_H */
