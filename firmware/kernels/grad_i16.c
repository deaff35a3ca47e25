/* The integer-only training kernels with int16 gradients (train_int.h), from grad_int.inc. */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/kernels/train_int.h"
#include "fixedpoint.h"
#include "grad_int_common.h"

#define MT_I_T int16_t
#define MT_I_BITS 16
#define MT_I(name) name##_i16
#include "grad_int.inc"
