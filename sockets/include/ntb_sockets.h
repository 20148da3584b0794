/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ntb_sockets.h - user-space header for the af_ntb socket family.
 *
 * af_ntb sockets are SOCK_STREAM sockets with IPv4 addresses (struct
 * sockaddr_in, sin_family AF_INET or AF_NTB) whose data goes over PCIe NTB.
 * The family number is a module parameter (default 27): use ntb_family()
 * rather than AF_NTB when the module may have been loaded with another.
 *
 * Header-only, C and C++.
 */
#ifndef NTB_SOCKETS_H
#define NTB_SOCKETS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_NTB
#define AF_NTB 27 /* as AF_INET_SDP and Dolphin SuperSockets */
#endif
#ifndef PF_NTB
#define PF_NTB AF_NTB
#endif

#define NTB_PROC_PEERS "/proc/net/af_ntb/peers"
#define NTB_PROC_STATUS "/proc/net/af_ntb/status"
#define NTB_SYS_FAMILY "/sys/module/af_ntb/parameters/family"

#ifdef __cplusplus
extern "C" {
#endif

/* The family number in use: $NTB_FAMILY, else the loaded module's, else 27 */
static inline int ntb_family(void)
{
	const char *env = getenv("NTB_FAMILY");
	int fam = AF_NTB;
	FILE *f;

	if (env && *env)
		return atoi(env);
	f = fopen(NTB_SYS_FAMILY, "re");
	if (f) {
		if (fscanf(f, "%d", &fam) != 1)
			fam = AF_NTB;
		fclose(f);
	}
	return fam;
}

/* An af_ntb stream socket (flags as for socket(2): SOCK_NONBLOCK, ...) */
static inline int ntb_socket(int flags)
{
	return socket(ntb_family(), SOCK_STREAM | flags, 0);
}

/* 1 if the family is registered (the module is loaded) */
static inline int ntb_available(void)
{
	int fd = ntb_socket(0);
	int e = errno;

	if (fd < 0) {
		errno = e;
		return 0;
	}
	close(fd);
	return 1;
}

/*
 * 1 if @addr (network order) is a peer in the kernel's address table
 * (/proc/net/af_ntb/peers: "self A.B.C.D" then "A.B.C.D DEVICE PORT" lines).
 * *self, if not NULL, gets the node's own fabric address (0 if unset).
 */
static inline int ntb_addr_on_fabric(in_addr_t addr, in_addr_t *self)
{
	char line[160], a[64];
	FILE *f = fopen(NTB_PROC_PEERS, "re");
	int found = 0;

	if (self)
		*self = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct in_addr ia;

		if (sscanf(line, "self %63s", a) == 1) {
			if (self && inet_pton(AF_INET, a, &ia) == 1)
				*self = ia.s_addr;
			continue;
		}
		if (sscanf(line, "%63s", a) == 1 &&
		    inet_pton(AF_INET, a, &ia) == 1 && ia.s_addr == addr)
			found = 1;
	}
	fclose(f);
	return found;
}

/* Fill a sockaddr_in from "A.B.C.D" and a port; 0 or -1 */
static inline int ntb_sockaddr(struct sockaddr_in *sin, const char *host,
			       unsigned short port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	if (!host || !*host) {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

#ifdef __cplusplus
}
#endif

#endif /* NTB_SOCKETS_H */
