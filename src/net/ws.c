/* Upgrade answer and frame headers (see ws.h). */
#include "ws.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "plaza/protocol.h"

size_t pz_ws_frame_header(uint8_t out[PZ_WS_HEADER_MAX], int opcode,
                          uint64_t len) {
  out[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

/* ---- receiving ----------------------------------------------------------
 */

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8 };

static bool close_code_valid(unsigned code) {
  return (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 &&
          code != 1006) ||
         (code >= 3000 && code <= 4999);
}

/* XORs n bytes with the mask from phase `at`, eight at a time. */
static void unmask(uint8_t *p, size_t n, const uint8_t mask[4], unsigned at) {
  uint8_t m8[8];
  for (int i = 0; i < 8; i++)
    m8[i] = mask[(at + (unsigned)i) & 3];
  uint64_t m;
  memcpy(&m, m8, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    v ^= m;
    memcpy(p + i, &v, 8);
  }
  for (; i < n; i++)
    p[i] ^= m8[i & 7];
}

static void *grow(void *p, uint32_t *cap, size_t need) {
  size_t c = *cap ? *cap : 256;
  while (c < need)
    c *= 2;
  void *q = pz_xrealloc(p, c);
  *cap = (uint32_t)c;
  return q;
}

/* The header is whole in rx->hdr: checks it and starts the frame. */
static int start_frame(pz_ws_rx_t *rx, size_t max_message) {
  const uint8_t *h = rx->hdr;
  unsigned op = h[0] & 0x0f, len7 = h[1] & 0x7f;
  bool fin = h[0] & 0x80;
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t)h[2] << 8 | h[3];
    if (len < 126)
      return PZ_CLOSE_PROTOCOL_ERROR; /* not minimal */
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | h[2 + i];
    if (len >> 63 || len <= 0xffff)
      return PZ_CLOSE_PROTOCOL_ERROR;
  }
  if ((h[0] & 0x70) || !(h[1] & 0x80))
    return PZ_CLOSE_PROTOCOL_ERROR; /* RSV bits; an unmasked client frame */
  if (op & 0x8) {
    if (op > 10 || !fin || len > PZ_WS_CONTROL_MAX)
      return PZ_CLOSE_PROTOCOL_ERROR;
  } else {
    if (op > OP_BINARY || (op == OP_CONT) != (rx->msg_op != 0))
      return PZ_CLOSE_PROTOCOL_ERROR; /* continuation out of a message, or
                                       * a new one inside */
    rx->frames = op == OP_CONT ? rx->frames + 1 : 1;
    if (rx->frames > PZ_WS_MESSAGE_FRAMES_MAX ||
        len > max_message - rx->msg_len)
      return PZ_CLOSE_TOO_BIG;
    if (op != OP_CONT)
      rx->msg_op = (uint8_t)op;
  }
  rx->op = (uint8_t)(op | (fin ? 0x80 : 0));
  rx->payload_left = len;
  rx->mask_at = 0;
  return 0;
}

/* A close payload: empty, or a valid code and a reason. */
static int check_close(const uint8_t *p, size_t n) {
  if (n == 1 || (n >= 2 && !close_code_valid((unsigned)p[0] << 8 | p[1])))
    return PZ_CLOSE_PROTOCOL_ERROR;
  return 0;
}

int pz_ws_rx_feed(pz_ws_rx_t *rx, uint8_t *data, size_t len, size_t max_message,
                  pz_ws_rx_cb cb, void *arg, size_t *used) {
  size_t off = 0;
  int r = 0;
  while (!rx->done && !r) {
    if (rx->have < 2 || rx->payload_left == 0) {
      /* Reading a header (the frame before it is over). */
      if (off == len)
        break;
      rx->hdr[rx->have++] = data[off++];
      if (rx->have < 2)
        continue;
      unsigned len7 = rx->hdr[1] & 0x7f;
      unsigned need = 2u +
                      (len7 == 126   ? 2
                       : len7 == 127 ? 8
                                     : 0) +
                      (rx->hdr[1] & 0x80 ? 4 : 0);
      if (rx->have < need)
        continue;
      int e = start_frame(rx, max_message);
      if (e) {
        rx->done = 1;
        r = e;
        break;
      }
      memcpy(rx->mask_key, rx->hdr + need - 4, 4);
      if (rx->payload_left)
        continue;
      /* an empty payload: the frame ends here */
    }
    uint64_t frame_len = 0;
    const uint8_t *p = NULL;
    size_t n = 0;
    if (rx->payload_left) {
      n = len - off < rx->payload_left ? len - off : (size_t)rx->payload_left;
      if (n == 0)
        break;
      p = data + off;
      unmask(data + off, n, rx->mask_key, rx->mask_at);
      rx->mask_at = (uint8_t)((rx->mask_at + n) & 3);
      frame_len = rx->payload_left;
      rx->payload_left -= n;
      off += n;
    }
    bool fin = rx->op & 0x80, ctrl = rx->op & 0x8;
    bool whole = n == frame_len; /* the frame lay in this input whole */
    if (ctrl) {
      if (!whole || rx->ctl) { /* gathered */
        if (!rx->ctl)
          rx->ctl = pz_xmalloc(PZ_WS_CONTROL_MAX);
        if (n)
          memcpy(rx->ctl + rx->ctl_len, p, n);
        rx->ctl_len = (uint8_t)(rx->ctl_len + n);
        p = rx->ctl;
        n = rx->ctl_len;
      }
    } else if (!whole || !fin || rx->msg_len) {
      if (rx->msg_len + n > rx->msg_cap)
        rx->msg = grow(rx->msg, &rx->msg_cap, rx->msg_len + n);
      if (n)
        memcpy(rx->msg + rx->msg_len, p, n);
      rx->msg_len += (uint32_t)n;
      p = rx->msg;
      n = rx->msg_len;
    }
    if (rx->payload_left)
      continue; /* the frame goes on in the next input */
    rx->have = 0;
    if (!ctrl && !fin)
      continue; /* the message goes on in the next frame */
    unsigned op = ctrl ? rx->op & 0x0f : rx->msg_op;
    if (op == OP_CLOSE) {
      rx->done = 1;
      r = check_close(p, n);
      if (r)
        break;
    }
    if (!ctrl) {
      rx->msg_op = 0;
      rx->msg_len = 0;
    }
    int stop = cb(arg, (int)op, p, n);
    if (ctrl && rx->ctl) {
      free(rx->ctl);
      rx->ctl = NULL;
      rx->ctl_len = 0;
    }
    if (stop)
      break;
  }
  *used = off;
  return r;
}

void pz_ws_rx_release(pz_ws_rx_t *rx) {
  free(rx->msg);
  free(rx->ctl);
  rx->msg = rx->ctl = NULL;
  rx->msg_len = rx->msg_cap = 0;
  rx->ctl_len = 0;
}

void pz_ws_accept_key(const char *key, size_t key_len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char in[128], digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (key_len > sizeof(in) - (sizeof(guid) - 1))
    key_len = sizeof(in) - (sizeof(guid) - 1);
  memcpy(in, key, key_len);
  memcpy(in + key_len, guid, sizeof(guid) - 1);
  EVP_Digest(in, key_len + sizeof(guid) - 1, digest, &digest_len, EVP_sha1(),
             NULL);
  EVP_EncodeBlock((unsigned char *)out, digest, (int)digest_len);
}

/* A key is 16 bytes in base64 (RFC 6455 §4.2.1): 22 characters of the
 * alphabet and "==". Bits the last character carries past the 16 bytes are
 * not checked, as base64 decoders ignore them. */
static bool key_valid(const char *key) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (strlen(key) != 24 || strcmp(key + 22, "==") != 0)
    return false;
  for (int i = 0; i < 22; i++)
    if (!strchr(alphabet, key[i]))
      return false;
  return true;
}

int pz_ws_handshake(const pz_http_req_t *req, char *out, size_t out_size) {
  const char *key = pz_http_header(req, PZ_HF_WS_KEY);
  /* The opening handshake is HTTP/1.1 or later (RFC 6455 §4.1); an
   * HTTP/1.0 client cannot be switched to WebSocket. */
  if (req->parser.http_major < 1 ||
      (req->parser.http_major == 1 && req->parser.http_minor < 1))
    return 400;
  if (req->method != HTTP_GET ||
      !pz_http_has_token(pz_http_header(req, PZ_HF_UPGRADE), "websocket") ||
      !pz_http_has_token(pz_http_header(req, PZ_HF_CONNECTION), "upgrade"))
    return 426;
  if (strcmp(pz_http_header(req, PZ_HF_WS_VERSION), "13") != 0)
    return 426;
  if (!key_valid(key))
    return 400;
  char accept[29];
  pz_ws_accept_key(key, 24, accept);
  /* plaza.v1 is selected only when offered exactly so. Offers of other
   * protocols alone get the 101 without the header: the server speaks only
   * plaza.v1, and a client that requires its own protocol fails the
   * connection itself (RFC 6455 §4.1), as browsers do. */
  const char *proto = "";
  if (pz_http_has_token_exact(pz_http_header(req, PZ_HF_WS_PROTOCOL),
                              PZ_WS_SUBPROTOCOL))
    proto = "Sec-WebSocket-Protocol: " PZ_WS_SUBPROTOCOL "\r\n";
  int n = snprintf(out, out_size,
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n"
                   "%s\r\n",
                   accept, proto);
  return n > 0 && (size_t)n < out_size ? 0 : 400;
}
