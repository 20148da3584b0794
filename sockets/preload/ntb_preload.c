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
 * - listen() with NTB_RUN_SERVER=both (default) listens on TCP and on an
 *   af_ntb socket on the same port.  The program's descriptor becomes an
 *   epoll instance holding both (non-blocking) listeners, so that poll,
 *   select and epoll on it wake for a connection on either; accept() takes
 *   whichever is ready and blocks (polls both) only if the program's
 *   descriptor is blocking.  getsockname/getsockopt/setsockopt on it go to
 *   the listeners, epoll_ctl drops EPOLLEXCLUSIVE for it (not allowed on an
 *   epoll instance).  NTB_RUN_SERVER=ntb listens on NTB only (the
 *   descriptor becomes the af_ntb socket; TCP if the family is missing), 0
 *   on TCP only.  See docs/socket-family.md, "Preload".
 * - On af_ntb descriptors getsockopt(SO_DOMAIN) says AF_INET and TCP-level
 *   options the family does not know are accepted and ignored.
 * - Every wrapper looks up the function it wraps (dlsym RTLD_NEXT) when it
 *   is first called, so it works before this library's constructor ran
 *   (other libraries' start-up code may call close() or socket()).
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
#include <stdatomic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
	unsigned char both;		/* an epoll fd over two listeners: */
	int tcp_listener;		/*   the TCP listener + 1, */
	int ntb_listener;		/*   the af_ntb listener + 1 */
	struct sockaddr_in bind_addr;
	int nopts;
	struct opt opts[MAX_OPTS];
};

static struct fdinfo *fds[MAX_FD];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The functions we wrap, looked up on first use (not in a constructor: a
 * library's start-up code may call close() before ours ran).  REAL(close)
 * has close's type.
 */
static void *resolve(void *_Atomic *slot, const char *name)
{
	void *f = atomic_load_explicit(slot, memory_order_acquire);

	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		if (!f) {
			static const char msg[] = "ntb_preload: a libc function is missing\n";

			write(2, msg, sizeof(msg) - 1);
			abort();
		}
		atomic_store_explicit(slot, f, memory_order_release);
	}
	return f;
}

#define REAL(fn) ({							\
	static void *_Atomic slot_;					\
	(__typeof__(&fn))resolve(&slot_, #fn);				\
})

static int debug = -1;

static void logd(const char *fmt, ...)
{
	va_list ap;

	if (debug < 0) {
		const char *e = getenv("NTB_PRELOAD_DEBUG");

		debug = e && atoi(e);
	}
	if (!debug)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "ntb_preload: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
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
		REAL(setsockopt)(fd, fi->opts[i].level, fi->opts[i].name,
				fi->opts[i].val, fi->opts[i].len);
}

/* Put a new socket of @family with @fd's flags and options at @fd */
static int replace_fd(int fd, struct fdinfo *fi, int family)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	int nfd = REAL(socket)(family, SOCK_STREAM, 0);

	if (nfd < 0)
		return -1;
	replay_opts(nfd, fi);
	if (fi->bound && family != AF_INET) {
		struct sockaddr_in b = fi->bind_addr;

		if (REAL(bind)(nfd, (struct sockaddr *)&b, sizeof(b)) < 0) {
			b.sin_addr.s_addr = htonl(INADDR_ANY);
			REAL(bind)(nfd, (struct sockaddr *)&b, sizeof(b));
		}
	} else if (fi->bound) {
		REAL(bind)(nfd, (struct sockaddr *)&fi->bind_addr,
			  sizeof(fi->bind_addr));
	}
	if (fl >= 0)
		fcntl(nfd, F_SETFL, fl);
	if (dup2(nfd, fd) < 0) {
		int e = errno;

		REAL(close)(nfd);
		errno = e;
		return -1;
	}
	REAL(close)(nfd);
	if (fdfl >= 0)
		fcntl(fd, F_SETFD, fdfl);
	return 0;
}

int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);
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
	int ret = REAL(bind)(fd, addr, len);
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

				if (!REAL(getsockname)(fd, (struct sockaddr *)&got, &gl))
					fi->bind_addr.sin_port = got.sin_port;
			}
		}
		pthread_mutex_unlock(&lock);
	}
	return ret;
}

/* The listeners behind a `both` descriptor (-1 if @fd is not one) */
static int both_listeners(int fd, int *tfd, int *lfd)
{
	struct fdinfo *fi;
	int ret = -1;

	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi && fi->both) {
		*tfd = fi->tcp_listener - 1;
		*lfd = fi->ntb_listener - 1;
		ret = 0;
	}
	pthread_mutex_unlock(&lock);
	return ret;
}

/* An af_ntb socket, also one this process did not make (inherited over exec) */
static int is_ntb_fd(int fd)
{
	struct fdinfo *fi;
	int ntb, dom = 0;
	socklen_t dl = sizeof(dom);

	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	ntb = fi && fi->is_ntb;
	pthread_mutex_unlock(&lock);
	if (ntb)
		return 1;
	return REAL(getsockopt)(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == 0 &&
	       dom == ntb_family();
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct fdinfo *fi;
	int ret, e, tfd, lfd;

	if (both_listeners(fd, &tfd, &lfd) == 0) {
		/* both listeners get it; the TCP one's answer counts */
		if (lfd >= 0)
			REAL(setsockopt)(lfd, level, name, val, len);
		return REAL(setsockopt)(tfd, level, name, val, len);
	}
	ret = REAL(setsockopt)(fd, level, name, val, len);
	e = errno;
	if (ret < 0 && e == ENOPROTOOPT &&
	    (level == IPPROTO_TCP || level == IPPROTO_IP) && is_ntb_fd(fd))
		ret = 0;	/* a TCP knob the NTB family has no use for */
	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi && fi->candidate && ret == 0 && fi->nopts < MAX_OPTS &&
	    len <= sizeof(fi->opts[0].val) && val) {
		struct opt *o = &fi->opts[fi->nopts++];

		o->level = level;
		o->name = name;
		o->len = len;
		memcpy(o->val, val, len);
	}
	pthread_mutex_unlock(&lock);
	if (ret < 0)
		errno = e;
	return ret;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int ret, tfd, lfd;

	if (both_listeners(fd, &tfd, &lfd) == 0)
		fd = tfd;
	ret = REAL(getsockopt)(fd, level, name, val, len);
	if (ret == 0 && level == SOL_SOCKET && name == SO_DOMAIN && val &&
	    len && *len >= sizeof(int) && *(int *)val == ntb_family())
		*(int *)val = AF_INET;
	return ret;
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	int tfd, lfd;

	if (both_listeners(fd, &tfd, &lfd) == 0)
		fd = tfd;
	return REAL(getsockname)(fd, addr, len);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct epoll_event copy;
	int tfd, lfd;

	if (ev && (ev->events & EPOLLEXCLUSIVE) &&
	    both_listeners(fd, &tfd, &lfd) == 0) {
		/* not allowed on an epoll instance; the listeners are non-blocking */
		copy = *ev;
		copy.events &= ~EPOLLEXCLUSIVE;
		ev = &copy;
	}
	return REAL(epoll_ctl)(epfd, op, fd, ev);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
	struct fdinfo *fi, copy;
	int ret, e;
	const char *fb = getenv("NTB_FALLBACK");
	int fallback = !(fb && *fb && !atoi(fb));

	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi)
		copy = *fi;
	pthread_mutex_unlock(&lock);
	if (!fi || !copy.candidate || !addr || addr->sa_family != AF_INET ||
	    len < sizeof(*sin) || !on_fabric(sin->sin_addr.s_addr))
		return REAL(connect)(fd, addr, len);

	if (replace_fd(fd, &copy, ntb_family()) < 0) {
		e = errno;
		if (!fallback) {
			logd("fd %d: no NTB socket (%s), NTB_FALLBACK=0: failing",
			     fd, strerror(e));
			errno = e;
			return -1;
		}
		logd("fd %d: no NTB socket (%s), TCP", fd, strerror(e));
		return REAL(connect)(fd, addr, len);
	}
	pthread_mutex_lock(&lock);
	fi = info(fd, 1);
	if (fi) {
		fi->candidate = 0;
		fi->is_ntb = 1;
	}
	pthread_mutex_unlock(&lock);
	ret = REAL(connect)(fd, addr, len);
	e = errno;
	if (ret == 0 || e == EINPROGRESS || e == EINTR || !fallback) {
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
	return REAL(connect)(fd, addr, len);
}

static const char *server_mode(void)
{
	const char *m = getenv("NTB_RUN_SERVER");

	return m && *m ? m : "both";
}

/* An af_ntb listener on @b's port (and address if it is ours), or -1 */
static int ntb_listener(struct sockaddr_in b, int backlog)
{
	int lfd = REAL(socket)(ntb_family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, e;

	if (lfd < 0)
		return -1;
	REAL(setsockopt)(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (b.sin_addr.s_addr != htonl(INADDR_ANY)) {
		in_addr_t self;

		ntb_addr_on_fabric(0, &self);
		if (b.sin_addr.s_addr != self)
			b.sin_addr.s_addr = htonl(INADDR_ANY);
	}
	if (REAL(bind)(lfd, (struct sockaddr *)&b, sizeof(b)) < 0 ||
	    REAL(listen)(lfd, backlog) < 0) {
		e = errno;
		REAL(close)(lfd);
		errno = e;
		return -1;
	}
	return lfd;
}

/*
 * `both`: the program's @fd becomes an epoll instance over the TCP listener
 * (moved to a new descriptor) and @lfd, both non-blocking, so that waiting
 * for @fd wakes for either (docs/socket-family.md, "Preload").
 */
static int make_both(int fd, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
	int cloexec = fdfl >= 0 && (fdfl & FD_CLOEXEC);
	int tfd, ep, e;
	struct fdinfo *fi;

	tfd = fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 3);
	if (tfd < 0)
		return -1;
	if (!cloexec)
		fcntl(lfd, F_SETFD, 0);
	fcntl(tfd, F_SETFL, fcntl(tfd, F_GETFL) | O_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = tfd;
	if (ep < 0 || REAL(epoll_ctl)(ep, EPOLL_CTL_ADD, tfd, &ev) < 0)
		goto fail;
	ev.data.fd = lfd;
	if (REAL(epoll_ctl)(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		goto fail;
	/* the program's O_NONBLOCK on the epoll fd says how accept() waits */
	if (fl >= 0)
		fcntl(ep, F_SETFL, fl & O_NONBLOCK);
	if (dup2(ep, fd) < 0)
		goto fail;
	REAL(close)(ep);
	if (fdfl >= 0)
		fcntl(fd, F_SETFD, fdfl);
	pthread_mutex_lock(&lock);
	fi = info(fd, 1);
	if (fi) {
		memset(fi, 0, sizeof(*fi));
		fi->both = 1;
		fi->tcp_listener = tfd + 1;
		fi->ntb_listener = lfd + 1;
	}
	pthread_mutex_unlock(&lock);
	return 0;
fail:
	e = errno;
	if (ep >= 0)
		REAL(close)(ep);
	REAL(close)(tfd);
	errno = e;
	return -1;
}

int listen(int fd, int backlog)
{
	struct fdinfo *fi, copy;
	const char *mode = server_mode();
	int lfd, tfd;

	if (both_listeners(fd, &tfd, &lfd) == 0) {
		/* listen() again (a new backlog): both listeners */
		REAL(listen)(lfd, backlog);
		return REAL(listen)(tfd, backlog);
	}
	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi)
		copy = *fi;
	pthread_mutex_unlock(&lock);
	if (!fi || !copy.candidate || !strcmp(mode, "0"))
		return REAL(listen)(fd, backlog);
	if (!ntb_available()) {
		logd("fd %d: af_ntb missing (%s), listening on TCP only", fd,
		     strerror(errno));
		return REAL(listen)(fd, backlog);
	}

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
		if (replace_fd(fd, &copy, ntb_family()) < 0) {
			logd("fd %d: no NTB socket (%s), listening on TCP only",
			     fd, strerror(errno));
			return REAL(listen)(fd, backlog);
		}
		pthread_mutex_lock(&lock);
		fi = info(fd, 0);
		fi->candidate = 0;
		fi->is_ntb = 1;
		pthread_mutex_unlock(&lock);
		logd("fd %d: listening on NTB only", fd);
		return REAL(listen)(fd, backlog);
	}

	if (REAL(listen)(fd, backlog) < 0)
		return -1;
	if (!copy.bound) {
		struct sockaddr_in got;
		socklen_t gl = sizeof(got);

		if (REAL(getsockname)(fd, (struct sockaddr *)&got, &gl) == 0) {
			copy.bound = 1;
			copy.bind_addr = got;
		}
	}
	pthread_mutex_lock(&lock);
	fi = info(fd, 0);
	if (fi)
		fi->candidate = 0;
	pthread_mutex_unlock(&lock);
	lfd = ntb_listener(copy.bind_addr, backlog);
	if (lfd < 0) {
		logd("fd %d: no NTB listener (%s), listening on TCP only", fd,
		     strerror(errno));
		return 0;
	}
	if (make_both(fd, lfd) < 0) {
		logd("fd %d: cannot pair the listeners (%s), listening on TCP only",
		     fd, strerror(errno));
		REAL(close)(lfd);
		return 0;
	}
	logd("fd %d: listening on TCP and NTB", fd);
	return 0;
}

static void mark_ntb(int fd)
{
	struct fdinfo *fi;

	pthread_mutex_lock(&lock);
	fi = info(fd, 1);
	if (fi) {
		memset(fi, 0, sizeof(*fi));
		fi->is_ntb = 1;
	}
	pthread_mutex_unlock(&lock);
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct fdinfo *fi;
	int tfd, lfd, nfd, ntb;

	if (both_listeners(fd, &tfd, &lfd) < 0) {
		nfd = REAL(accept4)(fd, addr, len, flags);
		pthread_mutex_lock(&lock);
		fi = info(fd, 0);
		ntb = fi && fi->is_ntb;
		pthread_mutex_unlock(&lock);
		if (nfd >= 0 && ntb) {
			mark_ntb(nfd);
			logd("fd %d: accepted NTB connection fd %d", fd, nfd);
		}
		return nfd;
	}
	/* both listeners are non-blocking; a new socket's flags come from @flags */
	for (;;) {
		struct pollfd p[2] = { { tfd, POLLIN, 0 }, { lfd, POLLIN, 0 } };
		int e;

		nfd = REAL(accept4)(lfd, addr, len, flags);
		if (nfd >= 0) {
			mark_ntb(nfd);
			logd("fd %d: accepted NTB connection fd %d", fd, nfd);
			return nfd;
		}
		e = errno;
		if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
			logd("fd %d: NTB accept: %s", fd, strerror(e));
		nfd = REAL(accept4)(tfd, addr, len, flags);
		if (nfd >= 0)
			return nfd;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (fcntl(fd, F_GETFL) & O_NONBLOCK)
			return -1;	/* EAGAIN, as the program expects */
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -1;
	}
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
	int tfd = -1, lfd = -1;

	if (fd >= 0 && fd < MAX_FD) {
		pthread_mutex_lock(&lock);
		if (fds[fd] && fds[fd]->both) {
			tfd = fds[fd]->tcp_listener - 1;
			lfd = fds[fd]->ntb_listener - 1;
		}
		forget(fd);
		pthread_mutex_unlock(&lock);
	}
	if (lfd >= 0)
		REAL(close)(lfd);
	if (tfd >= 0)
		REAL(close)(tfd);
	return REAL(close)(fd);
}
