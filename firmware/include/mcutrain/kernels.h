/* Every int8 kernel of the runtime; generated model code includes this one header. */
#ifndef MCUTRAIN_KERNELS_H
#define MCUTRAIN_KERNELS_H

#include "mcutrain/kernels/common.h"
#include "mcutrain/kernels/requantize.h"
#include "mcutrain/kernels/add.h"
#include "mcutrain/kernels/concatenation.h"
#include "mcutrain/kernels/copy_region.h"
#include "mcutrain/kernels/conv.h"
#include "mcutrain/kernels/depthwise_conv.h"
#include "mcutrain/kernels/fully_connected.h"
#include "mcutrain/kernels/mean.h"
#include "mcutrain/kernels/pad.h"
#include "mcutrain/kernels/pooling.h"
#include "mcutrain/kernels/quantize.h"
#include "mcutrain/kernels/softmax.h"
#include "mcutrain/kernels/train.h"
#include "mcutrain/kernels/train_narrow.h"
#include "mcutrain/kernels/train_int_engine.h"

#endif
