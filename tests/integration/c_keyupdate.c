/*
 * c_keyupdate HOST PORT SECONDS: a hostile TLS 1.3 client. It upgrades to
 * WebSocket, sends HELLO, then for SECONDS sends KeyUpdate messages that
 * ask for an update in return (each makes the server write an answer),
 * with an unsolicited pong every 64 to look alive, and never reads a byte.
 * Its receive buffer is small, so the server's answers soon have nowhere
 * to go but the server's memory.
 *
 * Prints one line: "key_updates=N pongs=N closed=0|1 seconds=S", where
 * closed says the server ended the connection (a write failed) before the
 * time was up. Exits 0 unless the connection or the handshake failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits until fd is writable or the deadline passes; false at the end. */
static int wait_writable(int fd, double deadline) {
  double left = deadline - now_s();
  if (left <= 0)
    return 0;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int ms = (int)(left * 1000) + 1;
  return poll(&p, 1, ms > 100 ? 100 : ms) >= 0;
}

/* Runs an SSL call that writes until it completes (1), the connection
 * breaks (-1) or the deadline passes (0). `op` 0: the KeyUpdate queued by
 * SSL_key_update (SSL_do_handshake sends it); 1: SSL_write of buf. */
static int drive(SSL *ssl, int fd, int op, const void *buf, int len,
                 double deadline) {
  for (;;) {
    ERR_clear_error();
    int r = op == 0 ? SSL_do_handshake(ssl) : SSL_write(ssl, buf, len);
    if (r > 0)
      return 1;
    int e = SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
      return -1;
    if (!wait_writable(fd, deadline))
      return 0;
    if (now_s() >= deadline)
      return 0;
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s HOST PORT SECONDS\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  double seconds = atof(argv[3]);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    perror("connect");
    return 1;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  /* Non-blocking from here: the server may stop reading us. */
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
    return 1;

  static const char upgrade[] =
      "GET /ws HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  /* HELLO [1, 1], masked with a zero mask; then a masked empty pong. */
  static const unsigned char hello[] = {0x82, 0x83, 0, 0, 0, 0, 0x92, 1, 1};
  static const unsigned char pong[] = {0x8a, 0x80, 0, 0, 0, 0};
  double start = now_s(), deadline = start + seconds;
  long updates = 0, pongs = 0;
  int closed = 0;
  if (drive(ssl, fd, 1, upgrade, sizeof(upgrade) - 1, deadline) != 1 ||
      drive(ssl, fd, 1, hello, sizeof(hello), deadline) != 1) {
    fprintf(stderr, "upgrade or HELLO not sent\n");
    return 1;
  }
  while (now_s() < deadline) {
    if (!SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED)) {
      ERR_print_errors_fp(stderr);
      return 1;
    }
    int r = drive(ssl, fd, 0, NULL, 0, deadline);
    if (r < 0) {
      closed = 1;
      break;
    }
    if (r == 0)
      break;
    updates++;
    if (updates % 64 == 0) {
      r = drive(ssl, fd, 1, pong, sizeof(pong), deadline);
      if (r < 0) {
        closed = 1;
        break;
      }
      if (r == 0)
        break;
      pongs++;
    }
  }
  printf("key_updates=%ld pongs=%ld closed=%d seconds=%.2f\n", updates, pongs,
         closed, now_s() - start);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return 0;
}
