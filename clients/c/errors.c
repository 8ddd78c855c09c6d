/* Names and messages of the client library's error table (client.h). */
#include "plaza/client.h"

const char *pz_client_err_name(int err) {
  switch (err) {
  case 0:
    return "OK";
#define PZ_CLIENT_ERR_NAME(name, val, msg)                                     \
  case val:                                                                    \
    return #name;
    PZ_CLIENT_ERRNO_MAP(PZ_CLIENT_ERR_NAME)
#undef PZ_CLIENT_ERR_NAME
  }
  return "unknown";
}

const char *pz_client_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define PZ_CLIENT_ERR_MSG(name, val, msg)                                      \
  case val:                                                                    \
    return msg;
    PZ_CLIENT_ERRNO_MAP(PZ_CLIENT_ERR_MSG)
#undef PZ_CLIENT_ERR_MSG
  }
  return "unknown error";
}
