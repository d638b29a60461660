/* Test trigger for the file receiver: `fileops STEP...` runs each step in order and prints one line
 * per step: "<step> <result> <errno>". Steps:
 *   cd:DIR            chdir(DIR)
 *   open:P            open(P, O_RDONLY) then close
 *   wopen:P           open(P, O_WRONLY|O_CREAT|O_TRUNC, 0640) then close
 *   openat:DIR:P      openat(open(DIR), P, O_RDONLY) then close both
 *   openat2:P         openat2(AT_FDCWD, P, {O_RDWR|O_APPEND}) then close
 *   creat:P           creat(P, 0600) then close
 *   unlink:P  rename:A:B  chmod:P  fchmod:P  chown:P  fchownat:DIR:P  truncate:P  ftruncate:P
 *   repeat:N:P        N times open(P, O_RDONLY) + close (for counters)
 *   threads:T:N:P     T threads of this process at once, each N times open(P, O_RDONLY) + close
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *step, long r)
{
	printf("%s %ld %d\n", step, r, r < 0 ? errno : 0);
	fflush(stdout);
}

struct repeat {
	int n;
	const char *path;
};

static void *repeat_opens(void *arg)
{
	struct repeat *r = arg;
	for (int k = 0; k < r->n; k++) {
		int fd = open(r->path, O_RDONLY);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char buf[4096];
		snprintf(buf, sizeof(buf), "%s", argv[i]);
		char *op = buf, *a = strchr(buf, ':'), *b = NULL;
		if (a) {
			*a++ = 0;
			b = strchr(a, ':');
			if (b)
				*b++ = 0;
		}
		long r = -1;
		if (!strcmp(op, "cd")) {
			r = chdir(a);
		} else if (!strcmp(op, "open")) {
			r = open(a, O_RDONLY);
			if (r >= 0) close(r);
		} else if (!strcmp(op, "wopen")) {
			r = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0640);
			if (r >= 0) close(r);
		} else if (!strcmp(op, "openat")) {
			int d = open(a, O_RDONLY | O_DIRECTORY);
			r = openat(d, b, O_RDONLY);
			if (r >= 0) close(r);
			close(d);
		} else if (!strcmp(op, "openat2")) {
			struct open_how how = { .flags = O_RDWR | O_APPEND };
			r = syscall(SYS_openat2, AT_FDCWD, a, &how, sizeof(how));
			if (r >= 0) close(r);
		} else if (!strcmp(op, "creat")) {
			r = creat(a, 0600);
			if (r >= 0) close(r);
		} else if (!strcmp(op, "unlink")) {
			r = unlink(a);
		} else if (!strcmp(op, "rename")) {
			r = rename(a, b);
		} else if (!strcmp(op, "chmod")) {
			r = chmod(a, 0604);
		} else if (!strcmp(op, "fchmod")) {
			int fd = open(a, O_RDONLY);
			r = fchmod(fd, 0644);
			close(fd);
		} else if (!strcmp(op, "chown")) {
			r = chown(a, 65534, -1);
		} else if (!strcmp(op, "fchownat")) {
			int d = open(a, O_RDONLY | O_DIRECTORY);
			r = fchownat(d, b, 0, 65534, 0);
			close(d);
		} else if (!strcmp(op, "truncate")) {
			r = truncate(a, 123);
		} else if (!strcmp(op, "ftruncate")) {
			int fd = open(a, O_WRONLY);
			r = ftruncate(fd, 7);
			close(fd);
		} else if (!strcmp(op, "repeat")) {
			int n = atoi(a);
			for (int k = 0; k < n; k++) {
				int fd = open(b, O_RDONLY);
				if (fd >= 0) close(fd);
			}
			r = n;
		} else if (!strcmp(op, "threads")) {
			/* threads:T:N:P (b holds "N:P") */
			int t = atoi(a);
			char *p = b ? strchr(b, ':') : NULL;
			if (t < 1 || t > 64 || !p) {
				fprintf(stderr, "threads:T:N:P\n");
				return 64;
			}
			struct repeat rep = { .n = atoi(b), .path = p + 1 };
			pthread_t th[64];
			for (int k = 0; k < t; k++)
				pthread_create(&th[k], NULL, repeat_opens, &rep);
			for (int k = 0; k < t; k++)
				pthread_join(th[k], NULL);
			r = (long)t * rep.n;
		} else {
			fprintf(stderr, "unknown step %s\n", op);
			return 64;
		}
		report(op, r);
	}
	return 0;
}
