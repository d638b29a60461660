/* A workload for the `kite advise seccomp` tests: makes a few system calls that nothing else in the
 * test makes, each through syscall() so that no libc cache or vDSO hides it.
 *   advisework [--wait] [--child] [--int80] [--mkdir PATH]
 * sysinfo first; with --wait, blocks in ppoll on stdin until a byte (or its end) comes; with --child,
 * forks a child that calls getcpu; then getrusage; with --int80, getpid through the 32-bit ABI
 * (int 0x80, i386 number 20, which is writev natively); with --mkdir, mkdir PATH (exits 3 on failure). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int wait_input = 0, child = 0, int80 = 0;
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--wait")) wait_input = 1;
		else if (!strcmp(argv[i], "--child")) child = 1;
		else if (!strcmp(argv[i], "--int80")) int80 = 1;
		else if (!strcmp(argv[i], "--mkdir") && i + 1 < argc) dir = argv[++i];
		else { fprintf(stderr, "advisework: unknown argument %s\n", argv[i]); return 2; }
	}
	struct sysinfo si;
	syscall(SYS_sysinfo, &si);
	if (wait_input) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		syscall(SYS_ppoll, &p, 1, NULL, NULL, 8);
	}
	if (child) {
		pid_t pid = fork();
		if (pid == 0) {
			unsigned cpu, node;
			syscall(SYS_getcpu, &cpu, &node, NULL);
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
	}
	struct rusage ru;
	syscall(SYS_getrusage, RUSAGE_SELF, &ru);
	if (int80) {
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		printf("int80 getpid %ld\n", r);
	}
	if (dir && syscall(SYS_mkdir, dir, 0700) != 0) {
		fprintf(stderr, "advisework: mkdir %s: %s\n", dir, strerror(errno));
		return 3;
	}
	printf("advisework done\n");
	return 0;
}
