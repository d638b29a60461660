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
 *   privtool setns0             setns into its own UTS namespace with nstype 0 (the kind is the file's)
 *   privtool clone              clone(CLONE_NEWUTS) a child that exits at once
 *   privtool clone3             clone3(CLONE_NEWUTS | CLONE_NEWNET) a child that exits at once
 *   privtool newmount <dir>     in a new mount namespace, the new mount API: fsopen("tmpfs"), fsconfig
 *                               (source, then create), fsmount, move_mount onto <dir>, mount_setattr
 *                               read-only, open_tree without and with OPEN_TREE_CLONE, fspick and an
 *                               fsconfig reconfigure (size=2m), umount2; and a
 *                               refused fsopen of a file system type that does not exist (ENODEV)
 *   privtool module <file> <size> <name_off>
 *                               finit_module(<file>), and init_module of an ELF image whose
 *                               .gnu.linkonce.this_module section (<size> bytes: sizeof(struct module)
 *                               of the running kernel) names the module "kite_fakemod" at <name_off>;
 *                               both refused (the image has no symbol table)
 *   privtool modload <file.ko> <name> <params>
 *                               finit_module(<file.ko>, <params>), then delete_module(<name>) when it
 *                               loaded: a real load and unload (kernels with module support) */
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
#include <elf.h>
#include <linux/sched.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x1
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#define FSMOUNT_CLOEXEC 0x1
#define MOVE_MOUNT_F_EMPTY_PATH 0x4
#define OPEN_TREE_CLONE 1
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_NOSUID 0x2
#define MOUNT_ATTR_NODEV 0x4
#endif
#ifndef FSPICK_CLOEXEC
#define FSPICK_CLOEXEC 0x1
#endif
#ifndef FSCONFIG_CMD_RECONFIGURE
#define FSCONFIG_CMD_RECONFIGURE 7
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* struct mount_attr (include/uapi/linux/mount.h) */
struct kite_mount_attr {
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

/* An ELF image with three sections: none, .shstrtab and .gnu.linkonce.this_module (`size` bytes, the
 * module's name at `name_off`). No symbol table: the kernel refuses it. */
static char *fake_module(size_t size, size_t name_off, size_t *len)
{
	static const char names[] = "\0.shstrtab\0.gnu.linkonce.this_module";
	size_t strtab = sizeof(Elf64_Ehdr), mod = strtab + sizeof(names), shoff = (mod + size + 7) & ~7UL;
	*len = shoff + 3 * sizeof(Elf64_Shdr);
	char *img = calloc(1, *len);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_REL;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_shoff = shoff;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 3;
	eh->e_shstrndx = 1;
	memcpy(img + strtab, names, sizeof(names));
	strcpy(img + mod + name_off, "kite_fakemod");
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + shoff);
	sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = strtab, .sh_size = sizeof(names) };
	sh[2] = (Elf64_Shdr){ .sh_name = 11, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_WRITE, .sh_offset = mod, .sh_size = size, .sh_addralign = 8 };
	return img;
}

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
	if (!strcmp(cmd, "module") && argc > 4) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 10;
		long r1 = syscall(SYS_finit_module, fd, "kite_param=1", 0);
		int e1 = errno;
		size_t len;
		char *img = fake_module(atol(argv[3]), atol(argv[4]), &len);
		long r2 = syscall(SYS_init_module, img, len, "kite_param=2");
		int e2 = errno;
		printf("%d %ld %d %ld %d %zu\n", getpid(), r1, e1, r2, e2, len);
		return 0;
	}
	if (!strcmp(cmd, "modload") && argc > 4) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 10;
		long r = syscall(SYS_finit_module, fd, argv[4], 0);
		int e = r ? errno : 0;
		long d = r ? -1 : syscall(SYS_delete_module, argv[3], O_NONBLOCK);
		printf("%d %ld %d %ld\n", getpid(), r, e, d);
		return 0;
	}
	if (!strcmp(cmd, "setns0")) {
		int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 10;
		if (setns(fd, 0))
			return 11;
		printf("%d\n", getpid());
		return 0;
	}
	if (!strcmp(cmd, "clone3")) {
		struct clone_args ca = { .flags = CLONE_NEWUTS | CLONE_NEWNET, .exit_signal = SIGCHLD };
		long child = syscall(SYS_clone3, &ca, sizeof(ca));
		if (child < 0)
			return 10;
		if (child == 0)
			_exit(0);
		int status;
		waitpid(child, &status, 0);
		printf("%d %ld\n", getpid(), child);
		return 0;
	}
	if (!strcmp(cmd, "newmount") && argc > 2) {
		const char *dir = argv[2];
		if (unshare(CLONE_NEWNS))
			return 10;
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			return 11;
		int fs = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
		if (fs < 0)
			return 12;
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "kite-newapi", 0))
			return 13;
		if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
			return 14;
		int mfd = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
		if (mfd < 0)
			return 15;
		if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH))
			return 16;
		struct kite_mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
		if (syscall(SYS_mount_setattr, AT_FDCWD, dir, AT_RECURSIVE, &attr, sizeof(attr)))
			return 17;
		int plain = syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLOEXEC);
		if (plain < 0)
			return 18;
		int tree = syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0)
			return 19;
		int pick = syscall(SYS_fspick, AT_FDCWD, dir, FSPICK_CLOEXEC);
		if (pick < 0)
			return 21;
		if (syscall(SYS_fsconfig, pick, FSCONFIG_SET_STRING, "size", "2m", 0))
			return 22;
		if (syscall(SYS_fsconfig, pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
			return 23;
		close(pick);
		close(plain);
		close(tree);
		close(mfd);
		close(fs);
		if (umount2(dir, 0))
			return 20;
		long bad = syscall(SYS_fsopen, "kite_nosuchfs", FSOPEN_CLOEXEC);
		int e = errno;
		printf("%d %ld %d\n", getpid(), bad, e);
		return 0;
	}
	return 2;
}
