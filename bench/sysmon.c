/* Process figures from /proc and getrusage (see sysmon.h). */
#define _GNU_SOURCE
#include "sysmon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

pz_proc_sample_t pz_sysmon_proc(int pid) {
  pz_proc_sample_t s = {
      .ok = false, .cpu_s = 0, .rss_kb = -1, .syscr = -1, .syscw = -1};
  char path[64], buf[2048];
  FILE *f;
  size_t n;

  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  if ((f = fopen(path, "r")) == NULL)
    return s;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: fields start after
   * the last ')'. utime and stime are fields 14 and 15 (1-based). */
  char *p = strrchr(buf, ')');
  if (p == NULL)
    return s;
  unsigned long long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    return s;
  long hz = sysconf(_SC_CLK_TCK);
  s.cpu_s = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
  s.ok = true;

  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  if ((f = fopen(path, "r")) != NULL) {
    char line[256];
    while (fgets(line, sizeof(line), f)) {
      long long kb;
      if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) {
        s.rss_kb = kb;
        break;
      }
    }
    fclose(f);
  }

  snprintf(path, sizeof(path), "/proc/%d/io", pid);
  if ((f = fopen(path, "r")) != NULL) {
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    pz_sysmon_parse_io(buf, &s.syscr, &s.syscw);
  }
  return s;
}

void pz_sysmon_parse_io(const char *text, int64_t *syscr, int64_t *syscw) {
  *syscr = *syscw = -1;
  for (const char *p = text; p != NULL && *p; p = strchr(p, '\n')) {
    long long v;
    if (*p == '\n')
      p++;
    if (sscanf(p, "syscr: %lld", &v) == 1)
      *syscr = v;
    else if (sscanf(p, "syscw: %lld", &v) == 1)
      *syscw = v;
  }
}

static double ru_cpu(int who) {
  struct rusage ru;
  if (getrusage(who, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double pz_sysmon_thread_cpu(void) {
  return ru_cpu(RUSAGE_THREAD);
}

double pz_sysmon_self_cpu(void) {
  return ru_cpu(RUSAGE_SELF);
}

uint64_t pz_sysmon_raise_nofile(uint64_t want, uint64_t *hard) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (want > rl.rlim_max) {
    /* Root (CAP_SYS_RESOURCE) may raise the hard limit; others fail. */
    struct rlimit up = {want, want};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
      *hard = want;
      return want;
    }
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  *hard = rl.rlim_max;
  return rl.rlim_cur;
}
