/*
 * One line per notable event to stderr: time, level, thread tag, message.
 * The level is set once at start-up (before threads) and only read after.
 */
#ifndef PZ_LOG_H
#define PZ_LOG_H

enum pz_log_level {
  PZ_LOG_ERROR = 0,
  PZ_LOG_WARN = 1,
  PZ_LOG_INFO = 2,
  PZ_LOG_DEBUG = 3
};

/* Parses "error|warn|info|debug"; returns the level or -1. */
int pz_log_level_parse(const char *s);
/* Called once by main before any thread starts. */
void pz_log_set_level(enum pz_log_level level);
int pz_log_enabled(enum pz_log_level level);

void pz_log(enum pz_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define PZ_LOG(level, ...)                                                     \
  do {                                                                         \
    if (pz_log_enabled(level))                                                 \
      pz_log(level, __VA_ARGS__);                                              \
  } while (0)
#define pz_error(...) PZ_LOG(PZ_LOG_ERROR, __VA_ARGS__)
#define pz_warn(...) PZ_LOG(PZ_LOG_WARN, __VA_ARGS__)
#define pz_info(...) PZ_LOG(PZ_LOG_INFO, __VA_ARGS__)
#define pz_debug(...) PZ_LOG(PZ_LOG_DEBUG, __VA_ARGS__)

#endif
