/* Upgrade answer and frame headers (see ws.h). */
#include "ws.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

void pz_ws_scan_feed(pz_ws_scan_t *s, const uint8_t *p, size_t n) {
  while (n) {
    if (s->payload_left) {
      size_t k = n < s->payload_left ? n : (size_t)s->payload_left;
      s->payload_left -= k;
      p += k;
      n -= k;
      continue;
    }
    s->hdr[s->have++] = *p++;
    n--;
    if (s->have < 2)
      continue;
    unsigned len7 = s->hdr[1] & 0x7f;
    unsigned need = 2 +
                    (len7 == 126   ? 2
                     : len7 == 127 ? 8
                                   : 0) +
                    (s->hdr[1] & 0x80 ? 4 : 0);
    if (s->have < need)
      continue;
    uint64_t len = len7;
    if (len7 == 126)
      len = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
    else if (len7 == 127)
      for (int i = 0; i < 8; i++)
        len = (i ? len << 8 : 0) | s->hdr[2 + i];
    unsigned opcode = s->hdr[0] & 0x0f;
    if (opcode < 8) { /* data or continuation: FIN ends the message */
      if (!s->in_message)
        s->frames = 0;
      if (s->frames < UINT32_MAX)
        s->frames++;
      s->in_message = !(s->hdr[0] & 0x80);
    }
    s->payload_left = len;
    s->have = 0;
  }
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
