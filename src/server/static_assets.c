/* Embedded HTTP assets (see static_assets.h). */
#include "static_assets.h"

#include <string.h>

/* Generated from clients/ts/demo by src/server/static_assets.py: defines
 * pz_assets[] and PZ_N_ASSETS. */
#include "static_assets_data.inc"

const pz_asset_t *pz_asset_find(const char *path) {
  for (size_t i = 0; i < PZ_N_ASSETS; i++)
    if (strcmp(pz_assets[i].path, path) == 0)
      return &pz_assets[i];
  return NULL;
}

/* If-None-Match is "*" or a comma-separated list of ETags, each perhaps
 * weak (W/"..."); weak comparison is what RFC 9110 asks for here. */
bool pz_asset_etag_matches(const pz_asset_t *a, const char *inm) {
  size_t elen = strlen(a->etag);
  const char *p = inm;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (strncmp(p, "W/", 2) == 0)
      p += 2;
    const char *end = p;
    while (*end && *end != ',' && *end != ' ' && *end != '\t')
      end++;
    size_t n = (size_t)(end - p);
    if ((n == 1 && *p == '*') || (n == elen && memcmp(p, a->etag, n) == 0))
      return true;
    p = end;
  }
  return false;
}
