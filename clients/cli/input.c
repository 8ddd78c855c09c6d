/* Lines from stdin, or any descriptor, on a libuv loop (see input.h). */
#include "input.h"

#include <string.h>

/* Splits data into lines, keeping a partial last line for next time. */
static void feed(pz_input_t *in, const char *data, size_t n) {
  while (n > 0 && !in->stopped) {
    const char *lf = memchr(data, '\n', n);
    size_t take = lf ? (size_t)(lf - data) : n;
    size_t room = sizeof(in->line) - in->len;
    if (take > room)
      take = room;
    memcpy(in->line + in->len, data, take);
    in->len += take;
    data += take;
    n -= take;
    if (n > 0 && *data == '\n') {
      data++;
      n--;
    } else if (in->len < sizeof(in->line)) {
      break; /* partial line: wait for more */
    }
    size_t len = in->len;
    in->len = 0;
    in->on_line(in, in->line, len);
  }
}

static void finish(pz_input_t *in) {
  if (in->stopped)
    return;
  if (in->len > 0) { /* a last line without LF */
    size_t len = in->len;
    in->len = 0;
    in->on_line(in, in->line, len);
  }
  if (!in->stopped)
    in->on_eof(in);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  pz_input_t *in = h->data;
  (void)suggested;
  *buf = uv_buf_init(in->rbuf, sizeof(in->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pz_input_t *in = s->data;
  if (nread < 0) {
    uv_read_stop(s);
    finish(in);
    return;
  }
  feed(in, buf->base, (size_t)nread);
}

static void fs_next(pz_input_t *in);

static void on_fs_read(uv_fs_t *req) {
  pz_input_t *in = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  in->fs_busy = false;
  if (in->stopped)
    return;
  if (n <= 0) {
    finish(in);
    return;
  }
  feed(in, in->rbuf, (size_t)n);
  fs_next(in);
}

static void fs_next(pz_input_t *in) {
  uv_buf_t b = uv_buf_init(in->rbuf, sizeof(in->rbuf));
  if (in->stopped)
    return;
  in->req.data = in;
  if (uv_fs_read(in->loop, &in->req, in->fd, &b, 1, -1, on_fs_read) != 0) {
    finish(in);
    return;
  }
  in->fs_busy = true;
}

int pz_input_start(pz_input_t *in, uv_loop_t *loop, int fd,
                   pz_input_line_cb on_line, pz_input_eof_cb on_eof,
                   void *data) {
  int r;

  memset(in, 0, sizeof(*in));
  in->data = data;
  in->loop = loop;
  in->fd = fd;
  in->on_line = on_line;
  in->on_eof = on_eof;
  switch (uv_guess_handle(fd)) {
  case UV_TTY:
    r = uv_tty_init(loop, &in->h.tty, fd, 1);
    break;
  case UV_NAMED_PIPE:
    if ((r = uv_pipe_init(loop, &in->h.pipe, 0)) == 0 &&
        (r = uv_pipe_open(&in->h.pipe, fd)) != 0)
      uv_close(&in->h.handle, NULL);
    break;
  default: /* files, /dev/null, anything else */
    in->use_fs = true;
    in->started = true;
    fs_next(in);
    return 0;
  }
  if (r != 0)
    return r;
  in->h.handle.data = in;
  in->started = true;
  if ((r = uv_read_start(&in->h.stream, on_alloc, on_read)) != 0) {
    in->stopped = true;
    uv_close(&in->h.handle, NULL);
    return r;
  }
  return 0;
}

void pz_input_stop(pz_input_t *in) {
  if (!in->started || in->stopped)
    return;
  in->stopped = true;
  if (!in->use_fs)
    uv_close(&in->h.handle, NULL);
  /* An fs read under way completes on the loop; on_fs_read sees
   * `stopped`. */
}
