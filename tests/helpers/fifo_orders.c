/* fifo_orders — orders through a named pipe, for programs the shim cannot see
 * (linked statically by tests/func/kev_fifo.sh).
 *   fifo_orders write FIFO TEXT       opens FIFO for writing, writes TEXT and a
 *                                     newline, and exits (the exit closes it)
 *   fifo_orders read FIFO HOST PORT   opens FIFO for reading, reads to EOF
 *                                     ("orders: TEXT" on stderr), connects to
 *                                     HOST:PORT (numeric), prints "connected"
 *                                     and sleeps holding both until killed
 *   fifo_orders uwrite PATH TEXT [now]  the same as write, over a connection
 *                                     to the unix socket PATH; it waits half a
 *                                     second before it exits (see kev_fifo.sh;
 *                                     now: it does not)
 *   fifo_orders uread PATH HOST PORT [late]  the same as read, from one
 *                                     connection accepted on the unix socket
 *                                     PATH (kept open, as the FIFO is); late:
 *                                     it accepts only once PATH.go exists (the
 *                                     writer has ended by then; 30 s at most)
 *   fifo_orders spawn HOST1 PORT1 HOST PORT   forks a child that fetches the
 *                                     orders: it connects to HOST1:PORT1, copies
 *                                     what comes to a pipe and exits (holding
 *                                     its connection to the end); the parent
 *                                     reads the pipe to EOF, closes it, then
 *                                     connects to HOST:PORT and sleeps (a Go
 *                                     program's exec.Command(...).Output())
 *   fifo_orders pass PATH             connects to the unix socket PATH, sends it
 *                                     its stdin (SCM_RIGHTS, with one byte) and
 *                                     exits
 *   fifo_orders ugetfd PATH HOST PORT accepts one connection on the unix socket
 *                                     PATH, receives one descriptor over it,
 *                                     reads that to EOF (the orders), closes it,
 *                                     the connection and the listener, then
 *                                     connects to HOST:PORT and sleeps
 *   fifo_orders listen LPORT HOST PORT  the same orders over TCP instead: a
 *                                     bind shell's pattern — listens on LPORT,
 *                                     accepts one connection, reads it to EOF,
 *                                     closes it and the listener, then
 *                                     connects to HOST:PORT and sleeps
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int dial4(const char *host, const char *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("fifo_orders: connect");
		exit(1);
	}
	return s;
}

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -1;
	strcpy(a->sun_path, path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "spawn")) {
		int p[2];
		char buf[512];
		size_t n = 0;
		ssize_t r;
		if (pipe2(p, O_CLOEXEC) != 0) {
			perror("fifo_orders: pipe2");
			return 1;
		}
		pid_t c = fork();
		if (c == 0) { /* the fetcher: its connection stays open until it exits */
			close(p[0]);
			int s = dial4(argv[2], argv[3]);
			while ((r = read(s, buf, sizeof(buf))) > 0)
				if (write(p[1], buf, (size_t)r) != r)
					break;
			_exit(0);
		}
		close(p[1]);
		while (n < sizeof(buf) - 1 && (r = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0)
			n += (size_t)r;
		close(p[0]);
		waitpid(c, NULL, 0);
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		fprintf(stderr, "orders: %s\n", buf);
		dial4(argv[4], argv[5]);
		fprintf(stderr, "connected\n");
		for (;;)
			pause();
	}
	if ((argc == 4 || (argc == 5 && !strcmp(argv[4], "now"))) && !strcmp(argv[1], "uwrite")) {
		struct sockaddr_un u;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || unix_addr(argv[2], &u) || connect(fd, (struct sockaddr *)&u, sizeof(u))) {
			perror("fifo_orders: connect");
			return 1;
		}
		dprintf(fd, "%s\n", argv[3]);
		if (argc == 4)
			usleep(500000); /* the reader accepts meanwhile */
		_exit(0);
	}
	if (argc == 3 && !strcmp(argv[1], "pass")) {
		struct sockaddr_un u;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || unix_addr(argv[2], &u) || connect(fd, (struct sockaddr *)&u, sizeof(u))) {
			perror("fifo_orders: connect");
			return 1;
		}
		char c = 'F', cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {&c, 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				   .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		int in = 0;
		memcpy(CMSG_DATA(cm), &in, sizeof(int));
		if (sendmsg(fd, &m, 0) != 1) {
			perror("fifo_orders: sendmsg");
			return 1;
		}
		_exit(0);
	}
	if (argc == 4 && !strcmp(argv[1], "write")) {
		int fd = open(argv[2], O_WRONLY);
		if (fd < 0) {
			perror("fifo_orders: open");
			return 1;
		}
		dprintf(fd, "%s\n", argv[3]);
		_exit(0);
	}
	int late = argc == 6 && !strcmp(argv[1], "uread") && !strcmp(argv[5], "late");
	if ((argc != 5 && !late) || (strcmp(argv[1], "read") && strcmp(argv[1], "listen") &&
				     strcmp(argv[1], "uread") && strcmp(argv[1], "ugetfd"))) {
		fprintf(stderr, "usage: fifo_orders write FIFO TEXT | read FIFO HOST PORT | "
				"uwrite PATH TEXT | uread PATH HOST PORT | pass PATH | "
				"ugetfd PATH HOST PORT | listen LPORT HOST PORT\n");
		return 2;
	}
	int fd, lfd = -1, tcp = !strcmp(argv[1], "listen"), getfd = !strcmp(argv[1], "ugetfd"), conn = -1;
	if (tcp) {
		struct sockaddr_in l = {.sin_family = AF_INET,
					.sin_port = htons((unsigned short)atoi(argv[2]))};
		int one = 1;
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&l, sizeof(l)) != 0 || listen(lfd, 1) != 0) {
			perror("fifo_orders: listen");
			return 1;
		}
		fd = accept(lfd, NULL, NULL);
	} else if (!strcmp(argv[1], "uread") || getfd) {
		struct sockaddr_un u;
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		unlink(argv[2]);
		if (lfd < 0 || unix_addr(argv[2], &u) || bind(lfd, (struct sockaddr *)&u, sizeof(u)) ||
		    listen(lfd, 1)) {
			perror("fifo_orders: listen");
			return 1;
		}
		if (late) { /* a writer connects, writes and ends meanwhile */
			char go[sizeof(u.sun_path) + 4];
			snprintf(go, sizeof(go), "%s.go", argv[2]);
			unlink(go);
			for (int i = 0; i < 600 && access(go, F_OK) != 0; i++)
				usleep(50000);
		}
		fd = accept(lfd, NULL, NULL);
		if (getfd && fd >= 0) { /* the orders come on the descriptor passed over it */
			char c, cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = {&c, 1};
			struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
					   .msg_controllen = sizeof(cbuf)};
			struct cmsghdr *cm;
			conn = fd;
			fd = -1;
			if (recvmsg(conn, &m, 0) == 1 && (cm = CMSG_FIRSTHDR(&m)) &&
			    cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		}
	} else {
		fd = open(argv[2], O_RDONLY);
	}
	char buf[512];
	size_t n = 0;
	ssize_t r;
	if (fd < 0) {
		perror("fifo_orders: open");
		return 1;
	}
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (tcp || getfd) { /* let go of the connection the orders came by */
		close(fd);
		close(lfd);
		if (conn >= 0)
			close(conn);
	}
	fprintf(stderr, "orders: %s\n", buf);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[4]))};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || inet_pton(AF_INET, argv[3], &a.sin_addr) != 1 ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("fifo_orders: connect");
		return 1;
	}
	fprintf(stderr, "connected\n");
	for (;;)
		pause();
}
