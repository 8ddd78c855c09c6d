/* Room names (see room.h). */
#include "room.h"

bool pz_room_name_valid(const char *name, size_t len) {
  if (len < 1 || len > PZ_ROOM_NAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
          c == '-'))
      return false;
  }
  return true;
}
