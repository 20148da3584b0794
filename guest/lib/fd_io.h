/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Whole reads and writes on a file descriptor for the lab's small guest
 * programs (the agent, guest/agent/ntblab-agent.c, and the ssh shim,
 * tests/ntb/ntbsh.c): retried on EINTR and on short transfers.
 * Both return 0, or -1 on an error or end of file before `len` bytes.
 */
#ifndef NTBLAB_FD_IO_H
#define NTBLAB_FD_IO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

static inline int fd_io_all(int fd, char *p, size_t len, int writing)
{
	while (len) {
		ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static inline int write_all(int fd, const void *buf, size_t len)
{
	return fd_io_all(fd, (char *)buf, len, 1);
}

static inline int read_all(int fd, void *buf, size_t len)
{
	return fd_io_all(fd, buf, len, 0);
}

#endif /* NTBLAB_FD_IO_H */
