// timeit: runs commands round-robin (one run of each per round, order rotated
// every round) and prints one line per timed run:
//   name <TAB> round <TAB> start_ns <TAB> end_ns <TAB> wait_status <TAB> maxrss_kib <TAB> cpu_us
// start/end are CLOCK_MONOTONIC around posix_spawn .. wait4; maxrss is the largest
// process and cpu_us the user+system time of the whole tree the command waited for
// (wait4's rusage). Part of `npm run bench`.
//
//   timeit [--rounds N] [--warmup W] [--gap-ms G] SPECFILE
//
// SPECFILE: one command per line, TAB-separated:
//   name  stdout  stderr  env  argv0  argv1 ...
// stdout/stderr: "-" for /dev/null, "=" to inherit, else a file opened for append.
// env: "-" to inherit the environment as is, else "K=V;K=V" added to it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
  char *name, *out, *err;
  char **argv;
  char **envp;
};

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static char **split(char *s, const char *sep, int *n) {
  char **v = NULL;
  int k = 0;
  for (char *save = NULL, *t = strtok_r(s, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
    v = realloc(v, sizeof(char *) * (k + 2));
    v[k++] = t;
  }
  if (!v) v = calloc(1, sizeof(char *));
  v[k] = NULL;
  *n = k;
  return v;
}

static char **make_env(char *spec) {
  if (strcmp(spec, "-") == 0) return environ;
  int n, m = 0;
  char **extra = split(spec, ";", &n);
  while (environ[m]) m++;
  char **e = calloc(m + n + 1, sizeof(char *));
  int k = 0;
  for (int i = 0; i < m; i++) {
    int shadowed = 0;
    for (int j = 0; j < n; j++) {
      size_t l = strcspn(extra[j], "=");
      if (strncmp(environ[i], extra[j], l) == 0 && environ[i][l] == '=') shadowed = 1;
    }
    if (!shadowed) e[k++] = environ[i];
  }
  for (int j = 0; j < n; j++) e[k++] = extra[j];
  e[k] = NULL;
  return e;
}

static void redirect(posix_spawn_file_actions_t *fa, int fd, const char *spec) {
  if (strcmp(spec, "=") == 0) return;
  if (strcmp(spec, "-") == 0) posix_spawn_file_actions_addopen(fa, fd, "/dev/null", O_WRONLY, 0);
  else posix_spawn_file_actions_addopen(fa, fd, spec, O_WRONLY | O_CREAT | O_APPEND, 0644);
}

int main(int argc, char **argv) {
  int rounds = 10, warmup = 0, gap_ms = 0;
  const char *specfile = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--gap-ms") && i + 1 < argc) gap_ms = atoi(argv[++i]);
    else specfile = argv[i];
  }
  if (!specfile) {
    fprintf(stderr, "usage: timeit [--rounds N] [--warmup W] [--gap-ms G] SPECFILE\n");
    return 2;
  }
  FILE *f = fopen(specfile, "r");
  if (!f) {
    perror(specfile);
    return 2;
  }
  struct cmd *cmds = NULL;
  int ncmd = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    if (!len || line[0] == '#') continue;
    char *copy = strdup(line);
    int nf;
    char **fields = split(copy, "\t", &nf);
    if (nf < 5) {
      fprintf(stderr, "timeit: bad spec line: %s\n", line);
      return 2;
    }
    cmds = realloc(cmds, sizeof *cmds * (ncmd + 1));
    cmds[ncmd].name = fields[0];
    cmds[ncmd].out = fields[1];
    cmds[ncmd].err = fields[2];
    cmds[ncmd].envp = make_env(fields[3]);
    cmds[ncmd].argv = fields + 4;
    ncmd++;
  }
  fclose(f);
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int r = 0; r < warmup + rounds; r++) {
    for (int k = 0; k < ncmd; k++) {
      struct cmd *c = &cmds[(k + r) % ncmd];
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
      redirect(&fa, 1, c->out);
      redirect(&fa, 2, c->err);
      if (gap_ms) {
        struct timespec ts = {gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
      }
      pid_t pid;
      unsigned long long t0 = now_ns();
      int e = posix_spawnp(&pid, c->argv[0], &fa, NULL, c->argv, c->envp);
      if (e) {
        fprintf(stderr, "timeit: %s: %s\n", c->argv[0], strerror(e));
        return 1;
      }
      int st;
      struct rusage ru;
      while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
      unsigned long long t1 = now_ns();
      posix_spawn_file_actions_destroy(&fa);
      long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
      if (r >= warmup) printf("%s\t%d\t%llu\t%llu\t%d\t%ld\t%ld\n", c->name, r - warmup, t0, t1, st, ru.ru_maxrss, cpu_us);
    }
  }
  return 0;
}
