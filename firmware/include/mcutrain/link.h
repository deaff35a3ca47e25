/* The device side of the mcutrain link: one framed protocol (docs/protocol.md) over any byte port.
 * No malloc, no stdio: the same code serves a board's UART and the host build's stdin/stdout. */
#ifndef MCUTRAIN_LINK_H
#define MCUTRAIN_LINK_H

#include <stdint.h>

#define MT_LINK_PROTOCOL_VERSION 3u

#define MT_LINK_SYNC0 0xA5u
#define MT_LINK_SYNC1 0x5Au
/* Largest payload either side accepts in a length field; a larger one means a damaged header. */
#define MT_LINK_MAX_PAYLOAD (1u << 20)
/* Silence in the middle of a frame after which the device abandons it and scans for sync again.
 * A client's request timeout must be longer. */
#define MT_LINK_BYTE_TIMEOUT_MS 250u

enum mt_link_command {
  MT_LINK_HELLO = 0x01,
  MT_LINK_INFER = 0x02,
  MT_LINK_PROFILE = 0x03,
  MT_LINK_RESET = 0x04,
  MT_LINK_CHUNK = 0x05,       /* link level: stages part of a large request payload (a sample in the model's input) */
  MT_LINK_REPLY_PART = 0x06,  /* link level: resends a range of the last request's reply */
  MT_LINK_TRAIN_FIRST = 0x10, /* 0x10..0x1F: training commands (need mt_model.train) */
  MT_LINK_TRAIN_STEP = 0x10,
  MT_LINK_EVALUATE = 0x11,
  MT_LINK_SET_HYPER = 0x12,
  MT_LINK_TRAIN_INFO = 0x13,
  MT_LINK_READ_PARAMS = 0x14,
  MT_LINK_WRITE_PARAMS = 0x15,
  MT_LINK_TRAIN_LAST = 0x1F,
  MT_LINK_STAGED = 0x40,      /* or-ed into a request whose payload was staged by CHUNKs */
  MT_LINK_REPLY = 0x80        /* or-ed into the command of every reply */
};

enum mt_link_status {
  MT_LINK_OK = 0,
  MT_LINK_BAD_CRC = 1,
  MT_LINK_UNKNOWN_COMMAND = 2,
  MT_LINK_BAD_PAYLOAD = 3,
  MT_LINK_TOO_LARGE = 4,
  MT_LINK_BUSY = 5,
  MT_LINK_MODEL_ERROR = 6,
  MT_LINK_BAD_STATE = 7,
  MT_LINK_NOT_STAGED = 8 /* a STAGED request whose staged bytes are missing or damaged */
};

/* HELLO feature bits. */
#define MT_LINK_FEATURE_TRAINING 0x1u

/* READ_PARAMS / WRITE_PARAMS address spaces, and the most bytes one READ_PARAMS reply carries. */
#define MT_LINK_SPACE_PARAMS 0u
#define MT_LINK_SPACE_MOMENTUM 1u
#define MT_LINK_MAX_READ_BYTES 4096u

/* CHUNK: the most payload bytes one chunk carries after its u8 command and u32 offset. Frames this
 * small (MT_LINK_SMALL_FRAME_BYTES) are received into a buffer of their own, so a damaged one never
 * touches a staged payload. */
#define MT_LINK_CHUNK_BYTES 256u
#define MT_LINK_CHUNK_HEADER_BYTES 5u
#define MT_LINK_SMALL_FRAME_BYTES (MT_LINK_CHUNK_HEADER_BYTES + MT_LINK_CHUNK_BYTES)

/* read_byte results besides a byte value 0..255. */
#define MT_LINK_EOF (-1)     /* the stream has ended (host stdin closed); mt_link_serve returns */
#define MT_LINK_TIMEOUT (-2) /* no byte within timeout_ms */
#define MT_LINK_WAIT_FOREVER 0xFFFFFFFFu

/* A byte stream: a UART, a USB CDC endpoint, a pty, a pipe. */
typedef struct mt_link_port {
  void *ctx;
  /* The next byte (0..255), MT_LINK_TIMEOUT if none arrived within timeout_ms (or MT_LINK_WAIT_FOREVER),
   * MT_LINK_EOF when the stream has ended for good. A board's UART never ends. */
  int (*read_byte)(void *ctx, uint32_t timeout_ms);
  /* Queues n bytes for sending; may block. */
  void (*write)(void *ctx, const uint8_t *bytes, uint32_t n);
  /* Returns once everything written has left the device (end of each reply). */
  void (*flush)(void *ctx);
} mt_link_port;

/* Storage whose size depends on the model. C needs these sizes as constants and the link cannot
 * read them from mt_model (another translation unit), so the generated model code, which knows
 * them at generation time, defines the storage with MT_LINK_DEFINE_BUFFERS; the link checks the
 * sizes against mt_model at run time and answers MODEL_ERROR if they do not fit. */
typedef struct {
  uint8_t *rx;            /* holds one request payload larger than a small frame, other than a sample
                           * (INFER, TRAIN_STEP and EVALUATE payloads are staged in the model's inputs);
                           * generated code needs none (capacity 0): its WRITE_PARAMS fit a small frame */
  uint32_t rx_capacity;
  uint32_t *op_ticks;     /* one counter per operator, for PROFILE */
  uint32_t op_capacity;   /* >= mt_model.n_ops */
} mt_link_buffers_desc;

extern const mt_link_buffers_desc mt_link_buffers;

/* Defines mt_link_buffers (use once, at file scope, in the generated model code). */
#define MT_LINK_DEFINE_BUFFERS(rx_bytes, n_ops)                                                   \
  static uint8_t mt_link_rx_storage_[(rx_bytes) > 0 ? (rx_bytes) : 1];                            \
  static uint32_t mt_link_op_ticks_storage_[(n_ops) > 0 ? (n_ops) : 1];                           \
  const mt_link_buffers_desc mt_link_buffers = {mt_link_rx_storage_, (rx_bytes),                  \
                                                mt_link_op_ticks_storage_, (n_ops)}

/* Serves requests from the port until it reports MT_LINK_EOF. On a board it never returns. */
void mt_link_serve(const mt_link_port *port);

#endif
