/*
 * plaza-cli input lines, sans-I/O: one typed line becomes one command.
 *
 *   text            CHAT text (a leading "//" sends a chat starting "/")
 *   /w ID text      WHISPER to session ID
 *   /move x y z [yaw]  MOVE (the caller numbers them)
 *   /state KEY=VALUE ...   SET: each VALUE is JSON, else a bare word is a
 *                   string; KEY= (nothing) or KEY=null deletes the key
 *   /signal [@ID] KIND [JSON]  SIGNAL to the room, or to session ID
 *   /roomset KEY JSON [VERSION]  ROOM_SET, compare-and-set with VERSION
 *   /join ROOM, /leave, /who, /ping, /quit, /help
 *
 * App values are read as JSON (jansson) and written as MessagePack into
 * the command's own buffer.
 */
#ifndef PZ_CLI_COMMAND_H
#define PZ_CLI_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

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
  PZ_CMD_STATE,
  PZ_CMD_SIGNAL,
  PZ_CMD_ROOM_SET,
  PZ_CMD_BAD, /* unknown command or bad arguments: `error` says why */
};

typedef struct pz_cli_cmd {
  int kind;
  pz_str_t text;       /* CHAT, WHISPER; SIGNAL's kind, ROOM_SET's key */
  pz_str_t room;       /* JOIN: points into the line */
  uint64_t to;         /* WHISPER, SIGNAL (to_room false) */
  bool to_room;        /* SIGNAL without @ID */
  bool has_version;    /* ROOM_SET: a VERSION was given */
  uint64_t version;    /* ROOM_SET */
  pz_pos_t pos;        /* MOVE */
  pz_raw_t value;      /* STATE's patch, SIGNAL's data, ROOM_SET's value */
  const char *error;   /* BAD: static text */
  msgpack_sbuffer buf; /* where `value` lies */
} pz_cli_cmd_t;

/* Parses one line (len bytes, without its line end; a trailing CR is
 * dropped). Strings in *cmd borrow the line; `value` borrows cmd->buf,
 * which pz_cli_cmd_dispose() frees. */
void pz_cli_parse(const char *line, size_t len, pz_cli_cmd_t *cmd);
void pz_cli_cmd_dispose(pz_cli_cmd_t *cmd);

extern const char pz_cli_help[];

#endif
