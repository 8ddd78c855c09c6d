/*
 * plaza-cli input lines, sans-I/O: one typed line becomes one command.
 *
 *   text            CHAT text (a leading "//" sends a chat starting "/")
 *   /w ID text      WHISPER to session ID
 *   /move x y z [yaw]  MOVE (the caller numbers them)
 *   /join ROOM, /leave, /who, /ping, /quit, /help
 */
#ifndef PZ_CLI_COMMAND_H
#define PZ_CLI_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "plaza/codec.h"

enum pz_cli_cmd_kind {
  PZ_CMD_NONE, /* empty line */
  PZ_CMD_CHAT,
  PZ_CMD_WHISPER,
  PZ_CMD_MOVE,
  PZ_CMD_JOIN,
  PZ_CMD_LEAVE,
  PZ_CMD_WHO,
  PZ_CMD_PING,
  PZ_CMD_QUIT,
  PZ_CMD_HELP,
  PZ_CMD_BAD, /* unknown command or bad arguments: `error` says why */
};

typedef struct pz_cli_cmd {
  int kind;
  pz_str_t text;     /* CHAT, WHISPER: points into the line */
  pz_str_t room;     /* JOIN: points into the line */
  uint64_t to;       /* WHISPER */
  pz_pos_t pos;      /* MOVE */
  const char *error; /* BAD: static text */
} pz_cli_cmd_t;

/* Parses one line (len bytes, without its line end; a trailing CR is
 * dropped). Strings in *cmd borrow the line. */
void pz_cli_parse(const char *line, size_t len, pz_cli_cmd_t *cmd);

extern const char pz_cli_help[];

#endif
