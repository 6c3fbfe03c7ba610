/*
 * The floor under a chat fan-out round: how long one small write to a loopback TCP socket
 * costs when nothing but a write loop runs in the writing process. Accepts N connections on
 * 127.0.0.1:PORT, then writes BYTES bytes to each of them PASSES times (a pause of 1 ms between
 * passes) and prints one JSON line: wall ms per pass, user and system µs per write.
 * Usage: write-floor N PORT BYTES PASSES   (the reader is bench/floor/reader.mjs)
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double usec(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

int main(int argc, char **argv) {
  if (argc != 5) return 2;
  int n = atoi(argv[1]), port = atoi(argv[2]), bytes = atoi(argv[3]), passes = atoi(argv[4]);
  int one = 1;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0) {
    perror("listen");
    return 1;
  }
  printf("{\"listening\":true}\n");
  fflush(stdout);
  int *fds = malloc(sizeof(int) * n);
  for (int i = 0; i < n; i++) {
    fds[i] = accept(ls, NULL, NULL);
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
  }
  char *buf = malloc(bytes);
  memset(buf, 'x', bytes);
  usleep(300000);
  struct rusage r0, r1;
  struct timespec t0, t1;
  long failed = 0;
  getrusage(RUSAGE_SELF, &r0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int p = 0; p < passes; p++) {
    for (int i = 0; i < n; i++)
      if (write(fds[i], buf, bytes) != bytes) failed++;
    usleep(1000);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  getrusage(RUSAGE_SELF, &r1);
  double writes = (double)n * passes;
  double wallMs = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / passes - 1.0;
  printf("{\"wallMsPerPass\":%.2f,\"userUsPerWrite\":%.3f,\"sysUsPerWrite\":%.3f,\"failed\":%ld}\n", wallMs,
         (usec(r1.ru_utime) - usec(r0.ru_utime)) / writes, (usec(r1.ru_stime) - usec(r0.ru_stime)) / writes, failed);
  return 0;
}
