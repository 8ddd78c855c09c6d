/* Session tokens (see id.h). The secret comes from OpenSSL's CSPRNG. */
#include "id.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>

#include "error.h"

int pz_token_make(uint64_t id, char *out, size_t size) {
  unsigned char secret[PZ_TOKEN_SECRET_HEX / 2];
  if (RAND_bytes(secret, sizeof(secret)) != 1)
    return PZ_EIO;
  int n = snprintf(out, size, "%llu.", (unsigned long long)id);
  for (size_t i = 0; i < sizeof(secret) && (size_t)n + 2 < size; i++)
    n += snprintf(out + n, size - n, "%02x", secret[i]);
  return n;
}

bool pz_token_parse(const char *token, size_t len, uint64_t *id) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < len && token[i] >= '0' && token[i] <= '9' && i < 17)
    v = v * 10 + (uint64_t)(token[i++] - '0');
  if (i == 0 || i >= len || token[i] != '.' ||
      len - i - 1 != PZ_TOKEN_SECRET_HEX)
    return false;
  for (size_t j = i + 1; j < len; j++) {
    char c = token[j];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  *id = v;
  return true;
}

bool pz_token_equal(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}
