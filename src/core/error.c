/* The names and messages of the internal error table. */
#include "error.h"

const char *pz_err_name(int err) {
  switch (err) {
#define PZ_ERR_NAME(name, val, msg)                                            \
  case val:                                                                    \
    return #name;
    PZ_ERRNO_MAP(PZ_ERR_NAME)
#undef PZ_ERR_NAME
  }
  return "unknown";
}

const char *pz_strerror(int err) {
  switch (err) {
#define PZ_ERR_MSG(name, val, msg)                                             \
  case val:                                                                    \
    return msg;
    PZ_ERRNO_MAP(PZ_ERR_MSG)
#undef PZ_ERR_MSG
  }
  return "unknown error";
}
