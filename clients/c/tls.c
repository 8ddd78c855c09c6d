/* TLS for wss:// over memory BIOs (see tls.h). */
#include "tls.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "plaza/client.h"

#define WBIO_KEEP (64 * 1024) /* a larger write BIO is dropped once empty */

struct pz_ctls_conf {
  pz_ctls_conf_t *next;
  SSL_CTX *sctx;
  char ca_file[]; /* "" for the system's store */
};

struct pz_ctls {
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  bool done;        /* handshake finished */
};

static BIO *new_mem_bio(void) {
  BIO *b = BIO_new(BIO_s_mem());
  if (b != NULL)
    BIO_set_mem_eof_return(b, -1); /* empty means "retry", not EOF */
  return b;
}

static SSL_CTX *conf_build(const char *ca_file, int *err) {
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX *sctx = SSL_CTX_new(TLS_client_method());
  int ok;

  *err = PZ_CLIENT_ENOMEM;
  if (sctx == NULL)
    return NULL;
  /* What the server accepts (docs/operations.md): 1.2 and 1.3. */
  ok = SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION) == 1 &&
       SSL_CTX_set_alpn_protos(sctx, alpn, sizeof(alpn) - 1) == 0;
  SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, NULL);
  /* Idle connections give their record buffers back. */
  SSL_CTX_set_mode(sctx, SSL_MODE_RELEASE_BUFFERS);
  if (ok && ca_file[0] != '\0') {
    *err = PZ_CLIENT_ECAFILE;
    ok = SSL_CTX_load_verify_locations(sctx, ca_file, NULL) == 1;
  } else if (ok) {
    ok = SSL_CTX_set_default_verify_paths(sctx) == 1;
  }
  ERR_clear_error();
  if (!ok) {
    SSL_CTX_free(sctx);
    return NULL;
  }
  *err = 0;
  return sctx;
}

int pz_ctls_conf_get(pz_ctls_conf_t **confs, const char *ca_file,
                     SSL_CTX **out) {
  const char *key = ca_file != NULL ? ca_file : "";
  pz_ctls_conf_t **pp, *c;
  int err;

  for (pp = confs; *pp != NULL; pp = &(*pp)->next) {
    if (strcmp((*pp)->ca_file, key) == 0) {
      *out = (*pp)->sctx;
      return 0;
    }
  }
  if ((c = malloc(sizeof(*c) + strlen(key) + 1)) == NULL)
    return PZ_CLIENT_ENOMEM;
  if ((c->sctx = conf_build(key, &err)) == NULL) {
    free(c);
    return err;
  }
  strcpy(c->ca_file, key);
  c->next = NULL;
  *pp = c;
  *out = c->sctx;
  return 0;
}

void pz_ctls_confs_free(pz_ctls_conf_t **confs) {
  while (*confs != NULL) {
    pz_ctls_conf_t *c = *confs;
    *confs = c->next;
    SSL_CTX_free(c->sctx);
    free(c);
  }
}

int pz_ctls_create(SSL_CTX *sctx, const char *name, bool ip_literal,
                   bool insecure, pz_ctls_t **out) {
  pz_ctls_t *t = calloc(1, sizeof(*t));
  int err = PZ_CLIENT_ENOMEM;

  if (t == NULL)
    return PZ_CLIENT_ENOMEM;
  if ((t->ssl = SSL_new(sctx)) == NULL)
    goto fail;
  if ((t->rbio = new_mem_bio()) == NULL)
    goto fail;
  if ((t->wbio = new_mem_bio()) == NULL) {
    BIO_free(t->rbio);
    goto fail;
  }
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_connect_state(t->ssl);
  err = PZ_CLIENT_EINVAL;
  if (insecure) {
    SSL_set_verify(t->ssl, SSL_VERIFY_NONE, NULL);
    /* SNI still goes out: a server with several names needs it. */
    if (!ip_literal && SSL_set_tlsext_host_name(t->ssl, name) != 1)
      goto fail;
  } else if (ip_literal) {
    /* RFC 6066: no SNI for an address; the certificate must list it. */
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) != 1)
      goto fail;
  } else {
    if (SSL_set_tlsext_host_name(t->ssl, name) != 1 ||
        SSL_set1_host(t->ssl, name) != 1)
      goto fail;
    /* Wildcards only as a whole left-most label (RFC 6125). */
    SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  *out = t;
  return 0;

fail:
  ERR_clear_error();
  pz_ctls_destroy(t);
  return err;
}

void pz_ctls_destroy(pz_ctls_t *t) {
  if (t == NULL)
    return;
  SSL_free(t->ssl); /* and its BIOs */
  free(t);
}

int pz_ctls_feed(pz_ctls_t *t, const char *data, size_t len) {
  while (len > 0) {
    int n = len > INT_MAX ? INT_MAX : (int)len;
    if (BIO_write(t->rbio, data, n) != n)
      return PZ_CLIENT_ENOMEM;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Why the last call failed, from the certificate check or the error
 * queue (which is then cleared). */
static int failure(pz_ctls_t *t, const char **why) {
  long vr = SSL_get_verify_result(t->ssl);
  unsigned long e = ERR_peek_last_error();
  int err = PZ_CLIENT_ETLS;

  if (vr != X509_V_OK) {
    *why = X509_verify_cert_error_string(vr);
    err = PZ_CLIENT_ECERT;
  } else {
    *why = e != 0 && ERR_reason_error_string(e) != NULL
               ? ERR_reason_error_string(e)
               : "TLS failed";
  }
  ERR_clear_error();
  return err;
}

int pz_ctls_handshake(pz_ctls_t *t, const char **why) {
  int r;

  if (t->done)
    return 0;
  ERR_clear_error(); /* SSL_get_error reads this thread's queue */
  r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    t->done = true;
    return 0;
  }
  if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ)
    return PZ_CLIENT_EAGAIN;
  return failure(t, why);
}

bool pz_ctls_handshake_done(const pz_ctls_t *t) {
  return t->done;
}

int pz_ctls_read(pz_ctls_t *t, char *buf, size_t cap, const char **why) {
  int n, e;

  ERR_clear_error();
  n = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
  if (n > 0)
    return n;
  e = SSL_get_error(t->ssl, n);
  if (e == SSL_ERROR_WANT_READ)
    return 0;
  if (e == SSL_ERROR_ZERO_RETURN)
    return PZ_CLIENT_ECLOSED;
  return failure(t, why);
}

int pz_ctls_write(pz_ctls_t *t, const char *data, size_t len) {
  const char *why;

  ERR_clear_error();
  while (len > 0) {
    int n = len > (1u << 30) ? 1 << 30 : (int)len;
    int w = SSL_write(t->ssl, data, n);
    if (w <= 0) {
      /* A memory BIO never pushes back: a failure is a failure. */
      int err = failure(t, &why);
      return err == PZ_CLIENT_ECERT ? PZ_CLIENT_ETLS : err;
    }
    data += w;
    len -= (size_t)w;
  }
  return 0;
}

size_t pz_ctls_out(pz_ctls_t *t, const char **p) {
  char *data = NULL;
  long n = BIO_get_mem_data(t->wbio, &data);
  *p = data;
  return n > 0 ? (size_t)n : 0;
}

void pz_ctls_out_clear(pz_ctls_t *t) {
  BUF_MEM *m = NULL;
  BIO_get_mem_ptr(t->wbio, &m);
  if (m != NULL && m->max > WBIO_KEEP) { /* a burst: give the memory back */
    BIO *b = new_mem_bio();
    if (b != NULL) {
      SSL_set0_wbio(t->ssl, b); /* frees the old one */
      t->wbio = b;
      return;
    }
  }
  (void)BIO_reset(t->wbio);
}
