/* Trigger program of test/kernel/security-receiver.test.ts: each command does one security-relevant
 * thing for real and prints what the test needs to match the event (pids, ports) on stdout.
 *   privtool seteuid            as a set-user-ID-root copy run by another user: effective uid to the
 *                               real uid and back to 0
 *   privtool setuid0            setuid(0), refused when run by another user (EPERM)
 *   privtool capset             drop CAP_NET_RAW from the effective set
 *   privtool ptrace             fork a child, PTRACE_ATTACH it, process_vm_writev into it, detach
 *   privtool listen <port>      TCP socket bound to 127.0.0.1:<port>, listen(backlog 7)
 *   privtool listen6 <port>     TCP socket bound to [::1]:<port>, listen(backlog 3)
 *   privtool udp0               UDP socket bound to 127.0.0.1 port 0; prints the port the kernel chose
 *   privtool ns <dir>           unshare mount+net namespaces, mount a tmpfs on <dir>, unmount it
 *   privtool pivot <dir>        in a new mount namespace: a tmpfs on <dir> becomes the root (pivot_root)
 *   privtool setns              setns into its own network namespace (a no-op the kernel allows)
 *   privtool clone              clone(CLONE_NEWUTS) a child that exits at once
 *   privtool module <file>      finit_module(<file>) and init_module(garbage): both refused */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char target_buf[64] = "before";

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *cmd = argv[1];
	if (!strcmp(cmd, "seteuid")) {
		uid_t r = getuid();
		if (setresuid(-1, r, -1))
			return 10;
		if (setresuid(-1, 0, -1))
			return 11;
		printf("%d\n", getpid());
		return 0;
	}
	if (!strcmp(cmd, "setuid0")) {
		int r = setuid(0);
		printf("%d %d %d\n", getpid(), r, r ? errno : 0);
		return 0;
	}
	if (!strcmp(cmd, "capset")) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d))
			return 10;
		d[0].effective &= ~(1u << CAP_NET_RAW);
		if (syscall(SYS_capset, &h, d))
			return 11;
		printf("%d\n", getpid());
		return 0;
	}
	if (!strcmp(cmd, "ptrace")) {
		pid_t child = fork();
		if (child == 0) {
			for (;;)
				pause();
		}
		if (ptrace(PTRACE_ATTACH, child, 0, 0))
			return 10;
		int status;
		waitpid(child, &status, 0);
		struct iovec local = { (void *)"written", 8 }, remote = { target_buf, 8 };
		if (process_vm_writev(child, &local, 1, &remote, 1, 0) != 8)
			return 11;
		ptrace(PTRACE_DETACH, child, 0, 0);
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		printf("%d %d\n", getpid(), child);
		return 0;
	}
	if (!strcmp(cmd, "listen") && argc > 2) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 10;
		if (listen(fd, 7))
			return 11;
		printf("%d\n", getpid());
		close(fd);
		return 0;
	}
	if (!strcmp(cmd, "listen6") && argc > 2) {
		int fd = socket(AF_INET6, SOCK_STREAM, 0);
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2])), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 10;
		if (listen(fd, 3))
			return 11;
		printf("%d\n", getpid());
		close(fd);
		return 0;
	}
	if (!strcmp(cmd, "udp0")) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET };
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(sa);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &len))
			return 10;
		printf("%d %d\n", getpid(), ntohs(sa.sin_port));
		close(fd);
		return 0;
	}
	if (!strcmp(cmd, "ns") && argc > 2) {
		if (unshare(CLONE_NEWNS | CLONE_NEWNET))
			return 10;
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			return 11;
		if (mount("kite-tmpfs", argv[2], "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"))
			return 12;
		if (umount2(argv[2], 0))
			return 13;
		printf("%d\n", getpid());
		return 0;
	}
	if (!strcmp(cmd, "pivot") && argc > 2) {
		if (unshare(CLONE_NEWNS))
			return 10;
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			return 11;
		if (mount("kite-root", argv[2], "tmpfs", 0, "size=1m"))
			return 12;
		if (chdir(argv[2]))
			return 13;
		if (syscall(SYS_pivot_root, ".", "."))
			return 14;
		if (umount2(".", MNT_DETACH))
			return 15;
		printf("%d\n", getpid());
		return 0;
	}
	if (!strcmp(cmd, "setns")) {
		int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 10;
		if (setns(fd, CLONE_NEWNET))
			return 11;
		printf("%d\n", getpid());
		return 0;
	}
	if (!strcmp(cmd, "clone")) {
		long child = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
		if (child < 0)
			return 10;
		if (child == 0)
			_exit(0);
		int status;
		waitpid(child, &status, 0);
		printf("%d %ld\n", getpid(), child);
		return 0;
	}
	if (!strcmp(cmd, "module") && argc > 2) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 10;
		long r1 = syscall(SYS_finit_module, fd, "kite_param=1", 0);
		int e1 = errno;
		char junk[64] = "not a module";
		long r2 = syscall(SYS_init_module, junk, sizeof(junk), "");
		int e2 = errno;
		printf("%d %ld %d %ld %d\n", getpid(), r1, e1, r2, e2);
		return 0;
	}
	return 2;
}
