/* plaza-cli input lines (see command.h). */
#include "command.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char pz_cli_help[] =
    "commands: TEXT (chat) | /w ID TEXT | /move X Y Z [YAW] | /join ROOM |"
    " /leave | /who | /ping | /quit";

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

void pz_cli_parse(const char *line, size_t len, pz_cli_cmd_t *cmd) {
  const char *end = line + len, *p, *word;
  size_t wlen;

  memset(cmd, 0, sizeof(*cmd));
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
