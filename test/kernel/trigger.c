/* Test trigger: `trigger EXIT_CODE [fork CHILD_CODE | sleep SECONDS] [args...]`. Optionally forks a
 * child that exits with CHILD_CODE (reaped before the parent exits), or sleeps, then exits with
 * EXIT_CODE. Extra arguments only make the command line unique. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 64;
	int code = atoi(argv[1]);
	if (argc > 3 && strcmp(argv[2], "fork") == 0) {
		pid_t c = fork();
		if (c == 0)
			_exit(atoi(argv[3]));
		int st;
		waitpid(c, &st, 0);
	} else if (argc > 3 && strcmp(argv[2], "sleep") == 0) {
		sleep(atoi(argv[3]));
	}
	return code;
}
