/*
 * Files plaza serves over HTTP (the demo page at GET /), embedded into the
 * binary at build time by src/server/static_assets.py. Lookup is an exact match
 * in a fixed table: no path is ever mapped to the file system.
 */
#ifndef PZ_STATIC_ASSETS_H
#define PZ_STATIC_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pz_asset {
  const char *path; /* "/" or a content-hashed "/demo.<hash>.js" */
  const unsigned char *data;
  size_t len;
  const char *content_type;
  const char *etag;          /* strong, quoted: "\"<hash>\"" */
  const char *cache_control; /* no-cache for /, immutable for hashed names */
} pz_asset_t;

/* The asset served at `path` (no query string), or NULL. */
const pz_asset_t *pz_asset_find(const char *path);
/* True when an If-None-Match header value names the asset's ETag (or is
 * "*"): the client's copy is current and 304 is the answer. */
bool pz_asset_etag_matches(const pz_asset_t *a, const char *if_none_match);

#endif
