/* The device side of the link protocol (docs/protocol.md): frame parsing with resync, retry
 * detection, the HELLO / INFER / PROFILE / RESET commands over mt_model, and the training commands
 * over mt_model.train when the model was compiled with training. */
#include "mcutrain/link.h"

#include <string.h>

#include "mcutrain/crc32.h"
#include "mcutrain/model.h"
#include "mcutrain/platform.h"

#define MSG_CAPACITY 80u

/* ------------------------------------------------------------------------------------------------
 * Replies. A reply is described, not stored: its payload is generated from the device state each
 * time it is sent (once to count its length, once to send it, and again for a retry). */

enum body_kind { BODY_EMPTY, BODY_HELLO, BODY_INFER, BODY_PROFILE, BODY_TRAIN_STEP, BODY_TRAIN_INFO, BODY_READ_PARAMS };

typedef struct {
  uint8_t cmd, seq, status, body; /* body: enum body_kind, used when status is MT_LINK_OK */
  const char *msg;                /* error message, for any other status */
  uint32_t msg_len;
} reply;

typedef struct {
  const mt_link_port *port;
  int counting; /* 1: only count payload bytes; 0: send them */
  uint32_t count;
  uint32_t crc;
  uint32_t staged;
  uint8_t stage[64]; /* collects small fields into fewer port writes */
} writer;

static void w_flush_stage(writer *w) {
  if (w->staged > 0) w->port->write(w->port->ctx, w->stage, w->staged);
  w->staged = 0;
}

/* Bytes outside the CRC (sync, the CRC itself). */
static void w_raw(writer *w, const uint8_t *p, uint32_t n) {
  if (n > sizeof w->stage - w->staged) w_flush_stage(w);
  if (n >= sizeof w->stage) {
    w->port->write(w->port->ctx, p, n);
  } else {
    memcpy(w->stage + w->staged, p, n);
    w->staged += n;
  }
}

static void w_bytes(writer *w, const void *p, uint32_t n) {
  if (w->counting) {
    w->count += n;
    return;
  }
  w->crc = mt_crc32(w->crc, (const uint8_t *)p, n);
  w_raw(w, (const uint8_t *)p, n);
}

static void w_u8(writer *w, uint8_t v) { w_bytes(w, &v, 1); }

static void w_u16(writer *w, uint16_t v) {
  const uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  w_bytes(w, b, 2);
}

static void put_u32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
}

static void w_u32(writer *w, uint32_t v) {
  uint8_t b[4];
  put_u32(b, v);
  w_bytes(w, b, 4);
}

static void w_i32(writer *w, int32_t v) { w_u32(w, (uint32_t)v); }

static void w_f32(writer *w, float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  w_u32(w, bits);
}

static void w_str(writer *w, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n > 255) n = 255;
  w_u8(w, (uint8_t)n);
  w_bytes(w, s, (uint32_t)n);
}

/* ------------------------------------------------------------------------------------------------
 * Device state. */

static struct {
  int have_last;     /* the last executed request, for retry detection */
  uint8_t last_seq;
  uint32_t last_crc;
  reply last;
  int have_profile;  /* an INFER ran since boot or RESET */
  uint32_t total_ticks;
  mt_train_result train_result; /* of the last TRAIN_STEP / EVALUATE: its reply, resent to a retry, is
                                 * described by this copy, so a retried step never runs again */
  uint32_t train_steps;         /* TRAIN_STEP updates applied since boot: 0 = the parameters are as
                                 * compiled in (TRAIN_INFO reports it; never cleared by RESET, since
                                 * the host build keeps its parameters across one) */
  uint8_t read_space;           /* the range of the last READ_PARAMS */
  uint32_t read_offset, read_len;
  char msg[MSG_CAPACITY];
} st;

static void forget_requests(void) {
  st.have_last = 0;
  st.have_profile = 0;
}

/* Error messages, built without stdio. */
typedef struct {
  uint32_t len;
} msg_builder;

static void m_str(msg_builder *m, const char *s) {
  while (*s && m->len < MSG_CAPACITY) st.msg[m->len++] = *s++;
}

static void m_u32(msg_builder *m, uint32_t v) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v > 0);
  while (n > 0 && m->len < MSG_CAPACITY) st.msg[m->len++] = digits[--n];
}

static void m_i32(msg_builder *m, int32_t v) {
  if (v < 0) m_str(m, "-");
  m_u32(m, v < 0 ? 0u - (uint32_t)v : (uint32_t)v);
}

static void m_hex8(msg_builder *m, uint8_t v) {
  static const char hex[] = "0123456789abcdef";
  const char s[5] = {'0', 'x', hex[v >> 4], hex[v & 0xFu], 0};
  m_str(m, s);
}

static void set_error(reply *r, uint8_t status, const msg_builder *m) {
  r->status = status;
  r->msg = st.msg;
  r->msg_len = m->len;
}

static void set_error_literal(reply *r, uint8_t status, const char *msg) {
  r->status = status;
  r->msg = msg;
  r->msg_len = (uint32_t)strlen(msg);
}

static uint32_t get_u32(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* ------------------------------------------------------------------------------------------------
 * Trained parameters as the link addresses them: one space of parameter bytes (as stored) and one of
 * momentum floats (little-endian bytes), each the concatenation of all params in table order. */

static uint32_t momentum_floats(const mt_train_param *p) { return p->momentum ? p->momentum_floats : 0u; }

static uint32_t segment_bytes(const mt_train_param *p, uint8_t space) {
  return space == MT_LINK_SPACE_PARAMS ? p->bytes : 4u * momentum_floats(p);
}

static uint32_t space_bytes(const mt_train_desc *t, uint8_t space) {
  uint32_t n = 0;
  for (uint16_t i = 0; i < t->n_params; i++) n += segment_bytes(&t->params[i], space);
  return n;
}

/* Byte access to a momentum float by its little-endian byte index, whatever the core's byte order. */
static uint8_t momentum_byte(const float *m, uint32_t i) {
  uint32_t bits;
  memcpy(&bits, &m[i / 4u], sizeof bits);
  return (uint8_t)(bits >> (8u * (i % 4u)));
}

static void set_momentum_byte(float *m, uint32_t i, uint8_t b) {
  uint32_t bits;
  const uint32_t shift = 8u * (i % 4u);
  memcpy(&bits, &m[i / 4u], sizeof bits);
  bits = (bits & ~(0xFFu << shift)) | (uint32_t)b << shift;
  memcpy(&m[i / 4u], &bits, sizeof bits);
}

/* BAD_PAYLOAD "<cmd> payload is <len> bytes; <parts> take <want>": a request of the wrong size. */
static void set_payload_size_error(reply *r, const char *cmd, uint32_t len, const char *parts, uint32_t want) {
  msg_builder m = {0};
  m_str(&m, cmd);
  m_str(&m, " payload is ");
  m_u32(&m, len);
  m_str(&m, " bytes; ");
  m_str(&m, parts);
  m_str(&m, " take ");
  m_u32(&m, want);
  set_error(r, MT_LINK_BAD_PAYLOAD, &m);
}

/* ------------------------------------------------------------------------------------------------
 * Reply payloads. */

static void emit_tensor(writer *w, const mt_io_tensor *t) {
  const uint8_t rank = t->rank <= 6 ? t->rank : 6;
  w_u8(w, t->dtype);
  w_u8(w, rank);
  for (uint8_t i = 0; i < rank; i++) w_i32(w, t->dims[i]);
  w_u32(w, t->bytes);
  w_f32(w, t->scale);
  w_i32(w, t->zero_point);
  w_str(w, t->name);
}

static void emit_hello(writer *w) {
  w_u16(w, (uint16_t)MT_LINK_PROTOCOL_VERSION);
  w_bytes(w, mt_model.model_hash, 8);
  w_u32(w, mt_model.arena_bytes);
  w_u32(w, mt_model.flash_const_bytes);
  w_u32(w, mt_link_buffers.rx_capacity);
  w_u32(w, mt_model.train ? MT_LINK_FEATURE_TRAINING : 0u);
  w_u16(w, mt_model.n_ops);
  w_u16(w, mt_model.n_inputs);
  w_u16(w, mt_model.n_outputs);
  w_str(w, mt_model.build_id);
  w_str(w, mt_platform_tick_unit());
  for (uint16_t i = 0; i < mt_model.n_inputs; i++) emit_tensor(w, &mt_model.inputs[i]);
  for (uint16_t i = 0; i < mt_model.n_outputs; i++) emit_tensor(w, &mt_model.outputs[i]);
}

static void emit_profile(writer *w) {
  w_u32(w, st.total_ticks);
  w_u32(w, mt_platform_stack_high_water());
  w_u32(w, mt_model.arena_bytes);
  w_u16(w, mt_model.n_ops);
  for (uint16_t i = 0; i < mt_model.n_ops; i++) w_u32(w, mt_link_buffers.op_ticks[i]);
  w_str(w, mt_platform_tick_unit());
}

static void emit_train_info(writer *w) {
  const mt_train_desc *t = mt_model.train;
  w_u16(w, t->n_classes);
  w_u32(w, t->input_bytes);
  w_f32(w, t->lr ? *t->lr : 0.0f);
  w_f32(w, t->momentum ? *t->momentum : 0.0f);
  w_u16(w, t->n_params);
  for (uint16_t i = 0; i < t->n_params; i++) {
    const mt_train_param *p = &t->params[i];
    w_u8(w, p->dtype);
    w_u32(w, p->bytes);
    w_u32(w, momentum_floats(p));
    w_str(w, p->name);
  }
  w_u32(w, st.train_steps);
}

/* The range of the last READ_PARAMS, read from the parameters as they are now. */
static void emit_read_params(writer *w) {
  const mt_train_desc *t = mt_model.train;
  uint32_t start = 0, from = st.read_offset;
  const uint32_t to = st.read_offset + st.read_len;
  for (uint16_t i = 0; i < t->n_params && from < to; i++) {
    const mt_train_param *p = &t->params[i];
    const uint32_t end = start + segment_bytes(p, st.read_space);
    if (from < end) {
      const uint32_t stop = to < end ? to : end;
      if (st.read_space == MT_LINK_SPACE_PARAMS) w_bytes(w, p->data + (from - start), stop - from);
      else for (uint32_t k = from; k < stop; k++) w_u8(w, momentum_byte(p->momentum, k - start));
      from = stop;
    }
    start = end;
  }
}

static void emit_payload(writer *w, const reply *r) {
  w_u8(w, r->status);
  if (r->status != MT_LINK_OK) {
    w_bytes(w, r->msg, r->msg_len);
    return;
  }
  switch (r->body) {
    case BODY_HELLO: emit_hello(w); break;
    case BODY_INFER:
      for (uint16_t i = 0; i < mt_model.n_outputs; i++) w_bytes(w, mt_model.outputs[i].data, mt_model.outputs[i].bytes);
      break;
    case BODY_PROFILE: emit_profile(w); break;
    case BODY_TRAIN_STEP:
      w_f32(w, st.train_result.loss);
      w_i32(w, st.train_result.predicted);
      w_u32(w, st.train_result.ticks);
      break;
    case BODY_TRAIN_INFO: emit_train_info(w); break;
    case BODY_READ_PARAMS: emit_read_params(w); break;
    default: break;
  }
}

static void send_reply(const mt_link_port *port, const reply *r) {
  writer w;
  memset(&w, 0, sizeof w);
  w.port = port;
  w.counting = 1;
  emit_payload(&w, r);
  reply too_big;
  if (w.count > MT_LINK_MAX_PAYLOAD) {
    too_big = *r;
    set_error_literal(&too_big, MT_LINK_MODEL_ERROR, "reply exceeds the 1 MiB frame limit");
    r = &too_big;
    w.count = 0;
    emit_payload(&w, r);
  }
  const uint32_t n = w.count;
  w.counting = 0;

  const uint8_t sync[2] = {MT_LINK_SYNC0, MT_LINK_SYNC1};
  w_raw(&w, sync, 2);
  w_u8(&w, (uint8_t)(r->cmd | MT_LINK_REPLY));
  w_u8(&w, r->seq);
  w_u32(&w, n);
  emit_payload(&w, r);
  uint8_t crc[4];
  put_u32(crc, w.crc);
  w_raw(&w, crc, 4);
  w_flush_stage(&w);
  port->flush(port->ctx);
}

/* ------------------------------------------------------------------------------------------------
 * Commands. */

static void do_infer(reply *r, uint32_t len) {
  msg_builder m = {0};
  uint32_t in_bytes = 0;
  for (uint16_t i = 0; i < mt_model.n_inputs; i++) {
    if (!mt_model.inputs[i].data) {
      m_str(&m, "input ");
      m_u32(&m, i);
      m_str(&m, " has no buffer (model code is broken)");
      set_error(r, MT_LINK_MODEL_ERROR, &m);
      return;
    }
    in_bytes += mt_model.inputs[i].bytes;
  }
  for (uint16_t i = 0; i < mt_model.n_outputs; i++) {
    if (!mt_model.outputs[i].data) {
      m_str(&m, "output ");
      m_u32(&m, i);
      m_str(&m, " has no buffer (model code is broken)");
      set_error(r, MT_LINK_MODEL_ERROR, &m);
      return;
    }
  }
  if (in_bytes > mt_link_buffers.rx_capacity || mt_model.n_ops > mt_link_buffers.op_capacity) {
    m_str(&m, "link buffers (");
    m_u32(&m, mt_link_buffers.rx_capacity);
    m_str(&m, " B, ");
    m_u32(&m, mt_link_buffers.op_capacity);
    m_str(&m, " ops) < model (");
    m_u32(&m, in_bytes);
    m_str(&m, " B, ");
    m_u32(&m, mt_model.n_ops);
    m_str(&m, " ops)");
    set_error(r, MT_LINK_MODEL_ERROR, &m);
    return;
  }
  if (len != in_bytes) {
    set_payload_size_error(r, "INFER", len, "the model inputs", in_bytes);
    return;
  }
  const uint8_t *src = mt_link_buffers.rx;
  for (uint16_t i = 0; i < mt_model.n_inputs; i++) {
    memcpy(mt_model.inputs[i].data, src, mt_model.inputs[i].bytes);
    src += mt_model.inputs[i].bytes;
  }
  for (uint16_t i = 0; i < mt_model.n_ops; i++) mt_link_buffers.op_ticks[i] = 0;
  const uint32_t t0 = mt_platform_ticks();
  mt_model_invoke(mt_link_buffers.op_ticks);
  st.total_ticks = mt_platform_ticks() - t0;
  st.have_profile = 1;
  r->body = BODY_INFER;
}

/* ------------------------------------------------------------------------------------------------
 * Training commands (mt_model.train is not NULL when these run). */

static const char *const SPACE_NAMES[2] = {"params", "momentum"};

static float get_f32(const uint8_t *b) {
  const uint32_t bits = get_u32(b);
  float v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

/* Without libm: an exponent of all ones is an infinity or a NaN. */
static int is_finite(float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return (bits & 0x7F800000u) != 0x7F800000u;
}

/* TRAIN_STEP (update != 0) and EVALUATE: the sample, then an int32 label. */
static void do_train_step(reply *r, uint32_t len, int update) {
  const mt_train_desc *t = mt_model.train;
  msg_builder m = {0};
  if (!t->input || !t->step) {
    set_error_literal(r, MT_LINK_MODEL_ERROR, "training has no input buffer or step (model code is broken)");
    return;
  }
  if (t->input_bytes > mt_link_buffers.rx_capacity || mt_link_buffers.rx_capacity - t->input_bytes < 4u) {
    m_str(&m, "link buffer (");
    m_u32(&m, mt_link_buffers.rx_capacity);
    m_str(&m, " B) < training sample + label (");
    m_u32(&m, t->input_bytes + 4u);
    m_str(&m, " B)");
    set_error(r, MT_LINK_MODEL_ERROR, &m);
    return;
  }
  if (len != t->input_bytes + 4u) {
    set_payload_size_error(r, update ? "TRAIN_STEP" : "EVALUATE", len, "sample + label", t->input_bytes + 4u);
    return;
  }
  const int32_t label = (int32_t)get_u32(mt_link_buffers.rx + t->input_bytes);
  if (label < 0 || label >= (int32_t)t->n_classes) {
    m_str(&m, "label ");
    m_i32(&m, label);
    m_str(&m, " is not a class (0..");
    m_u32(&m, t->n_classes > 0 ? t->n_classes - 1u : 0u);
    m_str(&m, ")");
    set_error(r, MT_LINK_BAD_PAYLOAD, &m);
    return;
  }
  memcpy(t->input, mt_link_buffers.rx, t->input_bytes);
  mt_train_result res;
  memset(&res, 0, sizeof res);
  const uint32_t t0 = mt_platform_ticks();
  t->step(label, update, &res);
  res.ticks = mt_platform_ticks() - t0; /* measured here, as INFER's total: the step need not */
  st.train_result = res;
  if (update) st.train_steps++;
  r->body = BODY_TRAIN_STEP;
}

static void do_set_hyper(reply *r, uint32_t len) {
  const mt_train_desc *t = mt_model.train;
  if (len != 8u) {
    set_payload_size_error(r, "SET_HYPER", len, "lr and momentum", 8u);
    return;
  }
  const float lr = get_f32(mt_link_buffers.rx), momentum = get_f32(mt_link_buffers.rx + 4);
  if (!is_finite(lr) || lr < 0.0f) {
    set_error_literal(r, MT_LINK_BAD_PAYLOAD, "lr must be a finite number >= 0");
    return;
  }
  if (!is_finite(momentum) || momentum < 0.0f || momentum >= 1.0f) {
    set_error_literal(r, MT_LINK_BAD_PAYLOAD, "momentum must lie in [0, 1)");
    return;
  }
  if (momentum != 0.0f) {
    for (uint16_t i = 0; i < t->n_params; i++) {
      if (!t->params[i].momentum) {
        set_error_literal(r, MT_LINK_BAD_PAYLOAD, "no momentum buffers: compile with momentum to use momentum != 0");
        return;
      }
    }
  }
  if (!t->lr || !t->momentum) {
    set_error_literal(r, MT_LINK_MODEL_ERROR, "training has no lr or momentum variable (model code is broken)");
    return;
  }
  *t->lr = lr;
  *t->momentum = momentum;
}

/* Checks the space byte and that [offset, offset + n) lies inside the space; returns its size or sets an error. */
static int check_range(reply *r, const char *what, uint8_t space, uint32_t offset, uint32_t n) {
  msg_builder m = {0};
  if (space > MT_LINK_SPACE_MOMENTUM) {
    m_str(&m, "space ");
    m_u32(&m, space);
    m_str(&m, " is neither 0 (params) nor 1 (momentum)");
    set_error(r, MT_LINK_BAD_PAYLOAD, &m);
    return 0;
  }
  const uint32_t total = space_bytes(mt_model.train, space);
  if (offset > total || n > total - offset) {
    m_str(&m, what);
    m_str(&m, " of ");
    m_u32(&m, n);
    m_str(&m, " B at ");
    m_u32(&m, offset);
    m_str(&m, " exceeds the ");
    m_u32(&m, total);
    m_str(&m, " B of ");
    m_str(&m, SPACE_NAMES[space]);
    set_error(r, MT_LINK_BAD_PAYLOAD, &m);
    return 0;
  }
  return 1;
}

static void do_read_params(reply *r, uint32_t len) {
  msg_builder m = {0};
  if (len != 9u) {
    set_payload_size_error(r, "READ_PARAMS", len, "space, offset and length", 9u);
    return;
  }
  const uint8_t space = mt_link_buffers.rx[0];
  const uint32_t offset = get_u32(mt_link_buffers.rx + 1), n = get_u32(mt_link_buffers.rx + 5);
  if (n > MT_LINK_MAX_READ_BYTES) {
    m_str(&m, "read of ");
    m_u32(&m, n);
    m_str(&m, " B exceeds the limit of ");
    m_u32(&m, MT_LINK_MAX_READ_BYTES);
    m_str(&m, " B per reply");
    set_error(r, MT_LINK_BAD_PAYLOAD, &m);
    return;
  }
  if (!check_range(r, "read", space, offset, n)) return;
  st.read_space = space;
  st.read_offset = offset;
  st.read_len = n;
  r->body = BODY_READ_PARAMS;
}

static void do_write_params(reply *r, uint32_t len) {
  const mt_train_desc *t = mt_model.train;
  if (len < 5u) {
    set_payload_size_error(r, "WRITE_PARAMS", len, "space and offset alone", 5u);
    return;
  }
  const uint8_t space = mt_link_buffers.rx[0];
  const uint32_t offset = get_u32(mt_link_buffers.rx + 1), n = len - 5u;
  if (!check_range(r, "write", space, offset, n)) return;
  const uint8_t *src = mt_link_buffers.rx + 5;
  uint32_t start = 0, at = offset;
  const uint32_t to = offset + n;
  for (uint16_t i = 0; i < t->n_params && at < to; i++) {
    const mt_train_param *p = &t->params[i];
    const uint32_t end = start + segment_bytes(p, space);
    if (at < end) {
      const uint32_t stop = to < end ? to : end;
      if (space == MT_LINK_SPACE_PARAMS) memcpy(p->data + (at - start), src + (at - offset), stop - at);
      else for (uint32_t k = at; k < stop; k++) set_momentum_byte(p->momentum, k - start, src[k - offset]);
      at = stop;
    }
    start = end;
  }
}

static void do_training(reply *r, uint32_t len) {
  msg_builder m = {0};
  if (!mt_model.train) {
    set_error_literal(r, MT_LINK_UNKNOWN_COMMAND, "this firmware was compiled without training (mcutrain compile --train)");
    return;
  }
  switch (r->cmd) {
    case MT_LINK_TRAIN_STEP: do_train_step(r, len, 1); return;
    case MT_LINK_EVALUATE: do_train_step(r, len, 0); return;
    case MT_LINK_SET_HYPER: do_set_hyper(r, len); return;
    case MT_LINK_TRAIN_INFO: r->body = BODY_TRAIN_INFO; return;
    case MT_LINK_READ_PARAMS: do_read_params(r, len); return;
    case MT_LINK_WRITE_PARAMS: do_write_params(r, len); return;
    default:
      m_str(&m, "unknown training command ");
      m_hex8(&m, r->cmd);
      set_error(r, MT_LINK_UNKNOWN_COMMAND, &m);
      return;
  }
}

/* Runs one new request; returns 1 when the device must restart after replying. */
static int execute(reply *r, uint32_t len, int oversize) {
  msg_builder m = {0};
  r->status = MT_LINK_OK;
  r->body = BODY_EMPTY;
  if (oversize) {
    m_str(&m, "request payload of ");
    m_u32(&m, len);
    m_str(&m, " bytes exceeds the device buffer of ");
    m_u32(&m, mt_link_buffers.rx_capacity);
    set_error(r, MT_LINK_TOO_LARGE, &m);
    return 0;
  }
  switch (r->cmd) {
    case MT_LINK_HELLO: r->body = BODY_HELLO; return 0;
    case MT_LINK_INFER: do_infer(r, len); return 0;
    case MT_LINK_PROFILE:
      if (!st.have_profile) set_error_literal(r, MT_LINK_BAD_STATE, "no INFER since boot or RESET");
      else r->body = BODY_PROFILE;
      return 0;
    case MT_LINK_RESET: return 1;
    default:
      if (r->cmd >= MT_LINK_TRAIN_FIRST && r->cmd <= MT_LINK_TRAIN_LAST) {
        do_training(r, len);
        return 0;
      }
      m_str(&m, "unknown command ");
      m_hex8(&m, r->cmd);
      set_error(r, MT_LINK_UNKNOWN_COMMAND, &m);
      return 0;
  }
}

/* ------------------------------------------------------------------------------------------------
 * Frame parsing: fed one byte at a time; scans for sync again after anything wrong. */

enum parse_state { P_SYNC0, P_SYNC1, P_HEADER, P_PAYLOAD, P_CRC };
enum parse_result { FRAME_NONE, FRAME_GOOD, FRAME_BAD_CRC };

typedef struct {
  uint8_t state; /* enum parse_state */
  uint8_t hdr[8];
  uint32_t got;  /* bytes of hdr, payload or CRC received so far */
  uint32_t len;
  int oversize;  /* payload larger than the receive buffer: counted into the CRC, not stored */
  uint32_t crc;  /* running CRC of an oversize payload */
  uint8_t crc_in[4];
} parser;

static int feed(parser *p, uint8_t b);

/* The header's length is impossible: the sync was false or the header damaged. Scan its bytes after
 * the first sync byte again (seven bytes cannot complete another header, so this nests once). */
static void reject_header(parser *p) {
  uint8_t again[7];
  memcpy(again, p->hdr + 1, sizeof again);
  p->state = P_SYNC0;
  for (uint32_t i = 0; i < sizeof again; i++) (void)feed(p, again[i]);
}

static int end_of_frame(parser *p) {
  uint32_t crc = mt_crc32(0, p->hdr + 2, 6);
  crc = p->oversize ? p->crc : mt_crc32(crc, mt_link_buffers.rx, p->len);
  p->state = P_SYNC0;
  return crc == get_u32(p->crc_in) ? FRAME_GOOD : FRAME_BAD_CRC;
}

static int feed(parser *p, uint8_t b) {
  switch (p->state) {
    case P_SYNC0:
      if (b == MT_LINK_SYNC0) p->state = P_SYNC1;
      return FRAME_NONE;
    case P_SYNC1:
      if (b == MT_LINK_SYNC1) {
        p->hdr[0] = MT_LINK_SYNC0;
        p->hdr[1] = MT_LINK_SYNC1;
        p->got = 2;
        p->state = P_HEADER;
      } else if (b != MT_LINK_SYNC0) {
        p->state = P_SYNC0;
      }
      return FRAME_NONE;
    case P_HEADER:
      p->hdr[p->got++] = b;
      if (p->got < sizeof p->hdr) return FRAME_NONE;
      p->len = get_u32(p->hdr + 4);
      if (p->len > MT_LINK_MAX_PAYLOAD) {
        reject_header(p);
        return FRAME_NONE;
      }
      p->oversize = p->len > mt_link_buffers.rx_capacity;
      if (p->oversize) p->crc = mt_crc32(0, p->hdr + 2, 6);
      p->got = 0;
      p->state = p->len > 0 ? P_PAYLOAD : P_CRC;
      return FRAME_NONE;
    case P_PAYLOAD:
      if (p->oversize) p->crc = mt_crc32(p->crc, &b, 1);
      else mt_link_buffers.rx[p->got] = b;
      if (++p->got == p->len) {
        p->got = 0;
        p->state = P_CRC;
      }
      return FRAME_NONE;
    case P_CRC:
      p->crc_in[p->got++] = b;
      return p->got == 4 ? end_of_frame(p) : FRAME_NONE;
    default:
      p->state = P_SYNC0;
      return FRAME_NONE;
  }
}

/* ------------------------------------------------------------------------------------------------ */

static void handle_frame(const mt_link_port *port, const parser *p, int result) {
  const uint8_t cmd = p->hdr[2], seq = p->hdr[3];
  if (cmd & MT_LINK_REPLY) return; /* never answer a reply (an echo of our own output) */
  reply r;
  memset(&r, 0, sizeof r);
  r.cmd = cmd;
  r.seq = seq;
  if (result == FRAME_BAD_CRC) {
    /* Nothing ran, and cmd/seq may be damaged: answered, but not remembered. */
    set_error_literal(&r, MT_LINK_BAD_CRC, "frame CRC mismatch");
    send_reply(port, &r);
    return;
  }
  const uint32_t crc = get_u32(p->crc_in);
  if (st.have_last && seq == st.last_seq && crc == st.last_crc) {
    send_reply(port, &st.last); /* a retry: the same answer, without running it again */
    return;
  }
  const int restart = execute(&r, p->len, p->oversize);
  st.have_last = 1;
  st.last_seq = seq;
  st.last_crc = crc;
  st.last = r;
  send_reply(port, &r);
  if (restart) {
    mt_platform_reset();
    forget_requests(); /* reached only where the platform's reset returns (the host build) */
  }
}

void mt_link_serve(const mt_link_port *port) {
  parser p;
  memset(&p, 0, sizeof p);
  forget_requests();
  for (;;) {
    const int c = port->read_byte(port->ctx, p.state == P_SYNC0 ? MT_LINK_WAIT_FOREVER : MT_LINK_BYTE_TIMEOUT_MS);
    if (c == MT_LINK_EOF) return;
    if (c == MT_LINK_TIMEOUT) {
      p.state = P_SYNC0; /* silence inside a frame: drop it */
      continue;
    }
    if (c < 0 || c > 255) continue;
    const int result = feed(&p, (uint8_t)c);
    if (result != FRAME_NONE) handle_frame(port, &p, result);
  }
}
