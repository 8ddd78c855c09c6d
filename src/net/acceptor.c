/*
 * Accepting connections (see acceptor.h). The listening socket is polled
 * with uv_poll and drained with accept4() so an accepted socket never gets
 * a libuv handle here: the fd goes straight to a worker's inbox. When the
 * process runs out of descriptors, accepting pauses briefly instead of
 * spinning on EMFILE.
 */
#define _GNU_SOURCE /* accept4 */
#include "acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"

#define BACKLOG 4096
#define EMFILE_PAUSE_MS 100

struct pz_acceptor {
  pz_acceptor_cb on_socket;
  void *data;
  uv_thread_t thread;
  uv_loop_t loop;
  uv_poll_t poll;
  uv_timer_t pause;
  uv_async_t stop;
  int fd;
  int port;
};

static void on_readable(uv_poll_t *p, int status, int events);

static void on_pause_over(uv_timer_t *t) {
  pz_acceptor_t *a = t->data;
  uv_poll_start(&a->poll, UV_READABLE, on_readable);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  pz_acceptor_t *a = p->data;
  for (int i = 0; i < 256; i++) {
    int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        pz_warn("accept: %s; pausing %d ms", strerror(errno), EMFILE_PAUSE_MS);
        uv_poll_stop(&a->poll);
        uv_timer_start(&a->pause, on_pause_over, EMFILE_PAUSE_MS, 0);
      }
      return; /* EAGAIN, or a connection that died in the backlog */
    }
    a->on_socket(a->data, fd);
  }
}

static void on_closed(uv_handle_t *h) {}

static void on_stop(uv_async_t *async) {
  pz_acceptor_t *a = async->data;
  uv_close((uv_handle_t *)&a->poll, on_closed);
  uv_close((uv_handle_t *)&a->pause, on_closed);
  uv_close((uv_handle_t *)&a->stop, on_closed);
}

/* A socket bound to one of host's addresses and listening, or -1 after
 * logging why. A host name may resolve to several addresses (localhost:
 * ::1 and 127.0.0.1): the first one that binds is used. */
static int listen_on(const char *host, int port) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res;
  char service[8];
  snprintf(service, sizeof(service), "%d", port);
  int r = getaddrinfo(host, service, &hints, &res);
  if (r != 0) {
    pz_error("--host %s: %s", host, gai_strerror(r));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, BACKLOG) != 0) {
      err = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    pz_error("cannot listen on %s:%d: %s", host, port, strerror(err));
  return fd;
}

pz_acceptor_t *pz_acceptor_create(const char *host, int port,
                                  pz_acceptor_cb on_socket, void *data) {
  pz_acceptor_t *a = pz_xcalloc(1, sizeof(*a));
  a->on_socket = on_socket;
  a->data = data;
  a->fd = listen_on(host, port);
  if (a->fd < 0)
    goto fail;
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof(ss);
  getsockname(a->fd, (struct sockaddr *)&ss, &sslen);
  a->port =
      ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
  if (uv_loop_init(&a->loop))
    goto fail_fd;
  uv_poll_init(&a->loop, &a->poll, a->fd);
  uv_timer_init(&a->loop, &a->pause);
  uv_async_init(&a->loop, &a->stop, on_stop);
  a->poll.data = a->pause.data = a->stop.data = a;
  return a;
fail_fd:
  close(a->fd);
fail:
  free(a);
  return NULL;
}

int pz_acceptor_port(const pz_acceptor_t *a) {
  return a->port;
}

static void acceptor_main(void *arg) {
  pz_acceptor_t *a = arg;
  uv_poll_start(&a->poll, UV_READABLE, on_readable);
  uv_run(&a->loop, UV_RUN_DEFAULT);
}

int pz_acceptor_start(pz_acceptor_t *a) {
  return uv_thread_create(&a->thread, acceptor_main, a);
}

void pz_acceptor_stop(pz_acceptor_t *a) {
  uv_async_send(&a->stop);
}

void pz_acceptor_destroy(pz_acceptor_t *a) {
  uv_thread_join(&a->thread);
  if (uv_loop_close(&a->loop))
    pz_error("acceptor loop closed with handles open");
  close(a->fd);
  free(a);
}
