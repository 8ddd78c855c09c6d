/* Session tokens (see id.h). The secret comes from OpenSSL's CSPRNG. */
#include "id.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>

#include "error.h"

int pz_token_secret_new(uint8_t secret[PZ_TOKEN_SECRET_BYTES]) {
  return RAND_bytes(secret, PZ_TOKEN_SECRET_BYTES) == 1 ? 0 : PZ_EIO;
}

int pz_token_format(uint64_t id, const uint8_t secret[PZ_TOKEN_SECRET_BYTES],
                    char *out, size_t size) {
  static const char hex[] = "0123456789abcdef";
  int n = snprintf(out, size, "%llu.", (unsigned long long)id);
  for (size_t i = 0; i < PZ_TOKEN_SECRET_BYTES && (size_t)n + 2 < size; i++) {
    out[n++] = hex[secret[i] >> 4];
    out[n++] = hex[secret[i] & 15];
  }
  out[n] = 0;
  return n;
}

int pz_token_make(uint64_t id, char *out, size_t size) {
  uint8_t secret[PZ_TOKEN_SECRET_BYTES];
  if (pz_token_secret_new(secret) != 0)
    return PZ_EIO;
  return pz_token_format(id, secret, out, size);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

bool pz_token_read(const char *token, size_t len, uint64_t *id,
                   uint8_t secret[PZ_TOKEN_SECRET_BYTES]) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < len && token[i] >= '0' && token[i] <= '9' && i < 17)
    v = v * 10 + (uint64_t)(token[i++] - '0');
  if (i == 0 || i >= len || token[i] != '.' ||
      len - i - 1 != PZ_TOKEN_SECRET_HEX)
    return false;
  const char *h = token + i + 1;
  for (size_t j = 0; j < PZ_TOKEN_SECRET_HEX; j += 2) {
    int hi = hex_digit(h[j]), lo = hex_digit(h[j + 1]);
    if (hi < 0 || lo < 0)
      return false;
    if (secret)
      secret[j / 2] = (uint8_t)(hi << 4 | lo);
  }
  *id = v;
  return true;
}

bool pz_token_parse(const char *token, size_t len, uint64_t *id) {
  return pz_token_read(token, len, id, NULL);
}

bool pz_token_equal(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}
