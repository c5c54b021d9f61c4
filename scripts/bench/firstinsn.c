// firstinsn: the command of the benchmark's "first instruction" row. Its first
// action is to read CLOCK_MONOTONIC (the clock of dynod's traces) and print it in
// nanoseconds. Built with gcc -static so it runs in any dyno root. Part of `npm run bench`.
#include <stdio.h>
#include <time.h>

int main(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("%llu\n", (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
  return 0;
}
