// SPDX-License-Identifier: Apache-2.0
/* Connect storm: N times socket + connect to a loopback listener + accept + close (the client closes
 * with an RST, SO_LINGER 0, so no TIME_WAIT piles up), timed with CLOCK_MONOTONIC around the loop.
 * Prints one JSON line: {"pid":P,"n":N,"ok":K,"ns_per_op":X}. Usage: connstorm N PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
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
		fprintf(stderr, "usage: connstorm N PORT\n");
		return 2;
	}
	long n = atol(argv[1]), ok = 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 128)) {
		perror("listen");
		return 1;
	}
	struct linger lg = { 1, 0 };
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) {
			int s = accept(l, NULL, NULL);
			if (s >= 0) {
				ok++;
				close(s);
			}
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
	}
	double t1 = now_ns();
	printf("{\"pid\":%d,\"n\":%ld,\"ok\":%ld,\"ns_per_op\":%.1f}\n", getpid(), n, ok, (t1 - t0) / n);
	return 0;
}
