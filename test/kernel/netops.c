/* Test trigger for the connect receiver. Prints one line per action: "<action> <result> <errno>".
 *   netops listen ADDR PORT         listen, print "listening", accept one connection, close
 *   netops connect ADDR PORT [SYNCNT]  TCP connect (TCP_SYNCNT retries when given), close
 *   netops udp ADDR PORT N          N datagrams to ADDR:PORT from one unconnected socket
 *   netops udpconnect ADDR PORT     connect a UDP socket, send one datagram
 * ADDR is IPv4 or IPv6 (numeric). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t parse(const char *a, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	fprintf(stderr, "bad address %s\n", a);
	exit(64);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 64;
	struct sockaddr_storage ss;
	socklen_t len = parse(argv[2], atoi(argv[3]), &ss);
	const char *op = argv[1];
	if (!strcmp(op, "listen")) {
		int s = socket(ss.ss_family, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&ss, len) || listen(s, 4)) {
			printf("listen -1 %d\n", errno);
			return 1;
		}
		printf("listening\n");
		fflush(stdout);
		int c = accept(s, NULL, NULL);
		printf("accept %d %d\n", c, c < 0 ? errno : 0);
		fflush(stdout);
		if (c >= 0)
			close(c);
		close(s);
	} else if (!strcmp(op, "connect")) {
		int s = socket(ss.ss_family, SOCK_STREAM, 0);
		if (argc > 4) {
			int n = atoi(argv[4]);
			setsockopt(s, IPPROTO_TCP, TCP_SYNCNT, &n, sizeof(n));
		}
		int r = connect(s, (struct sockaddr *)&ss, len);
		printf("connect %d %d\n", r, r < 0 ? errno : 0);
		close(s);
	} else if (!strcmp(op, "udp")) {
		int s = socket(ss.ss_family, SOCK_DGRAM, 0);
		int n = argc > 4 ? atoi(argv[4]) : 1, ok = 0;
		for (int i = 0; i < n; i++)
			ok += sendto(s, "x", 1, 0, (struct sockaddr *)&ss, len) == 1;
		printf("udp %d 0\n", ok);
		close(s);
	} else if (!strcmp(op, "udpconnect")) {
		int s = socket(ss.ss_family, SOCK_DGRAM, 0);
		int r = connect(s, (struct sockaddr *)&ss, len);
		if (!r)
			r = send(s, "x", 1, 0) == 1 ? 0 : -1;
		printf("udpconnect %d %d\n", r, r < 0 ? errno : 0);
		close(s);
	} else {
		return 64;
	}
	return 0;
}
