/*
 * What the bench reads about processes: the server's CPU, RSS and
 * read/write syscall counts from /proc (--server-pid), its own CPU from
 * getrusage, and the open-file limit it raises at start.
 */
#ifndef PZ_BENCH_SYSMON_H
#define PZ_BENCH_SYSMON_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pz_proc_sample {
  bool ok;
  double cpu_s;   /* utime + stime */
  int64_t rss_kb; /* VmRSS, -1 when unknown */
  /* syscr, syscw of /proc/PID/io: read and write syscalls so far, all
   * threads; -1 when unknown. The kernel counts read/readv/write/writev
   * (and pread, pwrite, ...) but not recv/recvmsg/send/sendmsg. */
  int64_t syscr, syscw;
} pz_proc_sample_t;

/* Reads /proc/PID/stat (utime, stime), /proc/PID/status (VmRSS) and
 * /proc/PID/io (syscr, syscw). ok false when the process is gone or its
 * stat unreadable; the other figures may be unknown on their own. */
pz_proc_sample_t pz_sysmon_proc(int pid);

/* syscr and syscw from the text of a /proc/PID/io; each is left -1 when
 * its line is missing. */
void pz_sysmon_parse_io(const char *text, int64_t *syscr, int64_t *syscw);

/* CPU seconds (user + system) of the calling thread / of this process. */
double pz_sysmon_thread_cpu(void);
double pz_sysmon_self_cpu(void);

/* Raises the soft RLIMIT_NOFILE to the hard limit, after trying to raise
 * both to `want` when the hard limit is lower (only a privileged process
 * may). Returns the soft limit now in force; *hard gets the hard one. */
uint64_t pz_sysmon_raise_nofile(uint64_t want, uint64_t *hard);

#endif
