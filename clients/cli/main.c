/*
 * plaza-cli: an interactive plaza client.
 *
 *   plaza-cli [options] ws[s]://HOST[:PORT]/ws ROOM NAME
 *
 * Connects, says HELLO as NAME, joins ROOM once WELCOMEd, then prints one
 * line per event (members, chat, whispers, errors, and every 2 s the
 * positions that changed; our own as soon as the server applied a /move)
 * and sends what is typed on stdin (see command.h). stdin is read only once
 * the first JOIN is answered (ROOM, or an ERROR: then /join or /quit), so
 * piped lines are never sent before the JOIN took effect. EOF or /quit
 * closes with 1000; Ctrl-C twice drops the connection.
 *
 * The session survives its connection (pz_client_session_*): when the
 * server closes with 1001 (a drain, a rolling restart) or the socket drops,
 * plaza-cli says so, reconnects with jittered backoff and resumes (same id
 * and room; the chat missed meanwhile is printed once). Lines typed
 * meanwhile are sent once the room is back. --no-reconnect ends instead.
 *
 * Exit status: 0 after a normal close (ours, or without --no-reconnect
 * never otherwise; with it, the server's 1000/1001), 1 when the first
 * connection or upgrade failed (a refused certificate included), 2 on bad
 * usage, 3 when the server closed with another code (4001, 4003; others
 * only with --no-reconnect) or the connection broke, 4 when the server
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
  pz_client_session_t *s; /* NULL once closed */
  pz_input_t in;
  uv_timer_t pos_timer;
  uv_signal_t sigint, sigterm;
  pz_view_t view;
  const char *url, *room;
  bool opened, input_started, quitting;
  int exit_code;
} cli_t;

static double now_ms(void) {
  return (double)uv_hrtime() / 1e6;
}

static void quit(cli_t *cli) {
  if (cli->s == NULL)
    return;
  if (cli->quitting) { /* asked twice: don't wait for the server */
    pz_client_session_abort(cli->s);
    return;
  }
  cli->quitting = true;
  /* LEAVE first: the server keeps a dropped session for resume, so without
   * it the others would see us leave only after the grace period. */
  pz_client_session_close(cli->s, true);
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
    report(pz_client_session_chat(cli->s, cmd->text), "chat");
    break;
  case PZ_CMD_WHISPER:
    report(pz_client_session_whisper(cli->s, cmd->to, cmd->text), "whisper");
    break;
  case PZ_CMD_MOVE: {
    uint64_t seq;
    int r = pz_client_session_move(cli->s, cmd->pos, &seq);
    report(r, "move");
    if (r == 0)
      cli->view.await_seq = seq;
    break;
  }
  case PZ_CMD_JOIN:
    report(pz_client_session_join(cli->s, cmd->room), "join");
    break;
  case PZ_CMD_LEAVE:
    report(pz_client_session_leave(cli->s), "leave");
    break;
  case PZ_CMD_WHO:
    pz_view_print_who(&cli->view);
    break;
  case PZ_CMD_PING:
    report(pz_client_session_ping(cli->s, now_ms()), "ping");
    break;
  case PZ_CMD_QUIT:
    quit(cli);
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
  if (cli->s == NULL || cli->quitting)
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
    quit(cli);
}

static void start_input(cli_t *cli) {
  if (cli->input_started)
    return;
  int r = pz_input_start(&cli->in, cli->loop, 0, on_line, on_input_eof, cli);
  cli->input_started = true;
  if (r != 0)
    fprintf(stderr, "plaza-cli: cannot read stdin: %s\n", uv_strerror(r));
}

static void on_message(pz_client_session_t *s, const pz_smsg_t *m) {
  cli_t *cli = pz_client_session_data(s);

  pz_view_handle(&cli->view, m, now_ms());
  /* The first JOIN was answered, refused or not: the user may type. */
  if (m->op == PZ_S_ROOM || (m->op == PZ_S_ERROR && m->u.error.op == PZ_C_JOIN))
    start_input(cli);
}

/* "closed: CODE REASON" for a connection that was open, "cannot connect"
 * for one that never was. */
static void print_lost(const pz_client_session_event_t *ev) {
  if (ev->opened)
    printf("closed: %d%s%.*s\n", ev->code, ev->reason.len ? " " : "",
           (int)ev->reason.len, ev->reason.ptr);
  else
    printf("cannot connect: %.*s\n", (int)ev->reason.len, ev->reason.ptr);
}

static void on_closed(cli_t *cli, const pz_client_session_event_t *ev) {
  cli->s = NULL;
  if (!cli->opened && !ev->refused) {
    fprintf(stderr, "plaza-cli: cannot connect to %s: %.*s", cli->url,
            (int)ev->reason.len, ev->reason.ptr);
    if (ev->http_status != 0 && ev->http_status != 101)
      fprintf(stderr, " (HTTP %d)", ev->http_status);
    if (ev->err == PZ_CLIENT_ECERT)
      fprintf(stderr,
              " (%s: --ca-file FILE trusts its CA, --insecure "
              "skips the check)",
              pz_client_strerror(ev->err));
    fputc('\n', stderr);
    cli->exit_code = EXIT_CONNECT;
  } else {
    printf("closed: %d%s%.*s\n", ev->code, ev->reason.len ? " " : "",
           (int)ev->reason.len, ev->reason.ptr);
    if (ev->refused)
      cli->exit_code = EXIT_REFUSED;
    else if (cli->quitting || ev->code == PZ_CLOSE_NORMAL ||
             ev->code == PZ_CLOSE_GOING_AWAY)
      cli->exit_code = EXIT_OK;
    else
      cli->exit_code = EXIT_CLOSED;
    if (ev->err != 0 && !cli->quitting)
      fprintf(stderr, "plaza-cli: %s\n", pz_client_strerror(ev->err));
  }
  pz_input_stop(&cli->in);
  uv_close((uv_handle_t *)&cli->pos_timer, NULL);
  uv_close((uv_handle_t *)&cli->sigint, NULL);
  uv_close((uv_handle_t *)&cli->sigterm, NULL);
  pz_client_ctx_close(cli->ctx);
}

static void on_status(pz_client_session_t *s,
                      const pz_client_session_event_t *ev) {
  cli_t *cli = pz_client_session_data(s);

  switch (ev->status) {
  case PZ_CLIENT_SESSION_OPEN:
    cli->opened = true;
    if (ev->fresh)
      printf("resume refused: new session #%llu%s%s\n",
             (unsigned long long)pz_client_session_id(s),
             cli->view.in_room ? ", joining " : "",
             cli->view.in_room ? cli->view.room : "");
    break;
  case PZ_CLIENT_SESSION_RECONNECTING:
    print_lost(ev);
    printf("reconnecting in %u ms (attempt %u)\n", (unsigned)ev->delay_ms,
           ev->attempt);
    break;
  case PZ_CLIENT_SESSION_CLOSED:
    on_closed(cli, ev);
    break;
  default:
    break;
  }
}

static void on_pos_timer(uv_timer_t *t) {
  cli_t *cli = t->data;
  pz_view_print_positions(&cli->view);
}

static void on_signal(uv_signal_t *s, int signum) {
  cli_t *cli = s->data;
  (void)signum;
  quit(cli);
}

static const pz_client_session_cbs_t callbacks = {
    .on_message = on_message,
    .on_status = on_status,
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: plaza-cli [options] ws[s]://HOST[:PORT]/ws ROOM NAME\n"
          "  --token JWT      HELLO's token, for servers with an auth secret\n"
          "  --bind ADDR      IPv4 address to connect from\n"
          "  --ca-file FILE   wss://: trust the CA certificates in FILE (PEM)\n"
          "                   instead of the system's\n"
          "  --insecure       wss://: do not verify the server's certificate\n"
          "                   (development only)\n"
          "  --no-reconnect   end when the connection ends, instead of\n"
          "                   reconnecting and resuming the session\n"
          "  --help           print this and exit\n"
          "then type a line to chat; %s\n",
          pz_cli_help);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"token", required_argument, NULL, 't'},
      {"bind", required_argument, NULL, 'b'},
      {"ca-file", required_argument, NULL, 'c'},
      {"insecure", no_argument, NULL, 'k'},
      {"no-reconnect", no_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  cli_t cli;
  pz_client_session_opts_t opts;
  uv_loop_t loop;
  int opt, r;

  memset(&cli, 0, sizeof(cli));
  pz_client_session_opts_init(&opts);
  while ((opt = getopt_long(argc, argv, "t:b:h", longopts, NULL)) != -1) {
    switch (opt) {
    case 't':
      opts.token = optarg;
      break;
    case 'b':
      opts.conn.bind_addr = optarg;
      break;
    case 'c':
      opts.conn.ca_file = optarg;
      break;
    case 'k':
      opts.conn.insecure = true;
      break;
    case 'n':
      opts.reconnect = false;
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
  opts.name = argv[optind + 2];

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
  if ((r = pz_client_ctx_create(&loop, &cli.ctx)) != 0) {
    fprintf(stderr, "plaza-cli: %s\n", pz_client_strerror(r));
    cli.exit_code = EXIT_CONNECT;
    goto out_loop;
  }
  if ((r = pz_client_session_start(cli.ctx, cli.url, &opts, &callbacks, &cli,
                                   &cli.s)) != 0) {
    fprintf(stderr, "plaza-cli: %s: %s%s%s\n", cli.url, pz_client_strerror(r),
            r == PZ_CLIENT_ECAFILE ? " " : "",
            r == PZ_CLIENT_ECAFILE ? opts.conn.ca_file : "");
    cli.exit_code =
        r == PZ_CLIENT_EURL || r == PZ_CLIENT_EINVAL || r == PZ_CLIENT_ECAFILE
            ? EXIT_USAGE
            : EXIT_CONNECT;
    pz_client_ctx_close(cli.ctx);
    goto out_run;
  }
  report(pz_client_session_join(cli.s, pz_str_c(cli.room)), "join");
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
  pz_view_dispose(&cli.view);
  return cli.exit_code;
}
