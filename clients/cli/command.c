/* plaza-cli input lines (see command.h). */
#include "command.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plaza/json.h"
#include "plaza/protocol.h"

const char pz_cli_help[] =
    "commands: TEXT (chat) | /w ID TEXT | /move X Y Z [YAW] | /join ROOM |"
    " /leave | /who | /ping | /quit | /state KEY=VALUE... |"
    " /signal [@ID] KIND [JSON] | /roomset KEY JSON [VERSION]";

static bool word_is(const char *p, size_t n, const char *w) {
  return n == strlen(w) && memcmp(p, w, n) == 0;
}

static const char *skip_spaces(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p;
}

static bool parse_floats(const char *p, const char *end, float *out, int min,
                         int max, int *count) {
  char buf[256];
  char *q, *next;
  size_t n = (size_t)(end - p);
  int i = 0;

  if (n >= sizeof(buf))
    return false;
  memcpy(buf, p, n);
  buf[n] = '\0';
  q = buf;
  for (;;) {
    while (*q == ' ' || *q == '\t')
      q++;
    if (*q == '\0')
      break;
    if (i == max)
      return false;
    errno = 0;
    double v = strtod(q, &next);
    if (next == q || errno != 0 || !isfinite(v) ||
        (*next != '\0' && *next != ' ' && *next != '\t'))
      return false;
    out[i++] = (float)v;
    q = next;
  }
  *count = i;
  return i >= min;
}

/* ---- app values ----------------------------------------------------------
 * Values are JSON; what is not (a bare word) is a string. */

/* One JSON value from p (at most `len` bytes), its length in *used, or
 * NULL when the bytes do not start one. */
static json_t *json_at(const char *p, size_t len, size_t *used) {
  json_error_t err;
  json_t *j =
      json_loadb(p, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &err);
  if (j != NULL)
    *used = (size_t)err.position;
  return j;
}

static const char *word_end(const char *p, const char *end) {
  while (p < end && *p != ' ' && *p != '\t')
    p++;
  return p;
}

/* Packs the value at p: a JSON value followed by a space or the end (with
 * `whole`, by nothing but spaces), or else one bare word as a string.
 * Returns where it ends, or NULL when it is neither (or nests too deep). */
static const char *pack_value(msgpack_packer *pk, const char *p,
                              const char *end, bool whole) {
  size_t used = 0;
  json_t *j = json_at(p, (size_t)(end - p), &used);
  const char *after = j != NULL ? p + used : p;
  bool ends = after == end || *after == ' ' || *after == '\t';
  if (j == NULL || !ends || (whole && skip_spaces(after, end) != end)) {
    json_decref(j);
    after = word_end(p, end);
    if (whole && skip_spaces(after, end) != end)
      return NULL; /* several words that are not one JSON value */
    msgpack_pack_str_with_body(pk, p, (size_t)(after - p));
    return after;
  }
  int r = pz_mpjson_pack(pk, j, PZ_VALUE_DEPTH_MAX);
  json_decref(j);
  return r == 0 ? after : NULL;
}

/* /state KEY=VALUE ...: a map of the pairs (KEY= alone: nil). */
static const char *parse_state(const char *p, const char *end,
                               pz_cli_cmd_t *cmd) {
  msgpack_sbuffer pairs;
  msgpack_packer pk;
  uint32_t n = 0;
  const char *why = NULL;

  msgpack_sbuffer_init(&pairs);
  msgpack_packer_init(&pk, &pairs, msgpack_sbuffer_write);
  while (why == NULL && (p = skip_spaces(p, end)) < end) {
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (eq == NULL || eq == p || word_end(p, eq) != eq) {
      why = "usage: /state KEY=VALUE ... (VALUE JSON or a word; empty "
            "deletes)";
      break;
    }
    msgpack_pack_str_with_body(&pk, p, (size_t)(eq - p));
    p = eq + 1;
    if (p == end || *p == ' ' || *p == '\t')
      msgpack_pack_nil(&pk);
    else if ((p = pack_value(&pk, p, end, false)) == NULL)
      why = "/state: a value nests too deep";
    n++;
  }
  if (why == NULL && n == 0)
    why = "usage: /state KEY=VALUE ...";
  if (why == NULL) {
    msgpack_packer_init(&pk, &cmd->buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    msgpack_sbuffer_write(&cmd->buf, pairs.data, pairs.size);
  }
  msgpack_sbuffer_destroy(&pairs);
  return why;
}

/* /signal [@ID] KIND [JSON] */
static const char *parse_signal(const char *p, const char *end,
                                pz_cli_cmd_t *cmd) {
  msgpack_packer pk;
  const char *usage = "usage: /signal [@ID] KIND [JSON]";
  cmd->to_room = true;
  if (p < end && *p == '@') {
    char *num_end;
    errno = 0;
    cmd->to = strtoull(p + 1, &num_end, 10);
    if (num_end == p + 1 || errno != 0 || num_end != word_end(p, end))
      return usage;
    cmd->to_room = false;
    p = skip_spaces(num_end, end);
  }
  const char *kind = p;
  p = word_end(p, end);
  if (p == kind)
    return usage;
  cmd->text = (pz_str_t){kind, (uint32_t)(p - kind)};
  p = skip_spaces(p, end);
  msgpack_packer_init(&pk, &cmd->buf, msgpack_sbuffer_write);
  if (p == end)
    msgpack_pack_nil(&pk);
  else if (pack_value(&pk, p, end, true) == NULL)
    return "/signal: the data is not one JSON value (or nests too deep)";
  return NULL;
}

/* /roomset KEY JSON [VERSION]: a last word of digits after a whole JSON
 * value is the version. */
static const char *parse_room_set(const char *p, const char *end,
                                  pz_cli_cmd_t *cmd) {
  msgpack_packer pk;
  const char *key = p, *last;
  p = word_end(p, end);
  if (p == key || (p = skip_spaces(p, end)) == end)
    return "usage: /roomset KEY JSON [VERSION] (null deletes)";
  cmd->text = (pz_str_t){key, (uint32_t)(word_end(key, end) - key)};
  for (last = end; last > p && last[-1] >= '0' && last[-1] <= '9'; last--)
    ;
  if (last < end && last > p && (last[-1] == ' ' || last[-1] == '\t')) {
    const char *vend = last;
    while (vend > p && (vend[-1] == ' ' || vend[-1] == '\t'))
      vend--;
    size_t used = 0;
    json_t *j = json_at(p, (size_t)(vend - p), &used);
    if (j != NULL && p + used == vend) {
      char *num_end;
      errno = 0;
      cmd->version = strtoull(last, &num_end, 10);
      cmd->has_version = errno == 0;
      msgpack_packer_init(&pk, &cmd->buf, msgpack_sbuffer_write);
      int r = pz_mpjson_pack(&pk, j, PZ_VALUE_DEPTH_MAX);
      json_decref(j);
      return r == 0 && cmd->has_version ? NULL : "/roomset: bad value";
    }
    json_decref(j);
  }
  msgpack_packer_init(&pk, &cmd->buf, msgpack_sbuffer_write);
  if (pack_value(&pk, p, end, true) == NULL)
    return "/roomset: the value is not one JSON value (or nests too deep)";
  return NULL;
}

void pz_cli_cmd_dispose(pz_cli_cmd_t *cmd) {
  msgpack_sbuffer_destroy(&cmd->buf);
}

void pz_cli_parse(const char *line, size_t len, pz_cli_cmd_t *cmd) {
  const char *end = line + len, *p, *word;
  size_t wlen;

  memset(cmd, 0, sizeof(*cmd));
  msgpack_sbuffer_init(&cmd->buf);
  if (len > 0 && line[len - 1] == '\r')
    end--;
  if (line == end) {
    cmd->kind = PZ_CMD_NONE;
    return;
  }
  if (line[0] != '/' || (end - line >= 2 && line[1] == '/')) {
    const char *text = line[0] == '/' ? line + 1 : line;
    cmd->kind = PZ_CMD_CHAT;
    cmd->text = (pz_str_t){text, (uint32_t)(end - text)};
    return;
  }
  word = line + 1;
  for (p = word; p < end && *p != ' ' && *p != '\t'; p++)
    ;
  wlen = (size_t)(p - word);
  p = skip_spaces(p, end);

  cmd->kind = PZ_CMD_BAD;
  if (word_is(word, wlen, "w")) {
    char num[24];
    const char *id = p;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
    size_t n = (size_t)(p - id);
    if (n == 0 || n >= sizeof(num) || p == end || (*p != ' ' && *p != '\t')) {
      cmd->error = "usage: /w ID TEXT";
      return;
    }
    memcpy(num, id, n);
    num[n] = '\0';
    p = skip_spaces(p, end);
    if (p == end) {
      cmd->error = "usage: /w ID TEXT";
      return;
    }
    cmd->kind = PZ_CMD_WHISPER;
    cmd->to = strtoull(num, NULL, 10);
    cmd->text = (pz_str_t){p, (uint32_t)(end - p)};
  } else if (word_is(word, wlen, "move")) {
    float v[4] = {0, 0, 0, 0};
    int n = 0;
    if (!parse_floats(p, end, v, 3, 4, &n)) {
      cmd->error = "usage: /move X Y Z [YAW] (finite numbers)";
      return;
    }
    cmd->kind = PZ_CMD_MOVE;
    cmd->pos = (pz_pos_t){v[0], v[1], v[2], v[3]};
  } else if (word_is(word, wlen, "state") || word_is(word, wlen, "signal") ||
             word_is(word, wlen, "roomset")) {
    const char *why = word[1] == 't'   ? parse_state(p, end, cmd)
                      : word[1] == 'i' ? parse_signal(p, end, cmd)
                                       : parse_room_set(p, end, cmd);
    if (why != NULL) {
      cmd->error = why;
      return;
    }
    cmd->kind = word[1] == 't'   ? PZ_CMD_STATE
                : word[1] == 'i' ? PZ_CMD_SIGNAL
                                 : PZ_CMD_ROOM_SET;
    cmd->value = (pz_raw_t){cmd->buf.data, (uint32_t)cmd->buf.size};
  } else if (word_is(word, wlen, "join")) {
    const char *room = p;
    while (p < end && *p != ' ' && *p != '\t')
      p++;
    if (p == room || skip_spaces(p, end) != end) {
      cmd->error = "usage: /join ROOM";
      return;
    }
    cmd->kind = PZ_CMD_JOIN;
    cmd->room = (pz_str_t){room, (uint32_t)(p - room)};
  } else {
    static const struct {
      const char *word;
      int kind;
    } bare[] = {{"leave", PZ_CMD_LEAVE},
                {"who", PZ_CMD_WHO},
                {"ping", PZ_CMD_PING},
                {"quit", PZ_CMD_QUIT},
                {"help", PZ_CMD_HELP}};
    for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
      if (word_is(word, wlen, bare[i].word)) {
        if (p != end)
          cmd->error = "unexpected arguments";
        else
          cmd->kind = bare[i].kind;
        return;
      }
    }
    cmd->error = "unknown command (/help lists them)";
  }
}
