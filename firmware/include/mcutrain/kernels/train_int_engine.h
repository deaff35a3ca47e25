/* The integer-only engine's float boundary (train_int.h holds no float): the learning rate SET_HYPER
 * writes and the loss the link reports are float32, converted through their bits with integer
 * operations only (firmware/kernels/grad_int_engine.c), so the image needs no soft-float routine. */
#ifndef MCUTRAIN_KERNELS_TRAIN_INT_ENGINE_H
#define MCUTRAIN_KERNELS_TRAIN_INT_ENGINE_H

#include <stdint.h>

#include "mcutrain/kernels/train_int.h"

/* The engine's learning rate: the float variable SET_HYPER writes, read from its bits into
 * lr_multiplier + lr_shift with integer operations only (lr = m * 2^(e - 150), m the 24-bit significand:
 * multiplier m << 7, shift e - 126; exactly quantizeMultiplier's result for a float32). Zero, a
 * subnormal or a rate below 2^-32 gives 0 (no step), as quantizeMultiplier does. */
void mt_sgd_int_set_lr(mt_sgd_int *sgd, const float *lr);
/* The Q16 loss as a float for the link (its IEEE-754 bits assembled with integer operations,
 * rounded to nearest even; exact below 2^8). */
float mt_loss_from_q16(int32_t q16);

#endif /* MCUTRAIN_KERNELS_TRAIN_INT_ENGINE_H */
