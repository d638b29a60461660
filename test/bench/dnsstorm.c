/* DNS storm for test/bench/dns-storm.ts.
 *
 *   dnsstorm serve <port>                 answers every query on 127.0.0.1:<port> (one A record)
 *   dnsstorm query <port> <n> <procs> <tag>
 *       <procs> processes make <n> lookups in all, each as the C library's resolver does: a new UDP
 *       socket, connect(), send(), recv() of the answer, close(). Names are q<i>.<tag>. Prints one JSON
 *       line: {"pid":..., "n":..., "ok":..., "ns_per_op":...} (wall time per lookup over all processes).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int build_query(uint8_t *b, uint16_t id, const char *name)
{
	int p = 12;
	memset(b, 0, 12);
	b[0] = id >> 8;
	b[1] = id & 0xff;
	b[2] = 0x01; /* RD */
	b[5] = 1;    /* QDCOUNT */
	const char *s = name;
	while (*s) {
		const char *dot = strchr(s, '.');
		int n = dot ? (int)(dot - s) : (int)strlen(s);
		b[p++] = (uint8_t)n;
		memcpy(b + p, s, n);
		p += n;
		s += n + (dot ? 1 : 0);
	}
	b[p++] = 0;
	b[p++] = 0; b[p++] = 1; /* A */
	b[p++] = 0; b[p++] = 1; /* IN */
	return p;
}

static int serve(int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int big = 4 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	uint8_t b[1500];
	for (;;) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		ssize_t n = recvfrom(s, b, sizeof(b) - 16, 0, (struct sockaddr *)&peer, &pl);
		if (n < 12)
			continue;
		b[2] |= 0x80; /* QR */
		b[3] = 0x80;  /* RA, NOERROR */
		b[7] = 1;     /* ANCOUNT */
		uint8_t rr[16] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1 };
		memcpy(b + n, rr, sizeof(rr));
		sendto(s, b, n + sizeof(rr), 0, (struct sockaddr *)&peer, pl);
	}
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int worker(int port, int from, int to, const char *tag)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	struct timeval tv = { .tv_sec = 1 };
	int ok = 0;
	uint8_t q[300], r[1500];
	char name[256];
	for (int i = from; i < to; i++) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
			snprintf(name, sizeof(name), "q%d.%s", i, tag);
			int n = build_query(q, (uint16_t)i, name);
			if (send(s, q, n, 0) == n && recv(s, r, sizeof(r), 0) >= 12)
				ok++;
		}
		close(s);
	}
	return ok;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc < 6 || strcmp(argv[1], "query")) {
		fprintf(stderr, "usage: dnsstorm serve <port> | query <port> <n> <procs> <tag>\n");
		return 2;
	}
	int port = atoi(argv[2]), n = atoi(argv[3]), procs = atoi(argv[4]);
	const char *tag = argv[5];
	int pipes[64][2];
	if (procs < 1 || procs > 64)
		return 2;
	long long t0 = now_ns();
	for (int p = 0; p < procs; p++) {
		if (pipe(pipes[p]))
			return 1;
		if (fork() == 0) {
			int ok = worker(port, n * p / procs, n * (p + 1) / procs, tag);
			if (write(pipes[p][1], &ok, sizeof(ok)) != sizeof(ok))
				_exit(1);
			_exit(0);
		}
	}
	int ok = 0;
	for (int p = 0; p < procs; p++) {
		int k = 0;
		if (read(pipes[p][0], &k, sizeof(k)) == sizeof(k))
			ok += k;
		wait(NULL);
	}
	long long dt = now_ns() - t0;
	printf("{\"pid\":%d,\"n\":%d,\"ok\":%d,\"ns_per_op\":%lld}\n", getpid(), n, ok, dt / (n ? n : 1));
	return 0;
}
