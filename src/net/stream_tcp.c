/*
 * The plain TCP byte stream (see stream.h). libuv's uv_tcp_t would queue
 * writes itself and pin their buffers until a callback; a poll handle on
 * the socket lets the outbound queue above stay the only owner of unsent
 * bytes, know exactly what was written, and hand the descriptor to another
 * loop at any time.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "error.h"
#include "stream.h"

/* The socket calls straight to the kernel: libc's wrappers are
 * cancellation points, and in a threaded process each call takes two
 * atomic updates of the thread's cancel state around the syscall (1% of
 * plaza's samples in `social`, 50,000 calls a second). plaza never cancels
 * a thread. One buffer (the usual tick: one frame) goes with sendto, which
 * spares the kernel copying in and checking a message header and an
 * iovec array. */
static ssize_t sock_recv(int fd, void *buf, size_t len) {
  return syscall(SYS_recvfrom, fd, buf, len, 0, NULL, NULL);
}

static ssize_t sock_send(int fd, const uv_buf_t *bufs, unsigned n, int flags) {
  if (n == 1)
    return syscall(SYS_sendto, fd, bufs[0].base, bufs[0].len, flags, NULL, 0);
  /* uv_buf_t is laid out as struct iovec on unix (libuv guarantees it). */
  struct msghdr m = {.msg_iov = (struct iovec *)bufs, .msg_iovlen = n};
  return syscall(SYS_sendmsg, fd, &m, flags);
}

static int errno_to_pz(int e) {
  return e == ECONNRESET || e == EPIPE ? PZ_ECLOSED : PZ_EIO;
}

static void watch(pz_tcp_stream_t *t);

static void on_poll(uv_poll_t *p, int status, int events) {
  pz_tcp_stream_t *t = p->data;
  if (status < 0) /* an error on the socket: let read() say which */
    events = UV_READABLE | (t->want_write ? UV_WRITABLE : 0);
  if ((events & (UV_READABLE | UV_DISCONNECT)) && t->reading) {
    ssize_t n = sock_recv(t->fd, t->readbuf->data, t->readbuf->size);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      /* spurious */
    } else {
      if (n <= 0) {
        t->reading = false;
        watch(t);
      }
      t->base.on_read(&t->base,
                      n > 0    ? n
                      : n == 0 ? PZ_ECLOSED
                               : errno_to_pz(errno),
                      t->readbuf->data);
      if (t->closing)
        return;
    }
  }
  if ((events & UV_WRITABLE) && t->want_write) {
    t->want_write = false;
    watch(t);
    t->base.on_writable(&t->base);
  }
}

/* Watches what is wanted now; each change is one epoll_ctl. */
static void watch(pz_tcp_stream_t *t) {
  int ev = (t->reading ? UV_READABLE : 0) | (t->want_write ? UV_WRITABLE : 0);
  if (ev == t->events || t->closing)
    return;
  t->events = (uint8_t)ev;
  if (ev)
    uv_poll_start(&t->poll, ev, on_poll);
  else
    uv_poll_stop(&t->poll);
}

static int tcp_read_start(pz_stream_t *s) {
  pz_tcp_stream_t *t = (pz_tcp_stream_t *)s;
  t->reading = true;
  watch(t);
  return 0;
}

static void tcp_read_stop(pz_stream_t *s) {
  pz_tcp_stream_t *t = (pz_tcp_stream_t *)s;
  t->reading = false;
  watch(t);
}

static ssize_t tcp_writev(pz_stream_t *s, const uv_buf_t *bufs, unsigned n) {
  pz_tcp_stream_t *t = (pz_tcp_stream_t *)s;
  size_t total = 0;
  for (unsigned i = 0; i < n; i++)
    total += bufs[i].len;
  /* sendto/sendmsg rather than writev (and recv rather than read): the
   * socket calls skip the VFS layer (file position lock, fsnotify,
   * security hooks), which a profile of `social` found costing a tenth of
   * plaza's CPU; MSG_NOSIGNAL: a closed peer is an error, never a signal. */
  ssize_t r;
  do
    r = sock_send(t->fd, bufs, n, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EAGAIN)
    return errno_to_pz(errno);
  if (r < 0)
    r = 0;
  if ((size_t)r < total && !t->want_write) {
    t->want_write = true;
    watch(t);
  }
  return r;
}

void pz_tcp_stream_want_writable(pz_tcp_stream_t *t) {
  if (!t->want_write) {
    t->want_write = true;
    watch(t);
  }
}

static int tcp_shutdown(pz_stream_t *s) {
  pz_tcp_stream_t *t = (pz_tcp_stream_t *)s;
  return shutdown(t->fd, SHUT_WR) == 0 ? 0 : errno_to_pz(errno);
}

static void on_closed(uv_handle_t *h) {
  pz_tcp_stream_t *t = h->data;
  close(t->fd);
  t->cb.closed(&t->base);
}

static void tcp_close(pz_stream_t *s, pz_stream_closed_cb cb) {
  pz_tcp_stream_t *t = (pz_tcp_stream_t *)s;
  t->closing = true;
  t->cb.closed = cb;
  uv_close((uv_handle_t *)&t->poll, on_closed);
}

static void on_detached(uv_handle_t *h) {
  pz_tcp_stream_t *t = h->data;
  t->cb.detached(&t->base, t->fd);
}

static void tcp_detach(pz_stream_t *s, pz_stream_detached_cb cb) {
  pz_tcp_stream_t *t = (pz_tcp_stream_t *)s;
  t->closing = true;
  t->cb.detached = cb;
  uv_close((uv_handle_t *)&t->poll, on_detached);
}

/* Writes go straight to the socket: nothing is held (no .held). */
static const struct pz_stream_vtbl tcp_vtbl = {
    .read_start = tcp_read_start,
    .read_stop = tcp_read_stop,
    .writev = tcp_writev,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
    .detach = tcp_detach,
};

int pz_tcp_stream_open(pz_tcp_stream_t *t, uv_loop_t *loop, uv_os_sock_t fd,
                       const pz_readbuf_t *readbuf,
                       const pz_tcp_options_t *opt) {
  memset(t, 0, sizeof(*t));
  if (uv_poll_init_socket(loop, &t->poll, fd) != 0)
    return PZ_EIO;
  t->base.vt = &tcp_vtbl;
  t->poll.data = t;
  t->fd = fd;
  t->readbuf = readbuf;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (opt && opt->sndbuf > 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opt->sndbuf, sizeof(opt->sndbuf));
  if (opt && opt->keepalive_s > 0) {
    int idle = opt->keepalive_s, intvl = 10, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
  }
  return 0;
}

void pz_tcp_peer(uv_os_sock_t fd, pz_ip_t *ip, uint16_t *port) {
  struct sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0) {
    pz_ip_from_sockaddr((struct sockaddr *)&sa, ip, port);
  } else {
    memset(ip, 0, sizeof(*ip));
    *port = 0;
  }
}
