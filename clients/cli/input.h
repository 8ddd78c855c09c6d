/*
 * Lines from a file descriptor on a libuv loop, whatever the descriptor is:
 * a terminal (uv_tty_t), a pipe or socket (uv_pipe_t), or a file or a
 * character device such as /dev/null (uv_fs_read, which streams cannot
 * do). A line longer than PZ_INPUT_LINE_MAX is delivered in pieces.
 */
#ifndef PZ_CLI_INPUT_H
#define PZ_CLI_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#define PZ_INPUT_LINE_MAX 4096

typedef struct pz_input pz_input_t;
/* A line without its LF; borrowed until return. */
typedef void (*pz_input_line_cb)(pz_input_t *in, const char *line, size_t len);
/* End of input (or a read error); no line follows. */
typedef void (*pz_input_eof_cb)(pz_input_t *in);

struct pz_input {
  void *data; /* the user's */
  uv_loop_t *loop;
  int fd;
  bool use_fs; /* a file: uv_fs_read chain instead of a stream */
  bool started, stopped, fs_busy;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tty_t tty;
    uv_pipe_t pipe;
  } h;
  uv_fs_t req;
  pz_input_line_cb on_line;
  pz_input_eof_cb on_eof;
  size_t len;
  char line[PZ_INPUT_LINE_MAX];
  char rbuf[PZ_INPUT_LINE_MAX];
};

/* Starts reading fd; in is embedded by the caller and must stay put until
 * pz_input_stop() and the loop has run. Returns 0 or a libuv error. */
int pz_input_start(pz_input_t *in, uv_loop_t *loop, int fd,
                   pz_input_line_cb on_line, pz_input_eof_cb on_eof,
                   void *data);

/* Stops reading and closes the handle (safe from the callbacks; no-op when
 * not started or already stopped). A file read under way finishes on the
 * loop without calling back. */
void pz_input_stop(pz_input_t *in);

#endif
