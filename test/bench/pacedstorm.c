// SPDX-License-Identifier: Apache-2.0
/* Paced workload for the throughput ladder: PROCS worker processes together perform RATE operations
 * per second (0: as fast as they can) for SECONDS, in 1 ms slots (each worker does its share of a
 * slot, then sleeps until the next one; a worker that falls behind catches up without sleeping).
 * Operations: exec (fork + execve("/bin/true") + waitpid), open (open(ARG) + close), connect (TCP
 * connect to 127.0.0.1:ARG + close with RST; the listener is this process's own thread), getppid.
 * Prints {"pid":P} first and waits for a line on stdin, so a tracer can be set up for P (the workers'
 * parent); then prints {"pid":P,"ops":N,"seconds":S,"rate":R}.
 * Usage: pacedstorm exec|open|connect|getppid RATE SECONDS PROCS [ARG] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int port;

static void *acceptor(void *arg)
{
	int l = *(int *)arg;
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

static int op(const char *mode, const char *arg)
{
	if (mode[0] == 'e') {
		pid_t p = fork();
		if (p == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		int st = 0;
		return p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	if (mode[0] == 'o') {
		int fd = open(arg, O_RDONLY);
		if (fd < 0)
			return 0;
		close(fd);
		return 1;
	}
	if (mode[0] == 'c') {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
		struct linger lg = { 1, 0 };
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(s);
		return ok;
	}
	getppid();
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: pacedstorm exec|open|connect|getppid RATE SECONDS PROCS [ARG]\n");
		return 2;
	}
	const char *mode = argv[1], *arg = argc > 5 ? argv[5] : "";
	double rate = atof(argv[2]), seconds = atof(argv[3]);
	int procs = atoi(argv[4]);
	if (procs < 1)
		procs = 1;
	if (mode[0] == 'c') {
		int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(arg)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4096)) {
			perror("listen");
			return 1;
		}
		port = atoi(arg);
		static int lfd;
		lfd = l;
		pthread_t t;
		pthread_create(&t, NULL, acceptor, &lfd);
	}
	long *counts = mmap(NULL, sizeof(long) * procs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("{\"pid\":%d}\n", getpid());
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	double t0 = now_s();
	for (int w = 0; w < procs; w++) {
		if (fork() == 0) {
			double per_slot = rate / procs / 1000.0, owed = 0;
			long n = 0;
			double start = now_s();
			for (;;) {
				double t = now_s() - start;
				if (t >= seconds)
					break;
				if (rate <= 0) {
					for (int i = 0; i < 64; i++)
						n += op(mode, arg);
					continue;
				}
				double due = (t * 1000.0 + 1) * per_slot;
				while (owed < due) {
					n += op(mode, arg);
					owed += 1;
				}
				double next = (double)((long)(t * 1000.0) + 1) / 1000.0;
				double wait = next - (now_s() - start);
				if (wait > 0) {
					struct timespec ts = { 0, (long)(wait * 1e9) };
					nanosleep(&ts, NULL);
				}
			}
			counts[w] = n;
			_exit(0);
		}
	}
	for (int w = 0; w < procs; w++)
		wait(NULL);
	double el = now_s() - t0;
	long total = 0;
	for (int w = 0; w < procs; w++)
		total += counts[w];
	printf("{\"pid\":%d,\"ops\":%ld,\"seconds\":%.3f,\"rate\":%.1f}\n", getpid(), total, el, total / el);
	return 0;
}
