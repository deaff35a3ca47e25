/* The device side of the link protocol (docs/protocol.md): frame parsing with resync, retry
 * detection, staged (chunked) requests and partial replies, the HELLO / INFER / PROFILE / RESET
 * commands over mt_model, and the training commands over mt_model.train when the model was compiled
 * with training. The samples of INFER, TRAIN_STEP and EVALUATE are staged straight into the model's
 * input tensors in the arena, so no buffer outside it holds one. */
#include "mcutrain/link.h"

#include <string.h>

#include "mcutrain/crc32.h"
#include "mcutrain/model.h"
#include "mcutrain/platform.h"

#define MSG_CAPACITY 80u

/* ------------------------------------------------------------------------------------------------
 * Replies. A reply is described, not stored: its payload is generated from the device state each
 * time it is sent (once to count its length, once to send it, and again for a retry). */

enum body_kind {
  BODY_EMPTY, BODY_HELLO, BODY_INFER, BODY_PROFILE, BODY_TRAIN_STEP, BODY_TRAIN_INFO, BODY_READ_PARAMS, BODY_REPLY_PART
};

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
  uint32_t pos, from, to; /* only payload bytes at positions [from, to) are counted or sent (REPLY_PART) */
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
  const uint8_t *b = (const uint8_t *)p;
  uint32_t lo = w->pos, hi = w->pos + n;
  w->pos = hi;
  if (hi <= w->from || lo >= w->to) return;
  if (lo < w->from) {
    b += w->from - lo;
    lo = w->from;
  }
  if (hi > w->to) hi = w->to;
  n = hi - lo;
  if (w->counting) {
    w->count += n;
    return;
  }
  w->crc = mt_crc32(w->crc, b, n);
  w_raw(w, b, n);
}

static void w_init(writer *w, const mt_link_port *port, int counting) {
  memset(w, 0, sizeof *w);
  w->port = port;
  w->counting = counting;
  w->to = 0xFFFFFFFFu;
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
  uint32_t part_total, part_from, part_to; /* the REPLY_PART being answered */
  char msg[MSG_CAPACITY];      /* messages of executed requests (the remembered reply may point here) */
  char link_msg[MSG_CAPACITY]; /* messages of link-level replies, which are never remembered */
} st;

/* Receives every frame of at most MT_LINK_SMALL_FRAME_BYTES payload bytes (CHUNKs and all small
 * requests), so that a damaged small frame cannot overwrite a staged payload. */
static uint8_t small_rx[MT_LINK_SMALL_FRAME_BYTES];

/* The label of a staged TRAIN_STEP / EVALUATE (its sample is staged in the training input tensor). */
static uint8_t staged_label[4];

/* The largest request payload the device takes for a command other than INFER, TRAIN_STEP and EVALUATE
 * (whose payloads are staged in the model's tensors): a small frame, or the receive buffer if larger. */
static uint32_t max_request(void) {
  return mt_link_buffers.rx_capacity > sizeof small_rx ? mt_link_buffers.rx_capacity : (uint32_t)sizeof small_rx;
}

static void forget_requests(void) {
  st.have_last = 0;
  st.have_profile = 0;
}

/* Error messages, built without stdio. */
typedef struct {
  char *buf; /* st.msg or st.link_msg */
  uint32_t len;
} msg_builder;

static void m_str(msg_builder *m, const char *s) {
  while (*s && m->len < MSG_CAPACITY) m->buf[m->len++] = *s++;
}

static void m_u32(msg_builder *m, uint32_t v) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v > 0);
  while (n > 0 && m->len < MSG_CAPACITY) m->buf[m->len++] = digits[--n];
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
  r->msg = m->buf;
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
static void set_payload_size_error(reply *r, char *buf, const char *cmd, uint32_t len, const char *parts, uint32_t want) {
  msg_builder m = {buf, 0};
  m_str(&m, cmd);
  m_str(&m, " payload is ");
  m_u32(&m, len);
  m_str(&m, " bytes; ");
  m_str(&m, parts);
  m_str(&m, " take ");
  m_u32(&m, want);
  set_error(r, MT_LINK_BAD_PAYLOAD, &m);
}

/* BAD_PAYLOAD "<what> of <n> B exceeds the limit of 4096 B per reply" (READ_PARAMS, REPLY_PART). */
static void set_read_limit_error(reply *r, char *buf, const char *what, uint32_t n) {
  msg_builder m = {buf, 0};
  m_str(&m, what);
  m_str(&m, " of ");
  m_u32(&m, n);
  m_str(&m, " B exceeds the limit of ");
  m_u32(&m, MT_LINK_MAX_READ_BYTES);
  m_str(&m, " B per reply");
  set_error(r, MT_LINK_BAD_PAYLOAD, &m);
}

/* TOO_LARGE "request payload of <len> bytes exceeds the device buffer of <capacity>". */
static void set_too_large(reply *r, char *buf, uint32_t len, uint32_t capacity) {
  msg_builder m = {buf, 0};
  m_str(&m, "request payload of ");
  m_u32(&m, len);
  m_str(&m, " bytes exceeds the device buffer of ");
  m_u32(&m, capacity);
  set_error(r, MT_LINK_TOO_LARGE, &m);
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
  w_u32(w, max_request());
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

static void emit_payload(writer *w, const reply *r);

/* REPLY_PART: the total size of the remembered reply, the offset asked for, then its bytes [part_from, part_to). */
static void emit_reply_part(writer *w) {
  w_u32(w, st.part_total);
  w_u32(w, st.part_from);
  const uint32_t pos = w->pos;
  w->pos = 0;
  w->from = st.part_from;
  w->to = st.part_to;
  emit_payload(w, &st.last); /* never a REPLY_PART itself: those are not remembered */
  w->pos = pos + (st.part_to - st.part_from);
  w->from = 0;
  w->to = 0xFFFFFFFFu;
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
    case BODY_REPLY_PART: emit_reply_part(w); break;
    default: break;
  }
}

static void send_reply(const mt_link_port *port, const reply *r) {
  writer w;
  w_init(&w, port, 1);
  emit_payload(&w, r);
  reply too_big;
  if (w.count > MT_LINK_MAX_PAYLOAD) {
    too_big = *r;
    set_error_literal(&too_big, MT_LINK_MODEL_ERROR, "reply exceeds the 1 MiB frame limit");
    r = &too_big;
    w_init(&w, port, 1);
    emit_payload(&w, r);
  }
  const uint32_t n = w.count;
  w_init(&w, port, 0);

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
 * Staging areas: where the CHUNKs of a request land, by its command. A sample (INFER's inputs,
 * TRAIN_STEP's and EVALUATE's sample) lands in the model's input tensors in the arena, which is dead
 * between invocations, so it is never held twice; any other request lands in mt_link_buffers.rx. An
 * area is a list of segments, addressed as their concatenation. */

typedef struct {
  uint8_t *data;
  uint32_t bytes;
} segment;

/* Whether `cmd`'s payload is staged in the model's tensors (and the request then runs on them there). */
static int stages_in_model(uint8_t cmd) {
  return cmd == MT_LINK_INFER || (mt_model.train && (cmd == MT_LINK_TRAIN_STEP || cmd == MT_LINK_EVALUATE));
}

/* Segment i of `cmd`'s staging area; bytes == 0 past its end. */
static segment stage_segment(uint8_t cmd, uint16_t i) {
  segment s = {NULL, 0};
  if (cmd == MT_LINK_INFER) {
    if (i < mt_model.n_inputs && mt_model.inputs[i].data) {
      s.data = mt_model.inputs[i].data;
      s.bytes = mt_model.inputs[i].bytes;
    }
  } else if (stages_in_model(cmd)) {
    if (i == 0 && mt_model.train->input) {
      s.data = mt_model.train->input;
      s.bytes = mt_model.train->input_bytes;
    } else if (i == 1) {
      s.data = staged_label;
      s.bytes = sizeof staged_label;
    }
  } else if (i == 0) {
    s.data = mt_link_buffers.rx;
    s.bytes = mt_link_buffers.rx_capacity;
  }
  return s;
}

static uint32_t stage_capacity(uint8_t cmd) {
  uint32_t n = 0;
  segment s;
  for (uint16_t i = 0; (s = stage_segment(cmd, i)).bytes > 0; i++) n += s.bytes;
  return n;
}

/* Copies n bytes to [offset, offset + n) of the area (the caller checked that they fit). */
static void stage_write(uint8_t cmd, uint32_t offset, const uint8_t *src, uint32_t n) {
  uint32_t start = 0;
  segment s;
  for (uint16_t i = 0; n > 0 && (s = stage_segment(cmd, i)).bytes > 0; i++) {
    const uint32_t end = start + s.bytes;
    if (offset < end) {
      const uint32_t k = end - offset < n ? end - offset : n;
      memcpy(s.data + (offset - start), src, k);
      src += k;
      offset += k;
      n -= k;
    }
    start = end;
  }
}

/* CRC-32 of the area's first n bytes. */
static uint32_t stage_crc(uint8_t cmd, uint32_t n) {
  uint32_t crc = 0;
  segment s;
  for (uint16_t i = 0; n > 0 && (s = stage_segment(cmd, i)).bytes > 0; i++) {
    const uint32_t k = s.bytes < n ? s.bytes : n;
    crc = mt_crc32(crc, s.data, k);
    n -= k;
  }
  return crc;
}

/* ------------------------------------------------------------------------------------------------
 * Commands. */

/* INFER on the payload `in`, or with in == NULL on the inputs already staged in place. */
static void do_infer(reply *r, const uint8_t *in, uint32_t len) {
  msg_builder m = {st.msg, 0};
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
  if (mt_model.n_ops > mt_link_buffers.op_capacity) {
    m_str(&m, "link buffers (");
    m_u32(&m, mt_link_buffers.op_capacity);
    m_str(&m, " ops) < model (");
    m_u32(&m, mt_model.n_ops);
    m_str(&m, " ops)");
    set_error(r, MT_LINK_MODEL_ERROR, &m);
    return;
  }
  if (len != in_bytes) {
    set_payload_size_error(r, st.msg, "INFER", len, "the model inputs", in_bytes);
    return;
  }
  const uint8_t *src = in;
  for (uint16_t i = 0; src && i < mt_model.n_inputs; i++) {
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

static uint32_t f32_bits(float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits;
}

/* Without libm: an exponent of all ones is an infinity or a NaN. */
static int is_finite(float v) { return (f32_bits(v) & 0x7F800000u) != 0x7F800000u; }

/* v < 0 for a finite v: the sign bit of a non-zero value (-0 is not below zero). Non-negative floats
 * order as their bits do, which the momentum's upper bound uses. */
static int is_below_zero(float v) { return (f32_bits(v) >> 31) != 0u && (f32_bits(v) & 0x7FFFFFFFu) != 0u; }

/* TRAIN_STEP (update != 0) and EVALUATE: the sample, then an int32 label; with in == NULL the sample is
 * already staged in the training input and the label in staged_label. */
static void do_train_step(reply *r, const uint8_t *in, uint32_t len, int update) {
  const mt_train_desc *t = mt_model.train;
  msg_builder m = {st.msg, 0};
  if (!t->input || !t->step) {
    set_error_literal(r, MT_LINK_MODEL_ERROR, "training has no input buffer or step (model code is broken)");
    return;
  }
  if (len != t->input_bytes + 4u) {
    set_payload_size_error(r, st.msg, update ? "TRAIN_STEP" : "EVALUATE", len, "sample + label", t->input_bytes + 4u);
    return;
  }
  const int32_t label = (int32_t)get_u32(in ? in + t->input_bytes : staged_label);
  if (label < 0 || label >= (int32_t)t->n_classes) {
    m_str(&m, "label ");
    m_i32(&m, label);
    m_str(&m, " is not a class (0..");
    m_u32(&m, t->n_classes > 0 ? t->n_classes - 1u : 0u);
    m_str(&m, ")");
    set_error(r, MT_LINK_BAD_PAYLOAD, &m);
    return;
  }
  if (in) memcpy(t->input, in, t->input_bytes);
  mt_train_result res;
  memset(&res, 0, sizeof res);
  const uint32_t t0 = mt_platform_ticks();
  t->step(label, update, &res);
  res.ticks = mt_platform_ticks() - t0; /* measured here, as INFER's total: the step need not */
  st.train_result = res;
  if (update) st.train_steps++;
  r->body = BODY_TRAIN_STEP;
}

static void do_set_hyper(reply *r, const uint8_t *in, uint32_t len) {
  const mt_train_desc *t = mt_model.train;
  if (len != 8u) {
    set_payload_size_error(r, st.msg, "SET_HYPER", len, "lr and momentum", 8u);
    return;
  }
  /* Checked on the bits (no float comparison: an integer-only image links no soft-float routine). */
  const float lr = get_f32(in), momentum = get_f32(in + 4);
  if (!is_finite(lr) || is_below_zero(lr)) {
    set_error_literal(r, MT_LINK_BAD_PAYLOAD, "lr must be a finite number >= 0");
    return;
  }
  if (!is_finite(momentum) || is_below_zero(momentum) || f32_bits(momentum) >= 0x3F800000u /* 1.0f */) {
    set_error_literal(r, MT_LINK_BAD_PAYLOAD, "momentum must lie in [0, 1)");
    return;
  }
  if ((f32_bits(momentum) & 0x7FFFFFFFu) != 0u) {
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
  msg_builder m = {st.msg, 0};
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

static void do_read_params(reply *r, const uint8_t *in, uint32_t len) {
  if (len != 9u) {
    set_payload_size_error(r, st.msg, "READ_PARAMS", len, "space, offset and length", 9u);
    return;
  }
  const uint8_t space = in[0];
  const uint32_t offset = get_u32(in + 1), n = get_u32(in + 5);
  if (n > MT_LINK_MAX_READ_BYTES) {
    set_read_limit_error(r, st.msg, "read", n);
    return;
  }
  if (!check_range(r, "read", space, offset, n)) return;
  st.read_space = space;
  st.read_offset = offset;
  st.read_len = n;
  r->body = BODY_READ_PARAMS;
}

static void do_write_params(reply *r, const uint8_t *in, uint32_t len) {
  const mt_train_desc *t = mt_model.train;
  if (len < 5u) {
    set_payload_size_error(r, st.msg, "WRITE_PARAMS", len, "space and offset alone", 5u);
    return;
  }
  const uint8_t space = in[0];
  const uint32_t offset = get_u32(in + 1), n = len - 5u;
  if (!check_range(r, "write", space, offset, n)) return;
  const uint8_t *src = in + 5;
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

static void do_training(reply *r, uint8_t cmd, const uint8_t *in, uint32_t len) {
  msg_builder m = {st.msg, 0};
  if (!mt_model.train) {
    set_error_literal(r, MT_LINK_UNKNOWN_COMMAND, "this firmware was compiled without training (mcutrain compile --train)");
    return;
  }
  switch (cmd) {
    case MT_LINK_TRAIN_STEP: do_train_step(r, in, len, 1); return;
    case MT_LINK_EVALUATE: do_train_step(r, in, len, 0); return;
    case MT_LINK_SET_HYPER: do_set_hyper(r, in, len); return;
    case MT_LINK_TRAIN_INFO: r->body = BODY_TRAIN_INFO; return;
    case MT_LINK_READ_PARAMS: do_read_params(r, in, len); return;
    case MT_LINK_WRITE_PARAMS: do_write_params(r, in, len); return;
    default:
      m_str(&m, "unknown training command ");
      m_hex8(&m, cmd);
      set_error(r, MT_LINK_UNKNOWN_COMMAND, &m);
      return;
  }
}

/* Runs one new request (cmd without the STAGED bit, payload `in`, or NULL for a sample staged in
 * place); returns 1 when the device must restart after replying. */
static int execute(reply *r, uint8_t cmd, const uint8_t *in, uint32_t len) {
  msg_builder m = {st.msg, 0};
  r->status = MT_LINK_OK;
  r->body = BODY_EMPTY;
  if (!stages_in_model(cmd) && len > max_request()) { /* a sample's size is checked by its command */
    set_too_large(r, st.msg, len, max_request());
    return 0;
  }
  switch (cmd) {
    case MT_LINK_HELLO: r->body = BODY_HELLO; return 0;
    case MT_LINK_INFER: do_infer(r, in, len); return 0;
    case MT_LINK_PROFILE:
      if (!st.have_profile) set_error_literal(r, MT_LINK_BAD_STATE, "no INFER since boot or RESET");
      else r->body = BODY_PROFILE;
      return 0;
    case MT_LINK_RESET: return 1;
    case MT_LINK_CHUNK:
    case MT_LINK_REPLY_PART:
      set_error_literal(r, MT_LINK_UNKNOWN_COMMAND, "CHUNK and REPLY_PART cannot be staged");
      return 0;
    default:
      if (cmd >= MT_LINK_TRAIN_FIRST && cmd <= MT_LINK_TRAIN_LAST) {
        do_training(r, cmd, in, len);
        return 0;
      }
      m_str(&m, "unknown command ");
      m_hex8(&m, cmd);
      set_error(r, MT_LINK_UNKNOWN_COMMAND, &m);
      return 0;
  }
}

/* ------------------------------------------------------------------------------------------------
 * Link-level commands: they run no model code, are never remembered as the last request, and can be
 * repeated any number of times with the same effect. */

/* CHUNK: u8 command, u32 offset, then up to MT_LINK_CHUNK_BYTES bytes of that command's request payload
 * to stage at that offset of its staging area. */
static void do_chunk(reply *r, const uint8_t *in, uint32_t len) {
  msg_builder m = {st.link_msg, 0};
  r->status = MT_LINK_OK;
  r->body = BODY_EMPTY;
  if (len < MT_LINK_CHUNK_HEADER_BYTES || len > MT_LINK_SMALL_FRAME_BYTES) {
    m_str(&m, "CHUNK payload is ");
    m_u32(&m, len);
    m_str(&m, " bytes; command + offset + 0..");
    m_u32(&m, MT_LINK_CHUNK_BYTES);
    m_str(&m, " bytes expected");
    set_error(r, MT_LINK_BAD_PAYLOAD, &m);
    return;
  }
  const uint8_t cmd = in[0];
  const uint32_t offset = get_u32(in + 1), n = len - MT_LINK_CHUNK_HEADER_BYTES, capacity = stage_capacity(cmd);
  if (offset > capacity || n > capacity - offset) {
    m_str(&m, "chunk of ");
    m_u32(&m, n);
    m_str(&m, " B at ");
    m_u32(&m, offset);
    m_str(&m, " exceeds the ");
    m_u32(&m, capacity);
    m_str(&m, stages_in_model(cmd) ? " B of the model's input" : " B of the device buffer");
    set_error(r, MT_LINK_TOO_LARGE, &m);
    return;
  }
  /* The remembered INFER's reply is read from output tensors these bytes may overwrite: forget it, so
   * that a retry runs it again (or answers NOT_STAGED) rather than resend outputs that are no more. */
  if (stages_in_model(cmd) && st.have_last && st.last.status == MT_LINK_OK && st.last.body == BODY_INFER) st.have_last = 0;
  stage_write(cmd, offset, in + MT_LINK_CHUNK_HEADER_BYTES, n);
}

/* REPLY_PART: u8 seq, u32 frame CRC of the last request, u32 offset, u32 length of its reply payload. */
static void do_reply_part(reply *r, const uint8_t *in, uint32_t len) {
  msg_builder m = {st.link_msg, 0};
  r->status = MT_LINK_OK;
  r->body = BODY_EMPTY;
  if (len != 13u) {
    set_payload_size_error(r, st.link_msg, "REPLY_PART", len, "seq, crc, offset and length", 13u);
    return;
  }
  const uint32_t offset = get_u32(in + 5), n = get_u32(in + 9);
  if (!st.have_last || in[0] != st.last_seq || get_u32(in + 1) != st.last_crc) {
    set_error_literal(r, MT_LINK_BAD_STATE, "that request is not the last one run: send it again");
    return;
  }
  if (n > MT_LINK_MAX_READ_BYTES) {
    set_read_limit_error(r, st.link_msg, "part", n);
    return;
  }
  writer w;
  w_init(&w, NULL, 1);
  emit_payload(&w, &st.last);
  if (offset > w.count) {
    m_str(&m, "part at ");
    m_u32(&m, offset);
    m_str(&m, " lies past the reply's ");
    m_u32(&m, w.count);
    m_str(&m, " B");
    set_error(r, MT_LINK_BAD_PAYLOAD, &m);
    return;
  }
  st.part_total = w.count;
  st.part_from = offset;
  st.part_to = offset + (n < w.count - offset ? n : w.count - offset);
  r->body = BODY_REPLY_PART;
}

/* A STAGED request's payload: u32 length and u32 CRC-32 of the bytes CHUNKs staged for `cmd`. Returns 1
 * when they are all there (the request then runs on them), else sets the error (nothing ran). */
static int check_staged(reply *r, uint8_t cmd, const uint8_t *in, uint32_t len, uint32_t *staged_len) {
  msg_builder m = {st.link_msg, 0};
  r->status = MT_LINK_OK;
  if (len != 8u) {
    set_payload_size_error(r, st.link_msg, "staged request", len, "length and CRC", 8u);
    return 0;
  }
  const uint32_t n = get_u32(in), capacity = stage_capacity(cmd);
  if (n > capacity) {
    m_str(&m, "staged payload of ");
    m_u32(&m, n);
    m_str(&m, " bytes exceeds the ");
    m_u32(&m, capacity);
    m_str(&m, stages_in_model(cmd) ? " B of the model's input" : " B of the device buffer");
    set_error(r, MT_LINK_TOO_LARGE, &m);
    return 0;
  }
  if (stage_crc(cmd, n) != get_u32(in + 4)) {
    set_error_literal(r, MT_LINK_NOT_STAGED, "staged payload does not match its CRC: send its chunks again");
    return 0;
  }
  *staged_len = n;
  return 1;
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
  uint8_t *dst;  /* where the payload goes: small_rx, mt_link_buffers.rx, or NULL when it fits
                  * neither (counted into the CRC, not stored) */
  uint32_t crc;  /* running CRC of a payload that is not stored */
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
  crc = p->dst ? mt_crc32(crc, p->dst, p->len) : p->crc;
  p->state = P_SYNC0;
  return crc == get_u32(p->crc_in) ? FRAME_GOOD : FRAME_BAD_CRC;
}

/* Small frames go to small_rx; a CHUNK never goes anywhere else (a larger one is refused), so a staged
 * payload is only written by intact CHUNKs (and, in mt_link_buffers.rx, by large requests). */
static uint8_t *payload_destination(const parser *p) {
  if (p->len <= sizeof small_rx) return small_rx;
  if (p->hdr[2] == MT_LINK_CHUNK || p->len > mt_link_buffers.rx_capacity) return NULL;
  return mt_link_buffers.rx;
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
      p->dst = payload_destination(p);
      if (!p->dst) p->crc = mt_crc32(0, p->hdr + 2, 6);
      p->got = 0;
      p->state = p->len > 0 ? P_PAYLOAD : P_CRC;
      return FRAME_NONE;
    case P_PAYLOAD:
      if (p->dst) p->dst[p->got] = b;
      else p->crc = mt_crc32(p->crc, &b, 1);
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
  if (!p->dst) { /* intact but larger than any buffer: nothing ran, not remembered */
    set_too_large(&r, st.link_msg, p->len, cmd == MT_LINK_CHUNK ? MT_LINK_SMALL_FRAME_BYTES : max_request());
    send_reply(port, &r);
    return;
  }
  if (cmd == MT_LINK_CHUNK || cmd == MT_LINK_REPLY_PART) {
    if (cmd == MT_LINK_CHUNK) do_chunk(&r, p->dst, p->len);
    else do_reply_part(&r, p->dst, p->len);
    send_reply(port, &r);
    return;
  }
  const uint32_t crc = get_u32(p->crc_in);
  if (st.have_last && seq == st.last_seq && crc == st.last_crc) {
    send_reply(port, &st.last); /* a retry: the same answer, without running it again */
    return;
  }
  const uint8_t *in = p->dst;
  uint32_t len = p->len;
  const uint8_t base = (uint8_t)(cmd & ~MT_LINK_STAGED);
  if (cmd & MT_LINK_STAGED) {
    if (!check_staged(&r, base, in, len, &len)) {
      send_reply(port, &r); /* nothing ran: not remembered, so the resend after new chunks runs */
      return;
    }
    in = stages_in_model(base) ? NULL : mt_link_buffers.rx; /* a sample runs where it was staged */
  }
  const int restart = execute(&r, base, in, len);
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
