/*
 * Guards src/core/addr.c: addresses parsed and printed (IPv4, IPv6,
 * IPv4-mapped IPv6 taken as IPv4), the log form with and without a port,
 * and CIDR lists: what they match at the edges of a prefix, and the
 * prefixes they refuse (bad lengths, host bits set, too many).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "addr.h"
#include "error.h"

static pz_ip_t ip_of(const char *s) {
  pz_ip_t ip;
  if (pz_ip_parse(s, strlen(s), &ip) != 0)
    fail_msg("not parsed: %s", s);
  return ip;
}

static void test_parse_and_format(void **state) {
  char out[PZ_ADDR_MAX];
  pz_ip_t ip = ip_of("203.0.113.7");
  assert_int_equal(ip.family, 4);
  assert_string_equal(pz_ip_format(&ip, out, sizeof(out)), "203.0.113.7");
  ip = ip_of("2001:DB8::1");
  assert_int_equal(ip.family, 6);
  assert_string_equal(pz_ip_format(&ip, out, sizeof(out)), "2001:db8::1");
  /* A dual-stack socket's IPv4 peer is IPv4. */
  ip = ip_of("::ffff:198.51.100.2");
  assert_int_equal(ip.family, 4);
  assert_string_equal(pz_ip_format(&ip, out, sizeof(out)), "198.51.100.2");
  static const char *bad[] = {"",         "1.2.3", "1.2.3.4.5", "256.1.1.1",
                              "1.2.3.4 ", "::g",   "[::1]",     "localhost"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pz_ip_t x;
    if (pz_ip_parse(bad[i], strlen(bad[i]), &x) != PZ_EINVAL)
      fail_msg("accepted: '%s'", bad[i]);
  }
  /* Only len bytes are read. */
  assert_int_equal(pz_ip_parse("10.0.0.1junk", 8, &ip), 0);
  assert_string_equal(pz_ip_format(&ip, out, sizeof(out)), "10.0.0.1");
  pz_ip_t none = {0};
  assert_string_equal(pz_ip_format(&none, out, sizeof(out)), "?");
}

static void test_peer_form_and_sockaddr(void **state) {
  char out[64];
  pz_ip_t ip = ip_of("127.0.0.9");
  assert_string_equal(pz_ip_format_peer(&ip, 5555, out, sizeof(out)),
                      "127.0.0.9:5555");
  assert_string_equal(pz_ip_format_peer(&ip, 0, out, sizeof(out)), "127.0.0.9");
  ip = ip_of("::1");
  assert_string_equal(pz_ip_format_peer(&ip, 80, out, sizeof(out)), "[::1]:80");

  struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(4242)};
  inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
  uint16_t port;
  pz_ip_from_sockaddr((struct sockaddr *)&s6, &ip, &port);
  assert_int_equal(ip.family, 4);
  assert_int_equal(port, 4242);
  assert_true(pz_ip_equal(&ip, &(pz_ip_t){0}) == false);
  pz_ip_t want = ip_of("10.1.2.3");
  assert_true(pz_ip_equal(&ip, &want));
  struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(7)};
  inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
  pz_ip_from_sockaddr((struct sockaddr *)&s4, &ip, NULL);
  want = ip_of("192.0.2.1");
  assert_true(pz_ip_equal(&ip, &want));
}

static void test_cidr_match(void **state) {
  pz_cidr_list_t l;
  const char *why = NULL;
  assert_int_equal(
      pz_cidr_list_parse("10.0.0.0/8, 192.168.4.0/22,127.0.0.2 ,fd00::/8", &l,
                         &why),
      0);
  assert_int_equal(l.n, 4);
  static const char *in[] = {"10.0.0.0",       "10.255.255.255", "192.168.4.0",
                             "192.168.7.255",  "127.0.0.2",      "fd12::3",
                             "::ffff:10.9.9.9"};
  static const char *out[] = {"11.0.0.0",      "9.255.255.255", "192.168.8.0",
                              "192.168.3.255", "127.0.0.1",     "fe00::1",
                              "::a00:1"};
  for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
    pz_ip_t ip = ip_of(in[i]);
    if (!pz_cidr_list_match(&l, &ip))
      fail_msg("%s should match", in[i]);
  }
  for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
    pz_ip_t ip = ip_of(out[i]);
    if (pz_cidr_list_match(&l, &ip))
      fail_msg("%s should not match", out[i]);
  }
  /* /0 matches its whole family, and only it. */
  assert_int_equal(pz_cidr_list_parse("0.0.0.0/0", &l, &why), 0);
  pz_ip_t v4 = ip_of("8.8.8.8"), v6 = ip_of("2001:db8::1");
  assert_true(pz_cidr_list_match(&l, &v4));
  assert_false(pz_cidr_list_match(&l, &v6));
  /* Empty lists match nothing. */
  assert_int_equal(pz_cidr_list_parse("none", &l, &why), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(pz_cidr_list_parse("", &l, &why), 0);
  assert_false(pz_cidr_list_match(&l, &v4));
}

static void test_cidr_refused(void **state) {
  static const char *bad[] = {"10.0.0.1/8", "10.0.0.0/33", "::/129",
                              "10.0.0.0/",  "10.0.0.0/-1", "10.0.0.0/1234",
                              "host",       "fd00::1/8",   "1.2.3.4/8x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pz_cidr_list_t l;
    const char *why = NULL;
    if (pz_cidr_list_parse(bad[i], &l, &why) != PZ_EINVAL)
      fail_msg("accepted: %s", bad[i]);
    assert_non_null(why);
  }
  char many[64 * 12] = "";
  for (int i = 0; i <= PZ_CIDR_MAX; i++) {
    char one[16];
    snprintf(one, sizeof(one), "10.0.%d.0/24,", i);
    strcat(many, one);
  }
  pz_cidr_list_t l;
  const char *why = NULL;
  assert_int_equal(pz_cidr_list_parse(many, &l, &why), PZ_EINVAL);
  assert_non_null(strstr(why, "too many"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_and_format),
      cmocka_unit_test(test_peer_form_and_sockaddr),
      cmocka_unit_test(test_cidr_match),
      cmocka_unit_test(test_cidr_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
