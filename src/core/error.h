/*
 * Internal error codes: negative ints from one table that also names them
 * and gives each a message (libuv's UV_ERRNO_MAP habit). 0 is success;
 * PZ_EAGAIN ("would block / need more") is distinct from failure.
 */
#ifndef PZ_ERROR_H
#define PZ_ERROR_H

#define PZ_ERRNO_MAP(X)                                                        \
  X(EAGAIN, -1, "would block, try later")                                      \
  X(ENOMEM, -2, "out of memory")                                               \
  X(EINVAL, -3, "invalid argument")                                            \
  X(EFULL, -4, "queue full")                                                   \
  X(ECLOSED, -5, "closed")                                                     \
  X(EPROTO, -6, "protocol error")                                              \
  X(ETOOBIG, -7, "too big")                                                    \
  X(EIO, -8, "i/o error")                                                      \
  X(EABUSE, -9, "the peer abuses the protocol")                                \
  X(ENOTSUP, -10, "not supported here")

enum pz_errno {
#define PZ_ERR_ENUM(name, val, msg) PZ_##name = (val),
  PZ_ERRNO_MAP(PZ_ERR_ENUM)
#undef PZ_ERR_ENUM
};

/* Name ("EAGAIN") and message of an error code; "unknown" for others. */
const char *pz_err_name(int err);
const char *pz_strerror(int err);

#endif
