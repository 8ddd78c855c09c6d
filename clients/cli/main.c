/*
 * plaza-cli: an interactive plaza client.
 *
 *   plaza-cli [--token JWT] [--bind ADDR] ws://HOST:PORT/ws ROOM NAME
 *
 * Connects, says HELLO as NAME, joins ROOM once WELCOMEd, then prints one
 * line per event (members, chat, whispers, errors, and every 2 s the
 * positions that changed; our own as soon as the server applied a /move)
 * and sends what is typed on stdin (see command.h). stdin is read only once
 * the first JOIN is answered (ROOM, or an ERROR: then /join or /quit), so
 * piped lines are never sent before the JOIN took effect. EOF or /quit
 * closes with 1000; Ctrl-C twice drops the connection.
 *
 * Exit status: 0 after a normal close (ours, or the server's 1000/1001),
 * 1 when the connection or upgrade failed, 2 on bad usage, 3 when the server
 * closed with another code or the connection broke, 4 when the server
 * refused the HELLO (the ERROR is printed; the name, say).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "command.h"
#include "input.h"
#include "view.h"
#include "plaza/client.h"
#include "plaza/codec.h"

#define POS_INTERVAL_MS 2000

enum {
  EXIT_OK = 0,
  EXIT_CONNECT = 1,
  EXIT_USAGE = 2,
  EXIT_CLOSED = 3,
  EXIT_REFUSED = 4
};

typedef struct cli {
  uv_loop_t *loop;
  pz_client_ctx_t *ctx;
  pz_client_t *c; /* NULL once closed */
  pz_input_t in;
  uv_timer_t pos_timer;
  uv_signal_t sigint, sigterm;
  pz_view_t view;
  msgpack_zone zone;
  const char *url, *room, *name, *token;
  uint64_t move_seq;
  bool opened, joined_once, input_started, quitting, refused;
  int exit_code;
} cli_t;

static double now_ms(void) {
  return (double)uv_hrtime() / 1e6;
}

static void quit(cli_t *cli, const char *why) {
  if (cli->c == NULL)
    return;
  if (cli->quitting) { /* asked twice: don't wait for the server */
    pz_client_abort(cli->c);
    return;
  }
  cli->quitting = true;
  /* LEAVE first: the server keeps a dropped session for resume, so without
   * it the others would see us leave only after the grace period. */
  if (cli->view.in_room)
    pz_client_send_leave(cli->c);
  pz_client_close(cli->c, PZ_CLOSE_NORMAL, why);
}

static void report(int r, const char *what) {
  if (r != 0)
    printf("%s: %s\n", what, pz_client_strerror(r));
}

static void run_command(cli_t *cli, const pz_cli_cmd_t *cmd) {
  switch (cmd->kind) {
  case PZ_CMD_NONE:
    break;
  case PZ_CMD_CHAT:
    report(pz_client_send_chat(cli->c, cmd->text), "chat");
    break;
  case PZ_CMD_WHISPER:
    report(pz_client_send_whisper(cli->c, cmd->to, cmd->text), "whisper");
    break;
  case PZ_CMD_MOVE: {
    int r = pz_client_send_move(cli->c, ++cli->move_seq, cmd->pos);
    report(r, "move");
    if (r == 0)
      cli->view.await_seq = cli->move_seq;
    break;
  }
  case PZ_CMD_JOIN:
    report(pz_client_send_join(cli->c, cmd->room), "join");
    break;
  case PZ_CMD_LEAVE:
    report(pz_client_send_leave(cli->c), "leave");
    break;
  case PZ_CMD_WHO:
    pz_view_print_who(&cli->view);
    break;
  case PZ_CMD_PING:
    report(pz_client_send_ping(cli->c, now_ms()), "ping");
    break;
  case PZ_CMD_QUIT:
    quit(cli, "bye");
    break;
  case PZ_CMD_HELP:
    puts(pz_cli_help);
    break;
  default:
    printf("%s\n", cmd->error ? cmd->error : "bad command");
    break;
  }
}

static void on_line(pz_input_t *in, const char *line, size_t len) {
  cli_t *cli = in->data;
  pz_cli_cmd_t cmd;
  if (cli->c == NULL || cli->quitting)
    return;
  pz_cli_parse(line, len, &cmd);
  run_command(cli, &cmd);
}

static void on_input_eof(pz_input_t *in) {
  cli_t *cli = in->data;
  pz_input_stop(in);
  /* After /quit the close handshake is under way: the end of input is
   * not a second request to quit, which would drop the connection. */
  if (!cli->quitting)
    quit(cli, "bye");
}

static void start_input(cli_t *cli) {
  if (cli->input_started)
    return;
  int r = pz_input_start(&cli->in, cli->loop, 0, on_line, on_input_eof, cli);
  cli->input_started = true;
  if (r != 0)
    fprintf(stderr, "plaza-cli: cannot read stdin: %s\n", uv_strerror(r));
}

static void on_open(pz_client_t *c) {
  cli_t *cli = pz_client_data(c);
  cli->opened = true;
  report(pz_client_send_hello(c, pz_str_c(cli->token), pz_str_c(cli->name),
                              pz_str_c(NULL), false, 0),
         "hello");
}

static void on_message(pz_client_t *c, int opcode, const char *data,
                       size_t len) {
  cli_t *cli = pz_client_data(c);
  pz_smsg_t m;

  if (opcode == PZ_CLIENT_TEXT) {
    printf("text message (%zu bytes)\n", len);
    return;
  }
  if (pz_decode_server(data, len, &cli->zone, &m) != 0) {
    printf("undecodable message (%zu bytes)\n", len);
    msgpack_zone_clear(&cli->zone);
    return;
  }
  pz_view_handle(&cli->view, &m, now_ms());
  if (m.op == PZ_S_WELCOME && !cli->joined_once) {
    cli->joined_once = true;
    report(pz_client_send_join(c, pz_str_c(cli->room)), "join");
  } else if (m.op == PZ_S_ERROR && !cli->joined_once) {
    /* An ERROR before WELCOME refuses the HELLO (a bad name): the server
     * would only wait for a better HELLO until its timeout. */
    cli->refused = true;
    quit(cli, "hello refused");
  } else if (m.op == PZ_S_ROOM || m.op == PZ_S_ERROR) {
    /* The first JOIN was answered, refused or not: the user may type. */
    start_input(cli);
  }
  msgpack_zone_clear(&cli->zone);
}

static void on_close(pz_client_t *c, int code, const char *reason,
                     size_t reason_len) {
  cli_t *cli = pz_client_data(c);
  int err = pz_client_error(c);

  cli->c = NULL;
  if (!cli->opened) {
    fprintf(stderr, "plaza-cli: cannot connect to %s: %.*s", cli->url,
            (int)reason_len, reason);
    if (pz_client_http_status(c) != 0 && pz_client_http_status(c) != 101)
      fprintf(stderr, " (HTTP %d)", pz_client_http_status(c));
    fputc('\n', stderr);
    cli->exit_code = EXIT_CONNECT;
  } else {
    printf("closed: %d%s%.*s\n", code, reason_len ? " " : "", (int)reason_len,
           reason);
    if (cli->refused)
      cli->exit_code = EXIT_REFUSED;
    else if (cli->quitting || code == PZ_CLOSE_NORMAL ||
             code == PZ_CLOSE_GOING_AWAY)
      cli->exit_code = EXIT_OK;
    else
      cli->exit_code = EXIT_CLOSED;
    if (err != 0 && !cli->quitting)
      fprintf(stderr, "plaza-cli: %s\n", pz_client_strerror(err));
  }
  pz_input_stop(&cli->in);
  uv_close((uv_handle_t *)&cli->pos_timer, NULL);
  uv_close((uv_handle_t *)&cli->sigint, NULL);
  uv_close((uv_handle_t *)&cli->sigterm, NULL);
  pz_client_ctx_close(cli->ctx);
}

static void on_pos_timer(uv_timer_t *t) {
  cli_t *cli = t->data;
  pz_view_print_positions(&cli->view);
}

static void on_signal(uv_signal_t *s, int signum) {
  cli_t *cli = s->data;
  (void)signum;
  quit(cli, "interrupted");
}

static const pz_client_cbs_t callbacks = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: plaza-cli [--token JWT] [--bind ADDR] ws://HOST:PORT/ws "
          "ROOM NAME\n"
          "  then type a line to chat; %s\n",
          pz_cli_help);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"token", required_argument, NULL, 't'},
      {"bind", required_argument, NULL, 'b'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  cli_t cli;
  pz_client_opts_t opts;
  uv_loop_t loop;
  int opt, r;

  memset(&cli, 0, sizeof(cli));
  pz_client_opts_init(&opts);
  while ((opt = getopt_long(argc, argv, "t:b:h", longopts, NULL)) != -1) {
    switch (opt) {
    case 't':
      cli.token = optarg;
      break;
    case 'b':
      opts.bind_addr = optarg;
      break;
    case 'h':
      usage(stdout);
      return EXIT_OK;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (argc - optind != 3) {
    usage(stderr);
    return EXIT_USAGE;
  }
  cli.url = argv[optind];
  cli.room = argv[optind + 1];
  cli.name = argv[optind + 2];

  /* Output is read by people and by scripts through pipes: one line at a
   * time either way. A reader that went away is not worth a signal. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);

  if ((r = uv_loop_init(&loop)) != 0) {
    fprintf(stderr, "plaza-cli: %s\n", uv_strerror(r));
    return EXIT_CONNECT;
  }
  cli.loop = &loop;
  pz_view_init(&cli.view, stdout);
  msgpack_zone_init(&cli.zone, 4096);
  if ((r = pz_client_ctx_create(&loop, &cli.ctx)) != 0) {
    fprintf(stderr, "plaza-cli: %s\n", pz_client_strerror(r));
    cli.exit_code = EXIT_CONNECT;
    goto out_loop;
  }
  if ((r = pz_client_connect(cli.ctx, cli.url, &opts, &callbacks, &cli,
                             &cli.c)) != 0) {
    fprintf(stderr, "plaza-cli: %s: %s\n", cli.url, pz_client_strerror(r));
    cli.exit_code = r == PZ_CLIENT_EURL || r == PZ_CLIENT_EINVAL ? EXIT_USAGE
                                                                 : EXIT_CONNECT;
    pz_client_ctx_close(cli.ctx);
    goto out_run;
  }
  uv_timer_init(&loop, &cli.pos_timer);
  cli.pos_timer.data = &cli;
  uv_timer_start(&cli.pos_timer, on_pos_timer, POS_INTERVAL_MS,
                 POS_INTERVAL_MS);
  uv_signal_init(&loop, &cli.sigint);
  uv_signal_init(&loop, &cli.sigterm);
  cli.sigint.data = cli.sigterm.data = &cli;
  uv_signal_start(&cli.sigint, on_signal, SIGINT);
  uv_signal_start(&cli.sigterm, on_signal, SIGTERM);

out_run:
  uv_run(&loop, UV_RUN_DEFAULT);
out_loop:
  if (uv_loop_close(&loop) != 0)
    fprintf(stderr, "plaza-cli: handles left open at exit\n");
  msgpack_zone_destroy(&cli.zone);
  pz_view_dispose(&cli.view);
  return cli.exit_code;
}
