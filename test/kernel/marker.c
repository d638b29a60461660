/* Test program for enforcement: `marker PATH [args...]` writes "ran" to PATH and exits 0. A program
 * killed at exec never gets to write it. Extra arguments are only matched by rules. */
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 64;
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 65;
	if (write(fd, "ran\n", 4) != 4)
		return 66;
	close(fd);
	return 0;
}
