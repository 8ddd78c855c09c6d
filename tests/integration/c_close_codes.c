/*
 * c_close_codes ws://HOST:PORT: how the C client library reports the ways a
 * plaza connection ends, against a running server with default limits.
 *
 * Each case is one client run in parallel; on_close must report the
 * expected close code and library error:
 *   text message           -> server closes 1003
 *   20 KiB binary message  -> server closes 1009 (default max 16 KiB)
 *   JOIN before HELLO      -> server closes 4000
 *   our close 4321 "bye"   -> the server echoes 4321, error 0
 *   GET /nope              -> upgrade refused (EHANDSHAKE, HTTP 404), 1006
 *   port 1 (nothing there) -> ECONNECT, 1006
 *   abort right after open -> ECANCELED, 1006
 * Exits 0 when all match, else prints each mismatch and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "plaza/client.h"

enum action { SEND_TEXT, SEND_BIG, JOIN_FIRST, CLOSE_4321, NOTHING, ABORT };

typedef struct tcase {
  const char *name;
  const char *path; /* appended to the base URL; NULL: use port 1 */
  enum action action;
  int want_code;
  int want_err;
  int want_http; /* 0: don't check */
  bool done;
} tcase_t;

static tcase_t cases[] = {
    {"text message", "/ws", SEND_TEXT, 1003, 0, 0, false},
    {"oversized message", "/ws", SEND_BIG, 1009, 0, 0, false},
    {"JOIN before HELLO", "/ws", JOIN_FIRST, 4000, 0, 0, false},
    {"client close 4321", "/ws", CLOSE_4321, 4321, 0, 0, false},
    {"unknown path", "/nope", NOTHING, PZ_CLIENT_CLOSE_ABNORMAL,
     PZ_CLIENT_EHANDSHAKE, 404, false},
    {"connection refused", NULL, NOTHING, PZ_CLIENT_CLOSE_ABNORMAL,
     PZ_CLIENT_ECONNECT, 0, false},
    {"abort", "/ws", ABORT, PZ_CLIENT_CLOSE_ABNORMAL, PZ_CLIENT_ECANCELED, 0,
     false},
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static int failures, closed;
static pz_client_ctx_t *ctx;
static uv_timer_t timeout;

static void on_open(pz_client_t *c) {
  tcase_t *tc = pz_client_data(c);
  static char big[20 * 1024];
  int r = 0;

  switch (tc->action) {
  case SEND_TEXT:
    r = pz_client_send_raw(c, "hello", 5, PZ_CLIENT_TEXT);
    break;
  case SEND_BIG:
    memset(big, 0xc0, sizeof(big)); /* nil bytes: size is what matters */
    r = pz_client_send_raw(c, big, sizeof(big), PZ_CLIENT_BINARY);
    break;
  case JOIN_FIRST:
    r = pz_client_send_join(c, pz_str_c("lobby"));
    break;
  case CLOSE_4321:
    r = pz_client_send_hello(c, pz_str_c(NULL), pz_str_c("closer"),
                             pz_str_c(NULL), false, 0);
    if (r == 0)
      r = pz_client_close(c, 4321, "bye");
    break;
  case ABORT:
    pz_client_abort(c);
    break;
  case NOTHING:
    break;
  }
  if (r != 0) {
    printf("c_close_codes: %s: send returned %s\n", tc->name,
           pz_client_err_name(r));
    failures++;
  }
}

static void on_close(pz_client_t *c, int code, const char *reason,
                     size_t reason_len) {
  tcase_t *tc = pz_client_data(c);
  int err = pz_client_error(c), http = pz_client_http_status(c);

  tc->done = true;
  if (code != tc->want_code || err != tc->want_err ||
      (tc->want_http != 0 && http != tc->want_http)) {
    printf("c_close_codes: %s: got code %d err %s http %d (%.*s), want code "
           "%d err %s http %d\n",
           tc->name, code, pz_client_err_name(err), http, (int)reason_len,
           reason, tc->want_code, pz_client_err_name(tc->want_err),
           tc->want_http);
    failures++;
  }
  if (++closed == (int)N_CASES) {
    uv_close((uv_handle_t *)&timeout, NULL);
    pz_client_ctx_close(ctx);
  }
}

static void on_timeout(uv_timer_t *t) {
  (void)t;
  for (size_t i = 0; i < N_CASES; i++)
    if (!cases[i].done)
      printf("c_close_codes: %s: no on_close within 10 s\n", cases[i].name);
  exit(1);
}

static const pz_client_cbs_t callbacks = {
    .on_open = on_open,
    .on_close = on_close,
};

int main(int argc, char **argv) {
  uv_loop_t loop;
  int r;

  if (argc != 2 || strncmp(argv[1], "ws://", 5) != 0) {
    fprintf(stderr, "usage: c_close_codes ws://HOST:PORT\n");
    return 2;
  }
  uv_loop_init(&loop);
  pz_client_ctx_create(&loop, &ctx);
  uv_timer_init(&loop, &timeout);
  uv_timer_start(&timeout, on_timeout, 10000, 0);
  for (size_t i = 0; i < N_CASES; i++) {
    char url[512];
    pz_client_t *c;
    if (cases[i].path != NULL)
      snprintf(url, sizeof(url), "%s%s", argv[1], cases[i].path);
    else
      snprintf(url, sizeof(url), "ws://127.0.0.1:1/ws");
    if ((r = pz_client_connect(ctx, url, NULL, &callbacks, &cases[i], &c)) !=
        0) {
      fprintf(stderr, "c_close_codes: %s: connect %s\n", cases[i].name,
              pz_client_err_name(r));
      return 1;
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if ((r = uv_loop_close(&loop)) != 0) {
    printf("c_close_codes: uv_loop_close: %s\n", uv_strerror(r));
    return 1;
  }
  if (failures == 0)
    printf("c_close_codes: ok (%zu cases)\n", N_CASES);
  return failures == 0 ? 0 : 1;
}
