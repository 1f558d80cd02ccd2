/*
 * Minimal vhost-user front-end for the round-trip baseline (bench/run.ts).
 * Connects to a UNIX socket and does GET_FEATURES round trips: a 12-byte
 * header (request 1, flags 0x1 = version 1, size 0) sent with a blocking
 * sendmsg, the 20-byte reply (header + u64) read with blocking recvmsg.
 *
 * Usage: rtt_client SOCKET [N] [WARMUP]
 * Prints one line: median_us=<m> rate=<round trips/s over the timed loop> n=<N>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int round_trip(int fd) {
  uint32_t hdr[3] = {1u /* GET_FEATURES */, 0x1u /* version 1 */, 0u};
  struct iovec iov = {.iov_base = hdr, .iov_len = sizeof hdr};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof hdr) return -1;
  unsigned char reply[20];
  size_t got = 0;
  while (got < sizeof reply) {
    struct iovec riov = {.iov_base = reply + got, .iov_len = sizeof reply - got};
    struct msghdr rmh = {.msg_iov = &riov, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &rmh, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  uint32_t req, flags;
  memcpy(&req, reply, 4);
  memcpy(&flags, reply + 4, 4);
  if (req != 1u || !(flags & 0x4u)) return -1; /* must be a reply to GET_FEATURES */
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SOCKET [N] [WARMUP]\n", argv[0]);
    return 2;
  }
  long n = argc > 2 ? atol(argv[2]) : 10000;
  long warm = argc > 3 ? atol(argv[3]) : 1000;
  if (n <= 0 || warm < 0) return 2;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof sa.sun_path) {
    fprintf(stderr, "socket path too long\n");
    return 2;
  }
  strcpy(sa.sun_path, argv[1]);
  /* The back-end may still be finishing the previous session: retry briefly. */
  int connected = 0;
  for (int i = 0; i < 200 && !connected; i++) {
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) connected = 1;
    else usleep(10000);
  }
  if (!connected) {
    perror("connect");
    return 1;
  }
  for (long i = 0; i < warm; i++)
    if (round_trip(fd)) {
      fprintf(stderr, "round trip failed during warm-up\n");
      return 1;
    }
  double *s = malloc(sizeof(double) * (size_t)n);
  if (!s) return 1;
  double start = now_ns();
  for (long i = 0; i < n; i++) {
    double t0 = now_ns();
    if (round_trip(fd)) {
      fprintf(stderr, "round trip %ld failed\n", i);
      return 1;
    }
    s[i] = now_ns() - t0;
  }
  double total = now_ns() - start;
  close(fd);
  qsort(s, (size_t)n, sizeof(double), cmp_double);
  double median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  printf("median_us=%.3f rate=%.1f n=%ld\n", median / 1000.0, (double)n / (total / 1e9), n);
  free(s);
  return 0;
}
