// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The preload library's wrappers work before its constructor ran: a library
 * this program links against calls close(), socket(), setsockopt(), bind(),
 * listen(), getsockname(), accept4() and connect() from its own constructor,
 * which the dynamic loader runs before the preloaded library's (as
 * libraries sshd links do).  Built twice: -DEARLY_LIB for the library.
 * Run: LD_PRELOAD=libntb_preload.so preload_early  -> "ok", exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef EARLY_LIB
int early_status = -1;

__attribute__((constructor)) static void early(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int one = 1, s, c, n;

	close(-1);
	close(dup(2));
	s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4) ||
	    getsockname(s, (struct sockaddr *)&a, &al))
		return;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		return;
	n = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	if (n < 0)
		return;
	close(n);
	close(c);
	close(s);
	early_status = 0;
}
#else
extern int early_status;

int main(void)
{
	if (early_status != 0) {
		fprintf(stderr, "FAIL: socket calls in a library constructor failed\n");
		return 1;
	}
	printf("ok: socket calls before the preload's constructor work\n");
	return 0;
}
#endif
