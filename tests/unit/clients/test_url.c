/* Unit tests of the client's WebSocket URL parser (src/client/url.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "url.h"
#include "plaza/client.h"

static void assert_target(const pz_url_t *u, const char *want) {
  assert_int_equal(u->target_len, strlen(want));
  assert_memory_equal(u->target, want, u->target_len);
}

static void test_ipv4_port_path(void **state) {
  pz_url_t u;
  (void)state;
  assert_int_equal(pz_url_parse("ws://127.0.0.1:8080/ws", &u), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 8080);
  assert_true(u.port_given);
  assert_int_equal(u.addr.s_addr, htonl(0x7f000001));
  assert_target(&u, "/ws");
}

static void test_localhost_default_port(void **state) {
  pz_url_t u;
  (void)state;
  assert_int_equal(pz_url_parse("ws://localhost/", &u), 0);
  assert_string_equal(u.host, "localhost");
  assert_int_equal(u.port, 80);
  assert_false(u.port_given);
  assert_int_equal(u.addr.s_addr, htonl(INADDR_LOOPBACK));
  assert_target(&u, "/");
  assert_int_equal(pz_url_parse("WS://LocalHost:1", &u), 0);
  assert_int_equal(u.port, 1);
}

static void test_socketio_query_kept(void **state) {
  pz_url_t u;
  (void)state;
  assert_int_equal(
      pz_url_parse("ws://10.0.0.2:3000/socket.io/?EIO=4&transport=websocket",
                   &u),
      0);
  assert_int_equal(u.port, 3000);
  assert_target(&u, "/socket.io/?EIO=4&transport=websocket");
}

static void test_empty_path(void **state) {
  pz_url_t u;
  (void)state;
  assert_int_equal(pz_url_parse("ws://127.0.0.1:9", &u), 0);
  assert_target(&u, "/");
  assert_int_equal(pz_url_parse("ws://127.0.0.1:9?a=b", &u), 0);
  assert_target(&u, "?a=b");
}

static void test_schemes(void **state) {
  pz_url_t u;
  (void)state;
  assert_int_equal(pz_url_parse("wss://127.0.0.1/ws", &u), 0);
  assert_true(u.tls);
  assert_int_equal(u.port, 443);
  assert_false(u.port_given);
  assert_int_equal(pz_url_parse("WSS://127.0.0.1:8443/ws", &u), 0);
  assert_true(u.tls);
  assert_int_equal(u.port, 8443);
  assert_int_equal(pz_url_parse("ws://127.0.0.1/ws", &u), 0);
  assert_false(u.tls);
  assert_int_equal(pz_url_parse("https://127.0.0.1/", &u), PZ_CLIENT_EURL);
  assert_int_equal(pz_url_parse("http://127.0.0.1/", &u), PZ_CLIENT_EURL);
  assert_int_equal(pz_url_parse("127.0.0.1:80/ws", &u), PZ_CLIENT_EURL);
  assert_int_equal(pz_url_parse(NULL, &u), PZ_CLIENT_EURL);
}

static void test_dns_names(void **state) {
  pz_url_t u;
  (void)state;
  assert_int_equal(pz_url_parse("wss://Play.Example.COM/ws", &u), 0);
  assert_string_equal(u.host, "Play.Example.COM"); /* Host as written */
  assert_string_equal(u.name, "play.example.com"); /* resolved, SNI */
  assert_int_equal(u.family, AF_UNSPEC);
  assert_false(u.ip_literal);
  assert_int_equal(pz_url_parse("ws://plaza-1.internal_net:8080/", &u), 0);
  assert_string_equal(u.name, "plaza-1.internal_net");
  assert_int_equal(pz_url_parse("ws://example.com./ws", &u), 0);
  assert_string_equal(u.host, "example.com.");
  assert_string_equal(u.name, "example.com");
  assert_int_equal(pz_url_parse("ws://localhostt/", &u), 0);
  assert_int_equal(u.family, AF_UNSPEC);
  /* localhost needs no resolver; it is a name for TLS, not an IP. */
  assert_int_equal(pz_url_parse("wss://localhost:9/", &u), 0);
  assert_int_equal(u.family, AF_INET);
  assert_false(u.ip_literal);
  assert_string_equal(u.name, "localhost");
}

static void test_ipv6_literals(void **state) {
  pz_url_t u;
  struct in6_addr want;
  (void)state;
  assert_int_equal(pz_url_parse("ws://[::1]:8080/ws", &u), 0);
  assert_string_equal(u.host, "[::1]");
  assert_string_equal(u.name, "::1");
  assert_int_equal(u.port, 8080);
  assert_int_equal(u.family, AF_INET6);
  assert_true(u.ip_literal);
  inet_pton(AF_INET6, "::1", &want);
  assert_memory_equal(&u.addr6, &want, sizeof(want));
  assert_target(&u, "/ws");
  assert_int_equal(pz_url_parse("wss://[2001:db8::7]", &u), 0);
  assert_int_equal(u.port, 443);
  assert_target(&u, "/");
}

static void test_bad_hosts(void **state) {
  static const char *bad[] = {
      "ws://",
      "ws:///ws",
      "ws://:80/ws",
      "ws://1.2.3/ws",
      "ws://1.2.3.256/ws",
      "ws://01.2.3.4/ws",
      "ws://1.2.3.4.5/ws",
      "ws://[::1/ws",
      "ws://[::1]x/ws",
      "ws://[fe80::1%25eth0]/ws",
      "ws://[]/ws",
      "ws://-a.example/ws",
      "ws://a-.example/ws",
      "ws://a..example/ws",
      "ws://a b/ws",
      "ws://a!b/ws",
      "ws://user@127.0.0.1/ws",
  };
  pz_url_t u;
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int r = pz_url_parse(bad[i], &u);
    if (r != PZ_CLIENT_EURL)
      fail_msg("%s: got %d, want PZ_CLIENT_EURL", bad[i], r);
  }
}

static void test_bad_ports(void **state) {
  static const char *bad[] = {
      "ws://127.0.0.1:/ws",     "ws://127.0.0.1:0/ws", "ws://127.0.0.1:65536/",
      "ws://127.0.0.1:123456/", "ws://127.0.0.1:8a/",  "ws://127.0.0.1:-1/",
      "ws://127.0.0.1:80:81/",
  };
  pz_url_t u;
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int r = pz_url_parse(bad[i], &u);
    if (r != PZ_CLIENT_EURL)
      fail_msg("%s: got %d, want PZ_CLIENT_EURL", bad[i], r);
  }
  assert_int_equal(pz_url_parse("ws://127.0.0.1:65535/", &u), 0);
  assert_int_equal(u.port, 65535);
}

static void test_bad_targets(void **state) {
  pz_url_t u;
  (void)state;
  assert_int_equal(pz_url_parse("ws://127.0.0.1/a b", &u), PZ_CLIENT_EURL);
  assert_int_equal(pz_url_parse("ws://127.0.0.1/a\r\nX: y", &u),
                   PZ_CLIENT_EURL);
  assert_int_equal(pz_url_parse("ws://127.0.0.1/ws#frag", &u), PZ_CLIENT_EURL);
  assert_int_equal(pz_url_parse("ws://127.0.0.1#frag", &u), PZ_CLIENT_EURL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ipv4_port_path),
      cmocka_unit_test(test_localhost_default_port),
      cmocka_unit_test(test_socketio_query_kept),
      cmocka_unit_test(test_empty_path),
      cmocka_unit_test(test_schemes),
      cmocka_unit_test(test_dns_names),
      cmocka_unit_test(test_ipv6_literals),
      cmocka_unit_test(test_bad_hosts),
      cmocka_unit_test(test_bad_ports),
      cmocka_unit_test(test_bad_targets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
