/* Redis commands per second over the window (see rstats.h). */
#include "rstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

/* ---- URL ----------------------------------------------------------------- */

static bool copy_n(char *dst, size_t cap, const char *p, size_t n) {
  if (n >= cap)
    return false;
  memcpy(dst, p, n);
  dst[n] = '\0';
  return true;
}

int pz_redis_url_parse(const char *url, pz_redis_addr_t *out) {
  static const char scheme[] = "redis://";
  memset(out, 0, sizeof(*out));
  out->port = 6379;
  if (url == NULL || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
    return -1;
  const char *p = url + sizeof(scheme) - 1;
  const char *end = p + strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < end; q++) /* the last '@' ends the user info */
    if (*q == '@')
      at = q;
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon == NULL) /* "password@" alone is not the URL form */
      return -1;
    if (!copy_n(out->user, sizeof(out->user), p, (size_t)(colon - p)) ||
        !copy_n(out->password, sizeof(out->password), colon + 1,
                (size_t)(at - colon - 1)))
      return -1;
    p = at + 1;
  }
  const char *colon = memchr(p, ':', (size_t)(end - p));
  const char *hend = colon ? colon : end;
  if (hend == p || !copy_n(out->host, sizeof(out->host), p, (size_t)(hend - p)))
    return -1;
  if (colon != NULL) {
    char buf[8];
    char *e;
    if (!copy_n(buf, sizeof(buf), colon + 1, (size_t)(end - colon - 1)) ||
        buf[0] == '\0')
      return -1;
    long v = strtol(buf, &e, 10);
    if (*e || v < 1 || v > 65535)
      return -1;
    out->port = (int)v;
  }
  if (*end == '/' && end[1] != '\0') {
    char *e;
    long v = strtol(end + 1, &e, 10);
    if (*e || e == end + 1 || v < 0 || v > 1000000)
      return -1;
    out->db = (int)v;
  } else if (*end != '\0' && strcmp(end, "/") != 0) {
    return -1;
  }
  return 0;
}

void pz_redis_url_redact(const char *url, char *buf, size_t cap) {
  pz_redis_addr_t a;
  if (pz_redis_url_parse(url, &a) != 0 || a.password[0] == '\0') {
    snprintf(buf, cap, "%s", url);
    return;
  }
  if (a.db)
    snprintf(buf, cap, "redis://%s:***@%s:%d/%d", a.user, a.host, a.port, a.db);
  else
    snprintf(buf, cap, "redis://%s:***@%s:%d", a.user, a.host, a.port);
}

/* ---- INFO ---------------------------------------------------------------- */

/* The value of "key=N" within a cmdstat line's fields, or -1. */
static int64_t field(const char *fields, size_t len, const char *key) {
  size_t kl = strlen(key);
  const char *p = fields, *end = fields + len;
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *fe = comma ? comma : end;
    if ((size_t)(fe - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
      char *e;
      long long v = strtoll(p + kl + 1, &e, 10);
      return e > p + kl + 1 ? (int64_t)v : -1;
    }
    p = fe + 1;
  }
  return -1;
}

static int64_t int_line(const char *line, size_t len, const char *key) {
  size_t kl = strlen(key);
  if (len <= kl + 1 || strncmp(line, key, kl) || line[kl] != ':')
    return -2; /* not this key */
  char buf[32];
  if (!copy_n(buf, sizeof(buf), line + kl + 1, len - kl - 1))
    return -1;
  char *e;
  long long v = strtoll(buf, &e, 10);
  return e > buf ? (int64_t)v : -1;
}

uint32_t pz_rstats_parse(const char *info, pz_rstats_t *out) {
  static const char pfx[] = "cmdstat_";
  memset(out, 0, sizeof(*out));
  out->total_commands_processed = out->net_input_bytes = out->net_output_bytes =
      out->process_id = -1;
  for (const char *p = info; p != NULL && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len > 0 && p[len - 1] == '\r')
      len--;
    int64_t v;
    if (len > sizeof(pfx) - 1 && !strncmp(p, pfx, sizeof(pfx) - 1)) {
      const char *name = p + sizeof(pfx) - 1;
      const char *colon = memchr(name, ':', len - (sizeof(pfx) - 1));
      if (colon != NULL && colon > name && out->n < PZ_RSTATS_MAX) {
        const char *fields = colon + 1;
        size_t flen = len - (size_t)(fields - p);
        int64_t calls = field(fields, flen, "calls");
        int64_t usec = field(fields, flen, "usec");
        pz_rstat_cmd_t *c = &out->cmd[out->n];
        if (calls >= 0 &&
            copy_n(c->name, sizeof(c->name), name, (size_t)(colon - name))) {
          c->calls = (uint64_t)calls;
          c->usec = usec >= 0 ? (uint64_t)usec : 0;
          out->n++;
        }
      }
    } else if ((v = int_line(p, len, "total_commands_processed")) != -2) {
      out->total_commands_processed = v;
    } else if ((v = int_line(p, len, "total_net_input_bytes")) != -2) {
      out->net_input_bytes = v;
    } else if ((v = int_line(p, len, "total_net_output_bytes")) != -2) {
      out->net_output_bytes = v;
    } else if ((v = int_line(p, len, "process_id")) != -2) {
      out->process_id = v;
    }
    p = nl ? nl + 1 : NULL;
  }
  return out->n;
}

static int by_calls(const void *x, const void *y) {
  const pz_rstat_cmd_t *a = x, *b = y;
  if (a->calls != b->calls)
    return a->calls > b->calls ? -1 : 1;
  return strcmp(a->name, b->name);
}

void pz_rstats_diff(const pz_rstats_t *a, const pz_rstats_t *b, double window_s,
                    uint64_t own_info, pz_redis_fig_t *out) {
  pz_rstat_cmd_t *d = calloc(b->n ? b->n : 1, sizeof(*d));
  uint32_t n = 0;

  memset(out, 0, sizeof(*out));
  out->ok = d != NULL;
  if (d == NULL) {
    snprintf(out->error, sizeof(out->error), "out of memory");
    return;
  }
  out->window_s = window_s;
  for (uint32_t i = 0; i < b->n; i++) {
    const pz_rstat_cmd_t *cb = &b->cmd[i];
    uint64_t calls0 = 0, usec0 = 0;
    for (uint32_t j = 0; j < a->n; j++)
      if (!strcmp(a->cmd[j].name, cb->name)) {
        calls0 = a->cmd[j].calls;
        usec0 = a->cmd[j].usec;
        break;
      }
    uint64_t calls = cb->calls >= calls0 ? cb->calls - calls0 : cb->calls;
    uint64_t usec = cb->usec >= usec0 ? cb->usec - usec0 : cb->usec;
    if (!strcmp(cb->name, "info"))
      calls = calls > own_info ? calls - own_info : 0;
    if (calls == 0)
      continue;
    d[n] = *cb;
    d[n].calls = calls;
    d[n].usec = usec;
    out->calls += calls;
    out->usec += usec;
    n++;
  }
  qsort(d, n, sizeof(*d), by_calls);
  out->n_top = n < PZ_RSTATS_TOP ? n : PZ_RSTATS_TOP;
  memcpy(out->top, d, out->n_top * sizeof(*d));
  free(d);
#define DIFF(f) (a->f >= 0 && b->f >= a->f ? b->f - a->f : (int64_t)-1)
  out->processed = DIFF(total_commands_processed);
  if (out->processed > 0 && (uint64_t)out->processed >= own_info)
    out->processed -= (int64_t)own_info;
  out->net_in = DIFF(net_input_bytes);
  out->net_out = DIFF(net_output_bytes);
#undef DIFF
  out->pid = b->process_id;
}

/* ---- I/O ----------------------------------------------------------------- */

struct pz_redis_sampler {
  redisContext *c;
};

static int check(redisReply *r, redisContext *c, const char *what, char *err,
                 size_t cap) {
  if (r == NULL) {
    snprintf(err, cap, "%s: %s", what, c->errstr[0] ? c->errstr : "no reply");
    return -1;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(err, cap, "%s: %s", what, r->str);
    freeReplyObject(r);
    return -1;
  }
  return 0;
}

pz_redis_sampler_t *pz_redis_sampler_open(const char *url, char *err,
                                          size_t cap) {
  pz_redis_addr_t a;
  struct timeval tv = {1, 0};
  pz_redis_sampler_t *s;
  redisReply *r;

  if (pz_redis_url_parse(url, &a) != 0) {
    snprintf(err, cap, "bad --redis-url (redis://[:password@]host:port[/db])");
    return NULL;
  }
  redisContext *c = redisConnectWithTimeout(a.host, a.port, tv);
  if (c == NULL || c->err) {
    snprintf(err, cap, "cannot connect to %s:%d: %s", a.host, a.port,
             c ? c->errstr : "out of memory");
    if (c)
      redisFree(c);
    return NULL;
  }
  struct timeval io = {2, 0};
  redisSetTimeout(c, io);
  if (a.password[0]) {
    r = a.user[0] ? redisCommand(c, "AUTH %s %s", a.user, a.password)
                  : redisCommand(c, "AUTH %s", a.password);
    if (check(r, c, "AUTH", err, cap) != 0) {
      redisFree(c);
      return NULL;
    }
    freeReplyObject(r);
  }
  if ((s = calloc(1, sizeof(*s))) == NULL) {
    redisFree(c);
    snprintf(err, cap, "out of memory");
    return NULL;
  }
  s->c = c;
  return s;
}

int pz_redis_sampler_take(pz_redis_sampler_t *s, pz_rstats_t *out, char *err,
                          size_t cap) {
  redisReply *r = redisCommand(s->c, "INFO commandstats stats server");
  if (check(r, s->c, "INFO", err, cap) != 0)
    return -1;
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
      r->type != 14 /* REDIS_REPLY_VERB in hiredis >= 1.0 */) {
    snprintf(err, cap, "INFO: unexpected reply type %d", r->type);
    freeReplyObject(r);
    return -1;
  }
  pz_rstats_parse(r->str, out);
  freeReplyObject(r);
  return 0;
}

void pz_redis_sampler_close(pz_redis_sampler_t *s) {
  if (s == NULL)
    return;
  redisFree(s->c);
  free(s);
}
