// SPDX-License-Identifier: Apache-2.0
/* Open storm: N times open(PATH, O_RDONLY) + close, timed with CLOCK_MONOTONIC around the loop.
 * Prints one JSON line: {"pid":P,"n":N,"ok":K,"ns_per_op":X}; `ok` counts opens that succeeded.
 * Usage: openstorm N PATH */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: openstorm N PATH\n");
		return 2;
	}
	long n = atol(argv[1]), ok = 0;
	const char *path = argv[2];
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);
		if (fd >= 0) {
			ok++;
			close(fd);
		}
	}
	double t1 = now_ns();
	printf("{\"pid\":%d,\"n\":%ld,\"ok\":%ld,\"ns_per_op\":%.1f}\n", getpid(), n, ok, (t1 - t0) / n);
	return 0;
}
