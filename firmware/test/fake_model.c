/* A hand-written stand-in for generated model code, for the link tests only (test/link/host_link.test.ts,
 * test/link/train_link.test.ts).
 * Inference: output 0 is input + 1 (saturating int8); output 1 counts invocations since the process
 * started, so a test can tell a retried request that was answered from the remembered reply from one
 * that ran again.
 * Training (unless built with -DFAKE_NO_TRAIN, which gives an inference-only firmware; -DFAKE_NO_MOMENTUM
 * leaves out the momentum buffers): a fake step
 * whose numbers a test can predict, over two params large enough that READ_PARAMS / WRITE_PARAMS
 * need several chunks:
 *   loss      = label + (sum of the int8 sample) / 1024 + bias[label]   (before the update)
 *   predicted = (sum of the int8 sample) mod 3, in 0..2
 *   update    : weights[label] += 1 (wrapping), bias[label] += 1,
 *               weight momentum[label] += 0.5, bias momentum[label] += 0.25. */
#include <stddef.h>
#include <stdint.h>

#include "mcutrain/link.h"
#include "mcutrain/model.h"
#include "mcutrain/platform.h"

#define IN_BYTES 1024

static uint8_t arena[IN_BYTES + IN_BYTES + 4];
static int32_t invocations;

static const mt_io_tensor inputs[1] = {
  {"image", MT_INT8, 4, {1, 16, 16, 4, 0, 0}, IN_BYTES, 0.5f, -3, arena},
};
static const mt_io_tensor outputs[2] = {
  {"plus_one", MT_INT8, 4, {1, 16, 16, 4, 0, 0}, IN_BYTES, 0.5f, -1, arena + IN_BYTES},
  {"invocations", MT_INT32, 1, {1, 0, 0, 0, 0, 0}, 4, 0.0f, 0, arena + 2 * IN_BYTES},
};
static const mt_op_info ops[2] = {{"ADD", IN_BYTES}, {"COUNT", 0}};

#ifndef FAKE_NO_TRAIN
#define TRAIN_IN_BYTES 16
#define W_BYTES 6000      /* int8 [3, 2000] */
#define W_MOMENTUM 2000   /* only channel 0 is "updated": momentum need not cover the whole tensor */
#define N_CLASSES 3

/* In the arena, as generated code's is, across the end of the input and the start of output 0: an INFER
 * overwrites a sample staged here, and a sample staged here overwrites the last INFER's outputs. */
#define TRAIN_INPUT_OFFSET (IN_BYTES - 8)
#define train_input (arena + TRAIN_INPUT_OFFSET)
static int8_t weights[W_BYTES];
static int32_t bias[N_CLASSES] = {100, -200, 300};
static float weights_momentum[W_MOMENTUM];
static float bias_momentum[N_CLASSES];
static float lr = 0.05f;
static float momentum = 0.0f;

#ifndef FAKE_NO_MOMENTUM
#define MOMENTUM(buffer, floats) .momentum = (buffer), .momentum_floats = (floats)
#define BUMP(buffer, i, by) ((buffer)[i] += (by))
#else /* plain SGD: no optimizer state */
#define MOMENTUM(buffer, floats) .momentum = NULL, .momentum_floats = 0
#define BUMP(buffer, i, by) ((void)(buffer), (void)(i))
#endif

static const mt_train_param params[2] = {
  {.name = "fc/weights", .dtype = MT_INT8, .bytes = W_BYTES, .data = (uint8_t *)weights, MOMENTUM(weights_momentum, W_MOMENTUM)},
  {.name = "fc/bias", .dtype = MT_INT32, .bytes = sizeof bias, .data = (uint8_t *)bias, MOMENTUM(bias_momentum, N_CLASSES)},
};

static void fake_step(int32_t label, int update, mt_train_result *result) {
  int32_t sum = 0;
  for (int i = 0; i < TRAIN_IN_BYTES; i++) sum += (int8_t)train_input[i];
  result->loss = (float)label + (float)sum / 1024.0f + (float)bias[label];
  result->predicted = ((sum % 3) + 3) % 3;
  if (update) {
    weights[label] = (int8_t)(uint8_t)((uint8_t)weights[label] + 1u);
    bias[label] += 1;
    BUMP(weights_momentum, label, 0.5f);
    BUMP(bias_momentum, label, 0.25f);
  }
}

static const mt_train_desc train = {
  .n_classes = N_CLASSES,
  .n_params = 2,
  .params = params,
  .input = train_input,
  .input_bytes = TRAIN_IN_BYTES,
  .lr = &lr,
  .momentum = &momentum,
  .step = fake_step,
};
#define TRAIN (&train)
#else
#define TRAIN NULL
#endif

#ifndef FAKE_MODEL_HASH /* a test that pairs this firmware with a real .tflite passes that file's hash */
#define FAKE_MODEL_HASH {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
#endif

const mt_model_desc mt_model = {
  .model_hash = FAKE_MODEL_HASH,
  .build_id = "fake-model-build",
  .arena_bytes = sizeof arena,
  .flash_const_bytes = 1234,
  .n_inputs = 1,
  .n_outputs = 2,
  .n_ops = 2,
  .inputs = inputs,
  .outputs = outputs,
  .ops = ops,
  .train = TRAIN,
};

/* Smaller than the input on purpose (INFER's payload is staged in the input tensor, never here) and than
 * READ_PARAMS' limit (the client must chunk writes by HELLO's max request); larger than a small frame, so
 * WRITE_PARAMS requests are staged here. */
#define RX_BYTES 600
MT_LINK_DEFINE_BUFFERS(RX_BYTES, 2);

void mt_model_invoke(uint32_t *op_ticks) {
  uint32_t t = mt_platform_ticks();
  const int8_t *in = (const int8_t *)inputs[0].data;
  int8_t *out = (int8_t *)outputs[0].data;
  for (int i = 0; i < IN_BYTES; i++) out[i] = (int8_t)(in[i] == 127 ? 127 : in[i] + 1);
  if (op_ticks) op_ticks[0] = mt_platform_ticks() - t;

  t = mt_platform_ticks();
  invocations++;
  const uint32_t v = (uint32_t)invocations;
  uint8_t *count = outputs[1].data; /* little-endian, as the link protocol sends it */
  count[0] = (uint8_t)v;
  count[1] = (uint8_t)(v >> 8);
  count[2] = (uint8_t)(v >> 16);
  count[3] = (uint8_t)(v >> 24);
  if (op_ticks) op_ticks[1] = mt_platform_ticks() - t;
}
