/*
 * OpenSSL's own cost per TLS 1.3 record, without plaza: N server sessions
 * (each with a client, over memory BIOs) served round robin as a plaza
 * worker serves its connections. Per session and round the client sends
 * one 20-byte record (a MOVE) and the server SSL_read()s it, then
 * SSL_write()s one record of LEN bytes (a tick's STATE). Only the
 * server's two calls are timed (thread CPU time). The server writes to a
 * null BIO (OpenSSL's work alone), or with --mem to a memory BIO that is
 * read and reset after each write (as plaza's stream did before issue 19).
 *
 *   make build/tls-records    (part of `make all`)
 *   taskset -c 0 build/tls-records SESSIONS LEN ROUNDS CERT KEY [--mem]
 *
 * A measuring aid for docs/benchmarks.md (issue 19's TLS figures).
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void move_bytes(BIO *from, BIO *to) {
  char buf[65536];
  int n;
  while ((n = BIO_read(from, buf, sizeof(buf))) > 0)
    BIO_write(to, buf, n);
}

static BIO *mem_bio(void) {
  BIO *b = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(b, -1);
  return b;
}

typedef struct pair {
  SSL *s, *c;
  BIO *s_in, *s_out, *c_in, *c_out; /* owned by the SSL objects */
} pair_t;

/* A server and its client, handshake done and tickets read. */
static int pair_open(pair_t *p, SSL_CTX *sctx, SSL_CTX *cctx) {
  p->s = SSL_new(sctx);
  p->c = SSL_new(cctx);
  p->s_in = mem_bio();
  p->s_out = mem_bio();
  p->c_in = mem_bio();
  p->c_out = mem_bio();
  SSL_set_bio(p->s, p->s_in, p->s_out);
  SSL_set_bio(p->c, p->c_in, p->c_out);
  SSL_set_accept_state(p->s);
  SSL_set_connect_state(p->c);
  for (int i = 0; i < 10 && !SSL_is_init_finished(p->c); i++) {
    SSL_do_handshake(p->c);
    move_bytes(p->c_out, p->s_in);
    SSL_do_handshake(p->s);
    move_bytes(p->s_out, p->c_in);
  }
  char x;
  SSL_read(p->s, &x, 1); /* the server writes its tickets */
  move_bytes(p->s_out, p->c_in);
  SSL_read(p->c, &x, 1);
  ERR_clear_error();
  return SSL_is_init_finished(p->c) && SSL_is_init_finished(p->s) ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s SESSIONS LEN ROUNDS CERT KEY [--mem]\n",
            argv[0]);
    return 2;
  }
  int n = atoi(argv[1]), len = atoi(argv[2]), rounds = atoi(argv[3]);
  int mem = argc > 6 && strcmp(argv[6], "--mem") == 0;
  if (n < 1 || len < 1 || len > 16384 || rounds < 1)
    return 2;
  SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
  if (SSL_CTX_use_certificate_chain_file(sctx, argv[4]) != 1 ||
      SSL_CTX_use_PrivateKey_file(sctx, argv[5], SSL_FILETYPE_PEM) != 1) {
    fprintf(stderr, "cannot load %s / %s\n", argv[4], argv[5]);
    return 1;
  }
  /* As plaza's context (src/net/tls_ctx.c) for what matters per record. */
  SSL_CTX_set_mode(sctx, SSL_MODE_RELEASE_BUFFERS |
                             SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
  pair_t *p = calloc((size_t)n, sizeof(*p));
  for (int i = 0; i < n; i++) {
    if (pair_open(&p[i], sctx, cctx) != 0) {
      fprintf(stderr, "handshake %d failed\n", i);
      return 1;
    }
    if (!mem) /* the server's output goes nowhere: OpenSSL's work alone */
      SSL_set0_wbio(p[i].s, BIO_new(BIO_s_null()));
  }
  char *state = malloc((size_t)len), move[20], buf[16384];
  memset(state, 's', (size_t)len);
  memset(move, 'm', sizeof(move));
  double tw = 0, tr = 0;
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < n; i++) {
      SSL_write(p[i].c, move, sizeof(move));
      move_bytes(p[i].c_out, p[i].s_in);
      double t0 = cpu_now();
      if (SSL_read(p[i].s, buf, sizeof(buf)) != (int)sizeof(move))
        return 1;
      double t1 = cpu_now();
      if (SSL_write(p[i].s, state, len) != len)
        return 1;
      double t2 = cpu_now();
      tr += t1 - t0;
      tw += t2 - t1;
      if (mem) {
        move_bytes(p[i].s_out, p[i].c_in);
        SSL_read(p[i].c, buf, sizeof(buf));
        (void)BIO_reset(p[i].s_out);
      }
    }
  double k = (double)rounds * n;
  printf("%s, %d sessions, %d-byte records, %s: SSL_write %.2f us, "
         "SSL_read %.2f us per record\n",
         SSL_get_cipher(p[0].s), n, len, mem ? "memory BIO" : "null BIO",
         tw / k * 1e6, tr / k * 1e6);
  return 0;
}
