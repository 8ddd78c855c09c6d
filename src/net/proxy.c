/*
 * The PROXY protocol header parser (see proxy.h). The header's first byte
 * tells the version; each byte of a signature is checked as it arrives,
 * so anything else (an HTTP request from a misconfigured proxy) is refused
 * at its first byte rather than after a timeout. What is kept is bounded
 * by `head`: the v1 line, or v2's 16-byte head and its IP addresses.
 */
#include "proxy.h"

#include <string.h>

#include "error.h"

static const uint8_t sig_v1[] = "PROXY ";
static const uint8_t sig_v2[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
#define V2_HEAD 16

enum { FAM_UNSPEC = 0, FAM_INET = 1, FAM_INET6 = 2, FAM_UNIX = 3 };

void pz_proxy_init(pz_proxy_parser_t *p) {
  memset(p, 0, sizeof(*p));
}

/* ---- version 1: "PROXY TCP4 src dst sport dport\r\n" --------------------- */

/* The next space-separated word of the line at *pos (exactly one space
 * before each). */
static bool word(const char *line, size_t len, size_t *pos, const char **w,
                 size_t *wl) {
  if (*pos >= len || line[*pos] != ' ')
    return false;
  size_t start = ++*pos;
  while (*pos < len && line[*pos] != ' ')
    (*pos)++;
  *w = line + start;
  *wl = *pos - start;
  return *wl > 0;
}

static bool port_of(const char *w, size_t wl, uint16_t *port) {
  if (wl < 1 || wl > 5 || (wl > 1 && w[0] == '0'))
    return false;
  uint32_t v = 0;
  for (size_t i = 0; i < wl; i++) {
    if (w[i] < '0' || w[i] > '9')
      return false;
    v = v * 10 + (uint32_t)(w[i] - '0');
  }
  if (v > 65535)
    return false;
  *port = (uint16_t)v;
  return true;
}

static bool addr_of(const char *w, size_t wl, bool v6, pz_ip_t *ip) {
  /* The family word decides the form: no IPv6 text after TCP4, and the
   * reverse. */
  if ((memchr(w, ':', wl) != NULL) != v6)
    return false;
  return pz_ip_parse(w, wl, ip) == 0;
}

/* line: after "PROXY", up to (not including) the CRLF. */
static int parse_v1(const char *line, size_t len, pz_proxy_result_t *out) {
  size_t pos = 0;
  const char *w;
  size_t wl;
  /* "PROXY" is already behind us: line starts with the space. */
  if (!word(line, len, &pos, &w, &wl))
    return PZ_EPROTO;
  if (wl == 7 && memcmp(w, "UNKNOWN", 7) == 0)
    return 0; /* the rest of the line is to be ignored */
  bool v6;
  if (wl == 4 && memcmp(w, "TCP4", 4) == 0)
    v6 = false;
  else if (wl == 4 && memcmp(w, "TCP6", 4) == 0)
    v6 = true;
  else
    return PZ_EPROTO;
  const char *src, *dst, *sp, *dp;
  size_t srcl, dstl, spl, dpl;
  if (!word(line, len, &pos, &src, &srcl) ||
      !word(line, len, &pos, &dst, &dstl) ||
      !word(line, len, &pos, &sp, &spl) || !word(line, len, &pos, &dp, &dpl) ||
      pos != len)
    return PZ_EPROTO;
  if (!addr_of(src, srcl, v6, &out->client) ||
      !addr_of(dst, dstl, v6, &out->server) ||
      !port_of(sp, spl, &out->client_port) ||
      !port_of(dp, dpl, &out->server_port))
    return PZ_EPROTO;
  out->has_client = true;
  return 0;
}

/* ---- version 2 ----------------------------------------------------------- */

/* The address bytes kept of a family (the rest, TLVs, is skipped). */
static uint32_t v2_addr_len(int fam) {
  return fam == FAM_INET ? 12 : fam == FAM_INET6 ? 36 : 0;
}

/* The 16-byte head is in: checks it and learns the total length. */
static int v2_head(pz_proxy_parser_t *p) {
  uint8_t ver_cmd = p->head[12], fam = p->head[13];
  uint32_t len = (uint32_t)p->head[14] << 8 | p->head[15];
  int cmd = ver_cmd & 0x0f;
  if ((ver_cmd >> 4) != 2 || cmd > 1)
    return PZ_EPROTO;
  int af = fam >> 4, transport = fam & 0x0f;
  if (cmd == 1 && (af > FAM_UNIX || transport > 1))
    return PZ_EPROTO; /* datagrams do not arrive over a stream */
  if (cmd == 1 && len < v2_addr_len(af))
    return PZ_EPROTO;
  p->total = V2_HEAD + len;
  return 0;
}

static void v2_result(const pz_proxy_parser_t *p, pz_proxy_result_t *out) {
  const uint8_t *a = p->head + V2_HEAD;
  int cmd = p->head[12] & 0x0f, af = p->head[13] >> 4;
  if (cmd != 1 || (af != FAM_INET && af != FAM_INET6))
    return; /* LOCAL, or no IP addresses: the proxy speaks for itself */
  size_t n = af == FAM_INET ? 4 : 16;
  pz_ip_set(&out->client, af == FAM_INET ? 4 : 6, a);
  pz_ip_set(&out->server, af == FAM_INET ? 4 : 6, a + n);
  const uint8_t *ports = a + 2 * n;
  out->client_port = (uint16_t)(ports[0] << 8 | ports[1]);
  out->server_port = (uint16_t)(ports[2] << 8 | ports[3]);
  out->has_client = true;
}

/* ---- feeding ------------------------------------------------------------- */

ssize_t pz_proxy_feed(pz_proxy_parser_t *p, const uint8_t *data, size_t len,
                      pz_proxy_result_t *out) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = data[i];
    if (p->version == 0) {
      if (c == sig_v1[0])
        p->version = 1;
      else if (c == sig_v2[0])
        p->version = 2;
      else
        return PZ_EPROTO;
    }
    if (p->version == 1) {
      /* The signature, then the line up to its CRLF. */
      if (p->seen < sizeof(sig_v1) - 1 && c != sig_v1[p->seen])
        return PZ_EPROTO;
      if (p->seen == PZ_PROXY_V1_MAX)
        return PZ_EPROTO; /* no CRLF within the longest line */
      p->head[p->seen++] = c;
      i++;
      if (c != '\n')
        continue;
      if (p->seen < 2 || p->head[p->seen - 2] != '\r')
        return PZ_EPROTO;
      memset(out, 0, sizeof(*out));
      int r = parse_v1((const char *)p->head + 5, p->seen - 7, out);
      return r ? r : (ssize_t)i;
    }
    /* Version 2: signature and head byte by byte, the addresses kept,
     * the rest skipped in bulk. */
    if (p->seen < sizeof(sig_v2) && c != sig_v2[p->seen])
      return PZ_EPROTO;
    uint32_t keep = V2_HEAD;
    if (p->total)
      keep += v2_addr_len(p->head[13] >> 4);
    if (p->seen < keep) {
      p->head[p->seen++] = c;
      i++;
      if (p->seen == V2_HEAD && v2_head(p) != 0)
        return PZ_EPROTO;
    } else {
      size_t skip = p->total - p->seen;
      if (skip > len - i)
        skip = len - i;
      p->seen += (uint32_t)skip;
      i += skip;
    }
    if (p->total && p->seen == p->total) {
      memset(out, 0, sizeof(*out));
      v2_result(p, out);
      return (ssize_t)i;
    }
  }
  return PZ_EAGAIN;
}
