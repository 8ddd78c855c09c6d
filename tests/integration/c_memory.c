/*
 * c_memory URL [N] [MAX_BYTES] [CA_FILE]: heap cost of an open client.
 *
 * Opens N clients (default 500) to a running server, waits until all are
 * open (the upgrade done, no message sent), and divides the growth of the
 * heap in use (glibc mallinfo2) by N. The bench runs 10k-50k clients from
 * one thread, so this guards the per-client footprint: it prints the figure
 * and exits 1 when it passes MAX_BYTES (default 12288). Then closes them
 * all (1000) and checks the loop closes clean. Under a sanitizer the
 * figure reads 0 (mallinfo2 does not see its allocator). A wss:// URL
 * measures TLS clients, verified against CA_FILE.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "plaza/client.h"

typedef struct run {
  pz_client_ctx_t *ctx;
  pz_client_t **clients;
  int n, opened, closed, failed;
  size_t heap_before, heap_open;
  uv_timer_t timeout;
} run_t;

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static void close_all(run_t *r) {
  for (int i = 0; i < r->n; i++)
    if (r->clients[i] != NULL && pz_client_close(r->clients[i], 1000, NULL))
      pz_client_abort(r->clients[i]);
}

static void on_open(pz_client_t *c) {
  run_t *r = pz_client_data(c);
  if (++r->opened == r->n) {
    r->heap_open = heap_in_use();
    close_all(r);
  }
}

static void on_close(pz_client_t *c, int code, const char *reason,
                     size_t reason_len) {
  run_t *r = pz_client_data(c);
  for (int i = 0; i < r->n; i++)
    if (r->clients[i] == c)
      r->clients[i] = NULL;
  if (pz_client_error(c) != 0 && r->failed++ == 0)
    fprintf(stderr, "c_memory: a client closed with %d %.*s (%s)\n", code,
            (int)reason_len, reason, pz_client_err_name(pz_client_error(c)));
  if (++r->closed == r->n) {
    uv_close((uv_handle_t *)&r->timeout, NULL);
    pz_client_ctx_close(r->ctx);
  }
}

static void on_timeout(uv_timer_t *t) {
  run_t *r = t->data;
  fprintf(stderr, "c_memory: timed out with %d of %d open\n", r->opened, r->n);
  r->failed++;
  for (int i = 0; i < r->n; i++)
    if (r->clients[i] != NULL)
      pz_client_abort(r->clients[i]);
}

static const pz_client_cbs_t callbacks = {
    .on_open = on_open,
    .on_close = on_close,
};

int main(int argc, char **argv) {
  run_t r;
  pz_client_opts_t opts;
  uv_loop_t loop;
  long max_bytes = argc > 3 ? atol(argv[3]) : 12288;
  int rc;

  if (argc < 2) {
    fprintf(stderr,
            "usage: c_memory ws[s]://HOST:PORT/ws [N] [MAX_BYTES] [CA_FILE]\n");
    return 2;
  }
  memset(&r, 0, sizeof(r));
  r.n = argc > 2 ? atoi(argv[2]) : 500;
  if (r.n <= 0)
    return 2;
  r.clients = calloc((size_t)r.n, sizeof(*r.clients));
  pz_client_opts_init(&opts);
  opts.ca_file = argc > 4 ? argv[4] : NULL;
  uv_loop_init(&loop);
  pz_client_ctx_create(&loop, &r.ctx);
  uv_timer_init(&loop, &r.timeout);
  r.timeout.data = &r;
  uv_timer_start(&r.timeout, on_timeout, 20000, 0);

  r.heap_before = heap_in_use();
  for (int i = 0; i < r.n; i++) {
    int e =
        pz_client_connect(r.ctx, argv[1], &opts, &callbacks, &r, &r.clients[i]);
    if (e != 0) {
      fprintf(stderr, "c_memory: connect: %s\n", pz_client_strerror(e));
      return 1;
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&loop);
  free(r.clients);
  if (rc != 0) {
    fprintf(stderr, "c_memory: uv_loop_close: %s\n", uv_strerror(rc));
    return 1;
  }
  if (r.failed || r.opened != r.n)
    return 1;
  long per = (long)(r.heap_open - r.heap_before) / r.n;
  printf("c_memory: %d open clients, %ld bytes of heap per client\n", r.n, per);
  if (per > max_bytes) {
    fprintf(stderr, "c_memory: FAIL: %ld bytes per client, limit %ld\n", per,
            max_bytes);
    return 1;
  }
  return 0;
}
