// SPDX-License-Identifier: GPL-2.0
/*
 * ntbsh: a minimal remote shell for the lab's guests, so that Linux's
 * tools/testing/selftests/ntb/ntb_test.sh, whose remote commands are
 * "ssh HOST CMD...", can reach the other guest over the virtio-net link.
 * The guests have no sshd and no keys; this is not ssh and has no
 * authentication: it serves only on a guest's own address of the lab's
 * private virtio-net link, and only while a test runs.
 *
 *   ntbsh serve ADDR [PORT]     run the server (forks into the background,
 *                               prints nothing; log to stderr until detached)
 *   ssh [OPTS] [USER@]HOST CMD...
 *   ntbsh [OPTS] [USER@]HOST CMD...
 *                               run CMD (its words joined by spaces, as ssh
 *                               does) with "bash -c" on HOST; its stdout and
 *                               stderr come back on ours, and its exit status
 *                               is ours (255 if the connection fails, as ssh)
 *
 * HOST is an IPv4 address, or a name looked up in $NTBSH_HOSTS
 * ("node0=10.0.0.1,node1=10.0.0.2").  The port is $NTBSH_PORT or 7022.
 * ssh options are accepted and ignored (-o X, -p X, -i X, -l X take a value).
 *
 * Wire format (both ways): frames of a 1-byte type, a 4-byte big-endian
 * length and the bytes.  Client to server: one 'C' frame with the command.
 * Server to client: 'O' (stdout) and 'E' (stderr) frames in the order the
 * output arrived, then one 'X' frame of 4 bytes: the exit status (128 + the
 * signal number if the command was killed).  stdin of the command is
 * /dev/null.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../guest/lib/fd_io.h"

#define DEFAULT_PORT 7022
#define MAX_CMD (1 << 20)

static int send_frame(int fd, char type, const void *data, uint32_t len)
{
	unsigned char hdr[5];

	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
	if (write_all(fd, hdr, sizeof(hdr)))
		return -1;
	return len ? write_all(fd, data, len) : 0;
}

static int recv_hdr(int fd, char *type, uint32_t *len)
{
	unsigned char hdr[5];

	if (read_all(fd, hdr, sizeof(hdr)))
		return -1;
	*type = (char)hdr[0];
	*len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
	       (uint32_t)hdr[3] << 8 | hdr[4];
	return 0;
}

/* ---- server ---------------------------------------------------------- */

static void serve_one(int s)
{
	int out[2], err[2];
	struct pollfd pfd[2];
	char type, *cmd, buf[65536];
	uint32_t len;
	int open_fds = 2, status, i;
	pid_t pid;

	if (recv_hdr(s, &type, &len) || type != 'C' || len > MAX_CMD)
		return;
	cmd = malloc(len + 1);
	if (!cmd || read_all(s, cmd, len))
		return;
	cmd[len] = '\0';
	if (pipe(out) || pipe(err))
		return;
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		dup2(nul, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(nul);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		close(s);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/bash", "bash", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	pfd[0].fd = out[0];
	pfd[1].fd = err[0];
	pfd[0].events = pfd[1].events = POLLIN;
	while (open_fds) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			if (send_frame(s, i ? 'E' : 'O', buf, (uint32_t)n)) {
				/* client gone: let the command see EPIPE */
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		status = 128 + WTERMSIG(status);
	else
		status = 255;
	{
		unsigned char st[4] = { 0, 0, 0, (unsigned char)status };

		send_frame(s, 'X', st, sizeof(st));
	}
	free(cmd);
}

static int serve(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int ls, s, one = 1;
	pid_t pid;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "ntbsh: bad address %s\n", addr);
		return 2;
	}
	sa.sin_port = htons((uint16_t)port);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0)
		return perror("socket"), 2;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 16)) {
		perror("ntbsh: bind/listen");
		return 2;
	}
	/* Listening: detach, so the caller's step can end */
	pid = fork();
	if (pid < 0)
		return perror("fork"), 2;
	if (pid > 0) {
		printf("%d\n", pid);
		return 0;
	}
	setsid();
	{
		int nul = open("/dev/null", O_RDWR);

		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		s = accept(ls, NULL, NULL);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pid = fork();
		if (pid == 0) {
			close(ls);
			/* reap the command ourselves; grandchildren go to init */
			serve_one(s);
			_exit(0);
		}
		close(s);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* ---- client ---------------------------------------------------------- */

static const char *lookup(const char *host)
{
	static char ip[64];
	const char *map = getenv("NTBSH_HOSTS");
	size_t hl = strlen(host);

	while (map && *map) {
		const char *end = strchr(map, ',');
		size_t len = end ? (size_t)(end - map) : strlen(map);

		if (len > hl && map[hl] == '=' && !strncmp(map, host, hl) &&
		    len - hl - 1 < sizeof(ip)) {
			memcpy(ip, map + hl + 1, len - hl - 1);
			ip[len - hl - 1] = '\0';
			return ip;
		}
		map = end ? end + 1 : NULL;
	}
	return host;
}

static int client(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *host = NULL, *p;
	char *cmd = NULL;
	size_t clen = 0;
	int i, s, one = 1, port = DEFAULT_PORT;

	p = getenv("NTBSH_PORT");
	if (p && *p)
		port = atoi(p);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strchr("oplibcDEeFIJLmOQRSWw", argv[i][1]) && !argv[i][2])
			i++;	/* option with a separate value */
	}
	if (i >= argc) {
		fprintf(stderr, "usage: ssh [OPTS] HOST CMD...\n");
		return 255;
	}
	host = argv[i++];
	p = strrchr(host, '@');
	if (p)
		host = p + 1;
	for (; i < argc; i++) {
		size_t l = strlen(argv[i]);
		char *n = realloc(cmd, clen + l + 2);

		if (!n)
			return 255;
		cmd = n;
		if (clen)
			cmd[clen++] = ' ';
		memcpy(cmd + clen, argv[i], l);
		clen += l;
	}
	if (!cmd) {
		fprintf(stderr, "ntbsh: no command (interactive use is not supported)\n");
		return 255;
	}

	if (inet_pton(AF_INET, lookup(host), &sa.sin_addr) != 1) {
		fprintf(stderr, "ntbsh: cannot resolve %s (set NTBSH_HOSTS)\n", host);
		return 255;
	}
	sa.sin_port = htons((uint16_t)port);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "ntbsh: connect to %s:%d: %s\n", host, port,
			strerror(errno));
		return 255;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	signal(SIGPIPE, SIG_IGN);
	if (send_frame(s, 'C', cmd, (uint32_t)clen))
		return 255;
	for (;;) {
		char type, buf[65536];
		uint32_t len, chunk;

		if (recv_hdr(s, &type, &len)) {
			fprintf(stderr, "ntbsh: connection to %s lost\n", host);
			return 255;
		}
		if (type == 'X') {
			unsigned char st[4];

			if (len != 4 || read_all(s, st, 4))
				return 255;
			return st[3];
		}
		while (len) {
			chunk = len < sizeof(buf) ? len : sizeof(buf);
			if (read_all(s, buf, chunk))
				return 255;
			/* a closed stdout (e.g. | head) must not end the transfer */
			write_all(type == 'E' ? 2 : 1, buf, chunk);
			len -= chunk;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argc > 3 ? atoi(argv[3]) :
			     getenv("NTBSH_PORT") ? atoi(getenv("NTBSH_PORT")) :
			     DEFAULT_PORT);
	return client(argc, argv);
}
