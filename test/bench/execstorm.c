// SPDX-License-Identifier: Apache-2.0
/* Exec storm: N times fork + execve("/bin/true") + waitpid, timed with CLOCK_MONOTONIC around the loop.
 * Prints one JSON line: {"pid":P,"n":N,"ok":K,"ns_per_op":X}; `ok` counts children that exited 0.
 * Usage: execstorm N */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	char *child_argv[] = { "true", NULL };
	long ok = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: execstorm N\n");
		return 2;
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execve("/bin/true", child_argv, environ);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	double t1 = now_ns();
	printf("{\"pid\":%d,\"n\":%ld,\"ok\":%ld,\"ns_per_op\":%.0f}\n", (int)getpid(), n, ok, (t1 - t0) / n);
	return ok == n ? 0 : 1;
}
