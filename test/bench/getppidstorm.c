// SPDX-License-Identifier: Apache-2.0
/* getppid() storm for the ring-buffer benchmark (bpf/bench/ringbench.bpf.c traces sys_enter_getppid).
 * Prints {"pid":P} and waits for one line on stdin (the driver loads the BPF program in between, with
 * P as its filter), then forks NPROCS workers that call getppid() in a tight loop for SECONDS each
 * and prints {"pid":P,"nprocs":K,"calls":C,"seconds":S,"calls_per_s":R}. S is the wall time from
 * the start signal to the last worker's exit.
 * Usage: getppidstorm SECONDS NPROCS */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define MAX_PROCS 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3;
	int nprocs = argc > 2 ? atoi(argv[2]) : 1;
	char line[64];

	if (seconds <= 0 || nprocs < 1 || nprocs > MAX_PROCS) {
		fprintf(stderr, "usage: getppidstorm SECONDS NPROCS (1..%d)\n", MAX_PROCS);
		return 2;
	}
	/* One counter per worker, 64 bytes apart, shared with the parent. */
	volatile unsigned long *counts = mmap(NULL, MAX_PROCS * 64, PROT_READ | PROT_WRITE,
					      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("{\"pid\":%d}\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1; /* the driver went away */

	double t0 = now_s();
	for (int w = 0; w < nprocs; w++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			double end = now_s() + seconds;
			unsigned long n = 0;
			do {
				/* The raw syscall: glibc could cache getppid() some day. */
				for (int i = 0; i < 64; i++)
					syscall(SYS_getppid);
				n += 64;
			} while (now_s() < end);
			counts[w * 8] = n;
			_exit(0);
		}
	}
	for (int w = 0; w < nprocs; w++)
		wait(NULL);
	double t1 = now_s();
	unsigned long calls = 0;
	for (int w = 0; w < nprocs; w++)
		calls += counts[w * 8];
	printf("{\"pid\":%d,\"nprocs\":%d,\"calls\":%lu,\"seconds\":%.6f,\"calls_per_s\":%.0f}\n",
	       (int)getpid(), nprocs, calls, t1 - t0, calls / (t1 - t0));
	return 0;
}
