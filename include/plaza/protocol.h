/*
 * plaza wire protocol v1: op codes, error codes, close codes and limits.
 *
 * This header is the C form of docs/protocol.md, shared by the server, the
 * client library, the bench and the tests. Numbers here are the public
 * contract: add, never renumber.
 */
#ifndef PLAZA_PROTOCOL_H
#define PLAZA_PROTOCOL_H

#define PZ_PROTOCOL_VERSION 1
#define PZ_WS_SUBPROTOCOL "plaza.v1"
#define PZ_WS_PATH "/ws"

/* Client -> server ops. */
enum pz_client_op {
  PZ_C_HELLO = 1,
  PZ_C_JOIN = 2,
  PZ_C_LEAVE = 3,
  PZ_C_MOVE = 4,
  PZ_C_CHAT = 5,
  PZ_C_WHISPER = 6,
  PZ_C_PING = 7,
  /* protocol 1.1 (see the features of WELCOME) */
  PZ_C_SET = 8,       /* [8, patch]: change this member's state */
  PZ_C_SIGNAL = 9,    /* [9, to, kind, data]: an app-defined message */
  PZ_C_ROOM_SET = 10, /* [10, key, value, if_version?]: one room state key */
  PZ_C_VIEW = 11,     /* [11, options]: what positions this client gets */
};

/* Server -> client ops. */
enum pz_server_op {
  PZ_S_WELCOME = 1,
  PZ_S_ROOM = 2,
  PZ_S_JOINED = 3,
  PZ_S_LEFT = 4,
  PZ_S_STATE = 5,
  PZ_S_CHAT = 6,
  PZ_S_WHISPER = 7,
  PZ_S_PONG = 8,
  PZ_S_ERROR = 9,
  /* protocol 1.1 */
  PZ_S_MEMBER = 10,     /* [10, id, patch] */
  PZ_S_SIGNAL = 11,     /* [11, from_id, name, kind, data, ts_ms] */
  PZ_S_ROOM_STATE = 12, /* [12, key, value, version, by_id] */
  PZ_S_AWAY = 13,       /* [13, [id, ...]]: members that left the view */
  PZ_S_STATE_C = 14,    /* [14, tick, n, entries]: compact STATE */
};

/* ERROR op codes. */
enum pz_error_code {
  PZ_ERR_BAD_MESSAGE = 1,
  PZ_ERR_UNKNOWN_OP = 2,
  PZ_ERR_NOT_IN_ROOM = 3,
  PZ_ERR_RATE_LIMITED = 4,
  PZ_ERR_ROOM_FULL = 5,
  PZ_ERR_INVALID_ARGUMENT = 6,
  PZ_ERR_NOT_FOUND = 7,
  PZ_ERR_FORBIDDEN =
      8, /* JOIN of a room the JWT's rooms claim does not allow */
  PZ_ERR_SESSION_EXPIRED = 9,
  PZ_ERR_OVERLOADED = 10,
  PZ_ERR_MOVE_REJECTED = 11,
  PZ_ERR_CONFLICT = 12, /* ROOM_SET: [9, 12, message, 10, key, version] */
};

/* WELCOME's `features` (protocol 1.1): what this end speaks beyond v1. The
 * codec writes and reads them as strings; in C they are bits. */
enum pz_feature {
  PZ_FEATURE_STATE = 1 << 0,      /* "state": HELLO state, SET, MEMBER */
  PZ_FEATURE_SIGNAL = 1 << 1,     /* "signal": SIGNAL both ways */
  PZ_FEATURE_ROOM_STATE = 1 << 2, /* "room_state": ROOM_SET, ROOM_STATE */
  PZ_FEATURE_VIEW = 1 << 3,       /* "view": VIEW radius, AWAY */
  PZ_FEATURE_COMPACT = 1 << 4,    /* "compact": VIEW compact, STATE_C */
};

/* WebSocket close codes. */
enum pz_close_code {
  PZ_CLOSE_NORMAL = 1000,
  PZ_CLOSE_GOING_AWAY = 1001,
  PZ_CLOSE_PROTOCOL_ERROR = 1002,
  PZ_CLOSE_UNSUPPORTED_DATA = 1003,
  PZ_CLOSE_TOO_BIG = 1009,
  PZ_CLOSE_INTERNAL_ERROR = 1011,
  PZ_CLOSE_HELLO_EXPECTED = 4000,
  PZ_CLOSE_UNAUTHORIZED = 4001,
  PZ_CLOSE_MALFORMED = 4002,
  PZ_CLOSE_KICKED = 4003,
  PZ_CLOSE_SLOW_CONSUMER = 4004,
};

/* Fixed limits of the contract (configurable ones live in the config). */
#define PZ_ROOM_NAME_MAX 64          /* bytes of [A-Za-z0-9._:-] */
#define PZ_NAME_MAX 32               /* bytes of UTF-8 */
#define PZ_CHAT_TEXT_MAX 500         /* bytes of UTF-8 */
#define PZ_CHAT_HISTORY 50           /* chat messages a room keeps */
#define PZ_ID_MAX ((1ull << 53) - 1) /* ids stay exact in JavaScript */
#define PZ_SESSION_TOKEN_MAX 64      /* bytes of a session token */
#define PZ_TOKEN_MAX 4096            /* bytes of an auth token (JWT) */
/* protocol 1.1: app values are any MessagePack value, kept as its bytes. */
#define PZ_STATE_KEY_MAX 32   /* bytes of UTF-8 of a member state key */
#define PZ_SIGNAL_KIND_MAX 32 /* bytes of UTF-8 of a SIGNAL kind */
#define PZ_ROOM_KEY_MAX 64    /* bytes of UTF-8 of a room state key */
/* Containers (arrays, maps) nested within one app value: [[1]] is 2. */
#define PZ_VALUE_DEPTH_MAX 16
/* VIEW: a member leaves a view past this many times its radius. */
#define PZ_VIEW_HYSTERESIS 1.25
/* STATE_C (docs/protocol.md, "Compact positions"): coordinates travel in
 * units of 1/64, yaw in units of 1/256; a short id (the index a member has
 * in this connection's room) is below PZ_COMPACT_IDX_MAX. */
#define PZ_COMPACT_POS_SCALE 64
#define PZ_COMPACT_YAW_SCALE 256
#define PZ_COMPACT_IDX_MAX (1u << 20)

#endif
