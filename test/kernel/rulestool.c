/* Trigger program of test/kernel/rules-*.test.ts: each command carries out one behaviour the default
 * ruleset is about (or a benign look-alike), for real.
 *   rulestool revshell <port>      connect to 127.0.0.1:<port>, make the socket fds 0-2, exec /bin/sh -c 'exit 0'
 *   rulestool connect-exec <port>  connect to 127.0.0.1:<port> (socket kept on fd 5), exec /bin/sh -c 'exit 0'
 *   rulestool connect-fork <port>  connect to 127.0.0.1:<port>, then a forked child execs /bin/sh -c 'exit 0'
 *   rulestool exec-shell           exec /bin/sh -c 'exit 0' without any connection
 *   rulestool connect <port>       connect to 127.0.0.1:<port> (refused or not), close, exit 0
 *   rulestool memfd-exec           copy /bin/true into a memfd and execute it (fexecve)
 *   rulestool ptrace-attach        fork a child, PTRACE_ATTACH it, detach, kill it
 *   rulestool ptrace-traceme       fork a child that asks to be traced by its parent (PTRACE_TRACEME)
 *   rulestool setuid0              setuid(0): as a set-user-ID-root copy run by another user, the real
 *                                  uid becomes root too
 * The last argument may be a tag that only makes the command line unique. Exits 0 on success. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int connect_local(int port, int must)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || (connect(s, (struct sockaddr *)&a, sizeof(a)) && must)) {
		perror("connect");
		exit(2);
	}
	return s;
}

static void exec_shell(void)
{
	execl("/bin/sh", "/bin/sh", "-c", "exit 0", (char *)NULL);
	perror("exec /bin/sh");
	exit(3);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 64;
	const char *cmd = argv[1];
	int port = argc > 2 ? atoi(argv[2]) : 0;
	if (!strcmp(cmd, "revshell")) {
		int s = connect_local(port, 1);
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		exec_shell();
	} else if (!strcmp(cmd, "connect-exec")) {
		int s = connect_local(port, 1);
		dup2(s, 5);
		exec_shell();
	} else if (!strcmp(cmd, "connect-fork")) {
		int s = connect_local(port, 1);
		pid_t c = fork();
		if (c == 0)
			exec_shell();
		int st = 0;
		waitpid(c, &st, 0);
		close(s);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	} else if (!strcmp(cmd, "exec-shell")) {
		exec_shell();
	} else if (!strcmp(cmd, "connect")) {
		close(connect_local(port, 0));
		return 0;
	} else if (!strcmp(cmd, "memfd-exec")) {
		int src = open("/bin/true", O_RDONLY);
		int m = memfd_create("kite-fileless", MFD_CLOEXEC);
		struct stat st;
		if (src < 0 || m < 0 || fstat(src, &st))
			return 2;
		if (sendfile(m, src, NULL, st.st_size) != st.st_size)
			return 2;
		char *args[] = { "kite-fileless", NULL };
		fexecve(m, args, environ);
		perror("fexecve");
		return 3;
	} else if (!strcmp(cmd, "ptrace-attach")) {
		pid_t c = fork();
		if (c == 0) {
			pause();
			_exit(0);
		}
		usleep(20000);
		if (ptrace(PTRACE_ATTACH, c, 0, 0)) {
			perror("ptrace attach");
			kill(c, SIGKILL);
			return 2;
		}
		waitpid(c, NULL, 0);
		ptrace(PTRACE_DETACH, c, 0, 0);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		return 0;
	} else if (!strcmp(cmd, "ptrace-traceme")) {
		pid_t c = fork();
		if (c == 0) {
			if (ptrace(PTRACE_TRACEME, 0, 0, 0))
				_exit(2);
			_exit(0);
		}
		int st = 0;
		waitpid(c, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	} else if (!strcmp(cmd, "setuid0")) {
		if (setuid(0)) {
			perror("setuid");
			return 2;
		}
		return 0;
	}
	return 64;
}
