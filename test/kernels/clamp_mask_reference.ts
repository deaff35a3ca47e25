/**
 * Reference of the 1-bit clamp mask contract (firmware/kernels/clamp_mask.c, train.h): bit i is bit
 * (i & 7) of byte (i >> 3), LSB first, 1 where the gradient passes (act_min < out[i] < act_max), and
 * the unused high bits of the last byte are 0.
 */

export function packClampMask(out: readonly number[], actMin: number, actMax: number): number[] {
  const bytes = new Array<number>(Math.ceil(out.length / 8)).fill(0);
  out.forEach((v, i) => {
    if (v > actMin && v < actMax) bytes[i >> 3] |= 1 << (i & 7);
  });
  return bytes;
}

/** Whether element i passes its gradient under the packed mask. */
export const maskPasses = (bits: readonly number[], i: number): boolean => ((bits[i >> 3] >> (i & 7)) & 1) === 1;
