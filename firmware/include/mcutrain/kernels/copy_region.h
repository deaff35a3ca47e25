/* Copying a window of rows and columns between NHWC int8 tensors: how patch-based execution
 * (src/plan/patch_stage.ts) cuts a patch out of a full tensor and pastes a computed patch back. */
#ifndef MCUTRAIN_KERNELS_COPY_REGION_H
#define MCUTRAIN_KERNELS_COPY_REGION_H

#include <stdint.h>

#include "mcutrain/kernels/common.h"

/* Copies rows [src_y, src_y + h) x columns [src_x, src_x + w) of every batch and channel of src to
 * the same-sized window at (dst_y, dst_x) of dst. Both tensors have the same n and c. */
void mt_copy_region_s8(const int8_t *src, const mt_dims4 *src_dims, int32_t src_y, int32_t src_x,
                       int8_t *dst, const mt_dims4 *dst_dims, int32_t dst_y, int32_t dst_x, int32_t h, int32_t w);

/* Copies the first `channels` of the `depth` channels of each of `pixels` pixels (NHWC) into dst,
 * packed: what a weight update trained on the first input channels saves of its input. */
void mt_copy_channels_s8(const int8_t *src, int32_t pixels, int32_t depth, int32_t channels, int8_t *dst);

#endif /* MCUTRAIN_KERNELS_COPY_REGION_H */
