/* The training kernels with int8 gradients (train_narrow.h), from grad_narrow.inc. */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train_narrow.h"
#include "grad_narrow_common.h"
#include "train_common.h"

#define MT_G_T int8_t
#define MT_G_BITS 8
#define MT_G(name) name##_s8
#define MT_U(name) name##_g8
#include "grad_narrow.inc"
