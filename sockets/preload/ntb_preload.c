// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libntb_preload.so: run unmodified, dynamically linked TCP programs over
 * the af_ntb family for peers on the NTB fabric (as smc_run and libsdp do).
 *
 * - socket(AF_INET, SOCK_STREAM, 0|IPPROTO_TCP) makes a TCP socket as usual
 *   and remembers it as a candidate, with its bind() address and the
 *   setsockopt() calls made on it.
 * - connect() to a fabric address (NTB_FABRIC=10.1.0.0/24,... or the
 *   kernel's table /proc/net/af_ntb/peers) replaces the descriptor, with
 *   dup2(), by an af_ntb socket with the same flags, options and bound port,
 *   then connects it.  If the NTB connect fails at once (no route, family
 *   missing, refused) the TCP socket is put back and connected instead
 *   (NTB_FALLBACK=0 turns this off).  A non-blocking connect that later
 *   fails is not retried over TCP.
 * - listen() with NTB_RUN_SERVER=both (default) also listens on an af_ntb
 *   socket on the same port; accept() takes whichever is ready (poll on
 *   both for a blocking socket).  Programs that wait for the listening
 *   descriptor with select/poll/epoll only see TCP connections in this mode:
 *   use NTB_RUN_SERVER=ntb to listen on NTB only (the descriptor becomes
 *   the af_ntb socket) or 0 for TCP only.
 * - On af_ntb descriptors getsockopt(SO_DOMAIN) says AF_INET and TCP-level
 *   options the family does not know are accepted and ignored.
 *
 * NTB_PRELOAD_DEBUG=1 logs decisions to stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntb_sockets.h"

#define MAX_FD 65536
#define MAX_OPTS 16

struct opt {
	int level, name;
	socklen_t len;
	unsigned char val[32];
};

struct fdinfo {
	unsigned char candidate;	/* AF_INET stream socket, not yet used */
	unsigned char is_ntb;		/* descriptor is an af_ntb socket now */
	unsigned char bound;
	int ntb_listener;		/* paired af_ntb listener + 1, or 0 */
	struct sockaddr_in bind_addr;
	int nopts;
	struct opt opts[MAX_OPTS];
};

static struct fdinfo *fds[MAX_FD];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int (*real_socket)(int, int, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_close)(int);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);

static int debug;

static void logd(const char *fmt, ...)
{
	va_list ap;

	if (!debug)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "ntb_preload: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

__attribute__((constructor)) static void init(void)
{
	real_socket = dlsym(RTLD_NEXT, "socket");
	real_connect = dlsym(RTLD_NEXT, "connect");
	real_bind = dlsym(RTLD_NEXT, "bind");
	real_listen = dlsym(RTLD_NEXT, "listen");
	real_accept = dlsym(RTLD_NEXT, "accept");
	real_accept4 = dlsym(RTLD_NEXT, "accept4");
	real_close = dlsym(RTLD_NEXT, "close");
	real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
	real_getsockopt = dlsym(RTLD_NEXT, "getsockopt");
	debug = getenv("NTB_PRELOAD_DEBUG") && atoi(getenv("NTB_PRELOAD_DEBUG"));
}

static struct fdinfo *info(int fd, int create)
{
	if (fd < 0 || fd >= MAX_FD)
		return NULL;
	if (!fds[fd] && create)
		fds[fd] = calloc(1, sizeof(struct fdinfo));
	return fds[fd];
}

static void forget(int fd)
{
	if (fd >= 0 && fd < MAX_FD) {
		free(fds[fd]);
		fds[fd] = NULL;
	}
}

/* NTB_FABRIC: comma-separated A.B.C.D/N; else the kernel's table */
static int on_fabric(in_addr_t addr)
{
	const char *env = getenv("NTB_FABRIC");
	in_addr_t self = 0;

	if (env && *env) {
		char buf[512], *save = NULL, *tok;

		snprintf(buf, sizeof(buf), "%s", env);
		for (tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *slash = strchr(tok, '/');
			int bits = slash ? atoi(slash + 1) : 32;
			struct in_addr net;
			uint32_t mask;

			if (slash)
				*slash = 0;
			if (inet_pton(AF_INET, tok, &net) != 1 || bits < 0 || bits > 32)
				continue;
			mask = bits ? htonl(~0U << (32 - bits)) : 0;
			if ((addr & mask) == (net.s_addr & mask)) {
				ntb_addr_on_fabric(addr, &self);
				return addr != self;
			}
		}
		return 0;
	}
	return ntb_addr_on_fabric(addr, &self) && addr != self;
}

static void replay_opts(int fd, struct fdinfo *fi)
{
	int i;

	for (i = 0; i < fi->nopts; i++)
		real_setsockopt(fd, fi->opts[i].level, fi->opts[i].name,
				fi->opts[i].val, fi->opts[i].len);
}

/* Put a new socket of @family with @fd's flags and options at @fd */
static int replace_fd(int fd, struct fdinfo *fi, int family)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	int nfd = real_socket(family, SOCK_STREAM, 0);

	if (nfd < 0)
		return -1;
	replay_opts(nfd, fi);
	if (fi->bound && family != AF_INET) {
		struct sockaddr_in b = fi->bind_addr;

		if (real_bind(nfd, (struct sockaddr *)&b, sizeof(b)) < 0) {
			b.sin_addr.s_addr = htonl(INADDR_ANY);
			real_bind(nfd, (struct sockaddr *)&b, sizeof(b));
		}
	} else if (fi->bound) {
		real_bind(nfd, (struct sockaddr *)&fi->bind_addr,
			  sizeof(fi->bind_addr));
	}
	if (fl >= 0)
		fcntl(nfd, F_SETFL, fl);
	if (dup2(nfd, fd) < 0) {
		int e = errno;

		real_close(nfd);
		errno = e;
		return -1;
	}
	real_close(nfd);
	if (fdfl >= 0)
		fcntl(fd, F_SETFD, fdfl);
	return 0;
}

int socket(int domain, int type, int protocol)
{
	int fd = real_socket(domain, type, protocol);
	struct fdinfo *fi;

	if (fd < 0 || domain != AF_INET || (type & 0xf) != SOCK_STREAM ||
	    (protocol != 0 && protocol != IPPROTO_TCP))
		return fd;
	pthread_mutex_lock(&lock);
	fi = info(fd, 1);
	if (fi) {
		memset(fi, 0, sizeof(*fi));
		fi->candidate = 1;
	}
	pthread_mutex_unlock(&lock);
	return fd;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int ret = real_bind(fd, addr, len);
	struct fdinfo *fi;

	if (ret == 0 && addr && addr->sa_family == AF_INET &&
	    len >= sizeof(struct sockaddr_in)) {
		pthread_mutex_lock(&lock);
		fi = info(fd, 0);
		if (fi && fi->candidate) {
			fi->bound = 1;
			memcpy(&fi->bind_addr, addr, sizeof(fi->bind_addr));
			if (!fi->bind_addr.sin_port) {
				struct sockaddr_in got;
				socklen_t gl = sizeof(got);

				if (!getsockname(fd, (struct sockaddr *)&got, &gl))
					fi->bind_addr.sin_port = got.sin_port;
			}
		}
		pthread_mutex_unlock(&lock);
	}
	return ret;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct fdinfo *fi;
	int ret = real_setsockopt(fd, level, name, val, len);

	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi && fi->is_ntb && ret < 0 && errno == ENOPROTOOPT &&
	    (level == IPPROTO_TCP || level == IPPROTO_IP))
		ret = 0;	/* a TCP knob the NTB family has no use for */
	if (fi && fi->candidate && ret == 0 && fi->nopts < MAX_OPTS &&
	    len <= sizeof(fi->opts[0].val) && val) {
		struct opt *o = &fi->opts[fi->nopts++];

		o->level = level;
		o->name = name;
		o->len = len;
		memcpy(o->val, val, len);
	}
	pthread_mutex_unlock(&lock);
	return ret;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int ret = real_getsockopt(fd, level, name, val, len);
	struct fdinfo *fi;

	if (ret == 0 && level == SOL_SOCKET && name == SO_DOMAIN && val &&
	    len && *len >= sizeof(int)) {
		pthread_mutex_lock(&lock);
		fi = info(fd, 0);
		if (fi && fi->is_ntb)
			*(int *)val = AF_INET;
		pthread_mutex_unlock(&lock);
	}
	return ret;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
	struct fdinfo *fi, copy;
	int ret, e;
	const char *fb = getenv("NTB_FALLBACK");

	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi)
		copy = *fi;
	pthread_mutex_unlock(&lock);
	if (!fi || !copy.candidate || !addr || addr->sa_family != AF_INET ||
	    len < sizeof(*sin) || !on_fabric(sin->sin_addr.s_addr))
		return real_connect(fd, addr, len);

	if (replace_fd(fd, &copy, ntb_family()) < 0) {
		logd("fd %d: no NTB socket (%s), TCP", fd, strerror(errno));
		return real_connect(fd, addr, len);
	}
	pthread_mutex_lock(&lock);
	fi = info(fd, 1);
	if (fi) {
		fi->candidate = 0;
		fi->is_ntb = 1;
	}
	pthread_mutex_unlock(&lock);
	ret = real_connect(fd, addr, len);
	e = errno;
	if (ret == 0 || e == EINPROGRESS || e == EINTR || (fb && !atoi(fb))) {
		logd("fd %d: NTB connect: %s", fd, ret ? strerror(e) : "ok");
		errno = e;
		return ret;
	}
	logd("fd %d: NTB connect failed (%s), falling back to TCP", fd, strerror(e));
	if (replace_fd(fd, &copy, AF_INET) < 0) {
		errno = e;
		return -1;
	}
	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi)
		fi->is_ntb = 0;
	pthread_mutex_unlock(&lock);
	return real_connect(fd, addr, len);
}

static const char *server_mode(void)
{
	const char *m = getenv("NTB_RUN_SERVER");

	return m && *m ? m : "both";
}

int listen(int fd, int backlog)
{
	struct fdinfo *fi, copy;
	const char *mode = server_mode();
	int lfd;

	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi)
		copy = *fi;
	pthread_mutex_unlock(&lock);
	if (!fi || !copy.candidate || !strcmp(mode, "0") || !ntb_available())
		return real_listen(fd, backlog);

	if (!strcmp(mode, "ntb")) {
		if (!copy.bound) {
			/* bind the TCP socket first to learn a port */
			struct sockaddr_in any;

			ntb_sockaddr(&any, NULL, 0);
			bind(fd, (struct sockaddr *)&any, sizeof(any));
			pthread_mutex_lock(&lock);
			copy = *info(fd, 0);
			pthread_mutex_unlock(&lock);
		}
		if (replace_fd(fd, &copy, ntb_family()) < 0)
			return real_listen(fd, backlog);
		pthread_mutex_lock(&lock);
		fi = info(fd, 0);
		fi->candidate = 0;
		fi->is_ntb = 1;
		pthread_mutex_unlock(&lock);
		logd("fd %d: listening on NTB only", fd);
		return real_listen(fd, backlog);
	}

	if (real_listen(fd, backlog) < 0)
		return -1;
	if (!copy.bound) {
		struct sockaddr_in got;
		socklen_t gl = sizeof(got);

		if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0) {
			copy.bound = 1;
			copy.bind_addr = got;
		}
	}
	lfd = real_socket(ntb_family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd >= 0) {
		struct sockaddr_in b = copy.bind_addr;
		int one = 1;

		real_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (b.sin_addr.s_addr != htonl(INADDR_ANY)) {
			in_addr_t self;

			ntb_addr_on_fabric(0, &self);
			if (b.sin_addr.s_addr != self)
				b.sin_addr.s_addr = htonl(INADDR_ANY);
		}
		if (real_bind(lfd, (struct sockaddr *)&b, sizeof(b)) < 0 ||
		    real_listen(lfd, backlog) < 0) {
			logd("fd %d: no NTB listener (%s)", fd, strerror(errno));
			real_close(lfd);
			lfd = -1;
		}
	}
	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi) {
		fi->candidate = 0;
		fi->ntb_listener = lfd + 1;
	}
	pthread_mutex_unlock(&lock);
	if (lfd >= 0)
		logd("fd %d: listening on TCP and NTB (fd %d)", fd, lfd);
	return 0;
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct fdinfo *fi;
	int lfd = -1, nfd, from_ntb = 0;

	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi && fi->ntb_listener)
		lfd = fi->ntb_listener - 1;
	pthread_mutex_unlock(&lock);

	if (lfd < 0) {
		nfd = real_accept4(fd, addr, len, flags);
		pthread_mutex_lock(&lock);
		fi = info(fd, 0);
		if (nfd >= 0 && fi && fi->is_ntb) {
			struct fdinfo *ni = info(nfd, 1);

			if (ni) {
				memset(ni, 0, sizeof(*ni));
				ni->is_ntb = 1;
			}
		}
		pthread_mutex_unlock(&lock);
		return nfd;
	}
	for (;;) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { lfd, POLLIN, 0 } };
		int nb = fcntl(fd, F_GETFL) & O_NONBLOCK;

		nfd = real_accept4(lfd, addr, len, flags | SOCK_NONBLOCK);
		if (nfd >= 0) {
			if (!(flags & SOCK_NONBLOCK))
				fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) & ~O_NONBLOCK);
			from_ntb = 1;
			break;
		}
		nfd = real_accept4(fd, addr, len, flags | (nb ? 0 : SOCK_NONBLOCK));
		if (nfd >= 0) {
			if (!nb && !(flags & SOCK_NONBLOCK))
				fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) & ~O_NONBLOCK);
			break;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (nb)
			return -1;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -1;
	}
	if (from_ntb) {
		pthread_mutex_lock(&lock);
		fi = info(nfd, 1);
		if (fi) {
			memset(fi, 0, sizeof(*fi));
			fi->is_ntb = 1;
		}
		pthread_mutex_unlock(&lock);
		logd("fd %d: accepted NTB connection fd %d", fd, nfd);
	}
	return nfd;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return do_accept(fd, addr, len, 0);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return do_accept(fd, addr, len, flags);
}

int close(int fd)
{
	int lfd = -1;

	if (fd >= 0 && fd < MAX_FD) {
		pthread_mutex_lock(&lock);
		if (fds[fd] && fds[fd]->ntb_listener)
			lfd = fds[fd]->ntb_listener - 1;
		forget(fd);
		pthread_mutex_unlock(&lock);
	}
	if (lfd >= 0)
		real_close(lfd);
	return real_close(fd);
}
