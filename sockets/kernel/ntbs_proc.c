// SPDX-License-Identifier: GPL-2.0
/*
 * af_ntb: the address table, /proc/net/af_ntb/peers, and a status file.
 *
 * The table maps IPv4 addresses on the fabric to NTB peers.  The lab (root)
 * writes one command per line:
 *
 *   self 10.1.0.1            this node's fabric address
 *   add 10.1.0.2 - 0         address, NTB device ("-": any), peer port
 *   add 10.1.0.3 0000:00:04.0 2
 *   del 10.1.0.2
 *   flush                    remove every entry (self too)
 *
 * Reading gives "self ADDR" and then "ADDR DEVICE PORT" lines, which is what
 * the preload library parses.  /proc/net/af_ntb/status shows devices, peers
 * and sessions.
 */
#include <linux/ctype.h>
#include <linux/inet.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>

#include "ntbs.h"

#define NTBS_ROUTES_MAX	256
#define NTBS_DEV_NAME	40

struct ntbs_route_ent {
	struct list_head list;
	__be32 addr;
	int port;
	char dev[NTBS_DEV_NAME];
};

static LIST_HEAD(ntbs_routes);
static DEFINE_MUTEX(ntbs_routes_lock);
static int ntbs_nroutes;
static __be32 ntbs_self;
static struct proc_dir_entry *ntbs_proc_dir;

/**
 * ntbs_self_addr() - this node's fabric address
 *
 * Return: the address (network order), or INADDR_ANY when not set.
 */
__be32 ntbs_self_addr(void)
{
	return READ_ONCE(ntbs_self);
}

/**
 * ntbs_route() - the peer an address maps to
 * @addr:	IPv4 address, network order
 * @peer:	set to the peer, with a reference held
 *
 * Return: 0, -ENETUNREACH when the address is not in the table,
 * -EHOSTUNREACH when its device or peer is not there.
 */
int ntbs_route(__be32 addr, struct ntbs_peer **peer)
{
	struct ntbs_route_ent *e;
	int ret = -ENETUNREACH;

	mutex_lock(&ntbs_routes_lock);
	list_for_each_entry(e, &ntbs_routes, list) {
		if (e->addr != addr)
			continue;
		*peer = ntbs_peer_find(e->dev, e->port);
		ret = *peer ? 0 : -EHOSTUNREACH;
		break;
	}
	mutex_unlock(&ntbs_routes_lock);
	return ret;
}

static struct ntbs_route_ent *ntbs_route_find(__be32 addr)
{
	struct ntbs_route_ent *e;

	list_for_each_entry(e, &ntbs_routes, list)
		if (e->addr == addr)
			return e;
	return NULL;
}

static int ntbs_parse_addr(const char *s, __be32 *addr)
{
	return in4_pton(s, -1, (u8 *)addr, -1, NULL) ? 0 : -EINVAL;
}

/* Caller holds ntbs_routes_lock */
static int ntbs_cmd(char *line)
{
	char *argv[4] = { NULL };
	struct ntbs_route_ent *e;
	int argc = 0, port;
	__be32 addr;
	char *tok;

	while ((tok = strsep(&line, " \t")) && argc < ARRAY_SIZE(argv)) {
		if (*tok)
			argv[argc++] = tok;
	}
	if (!argc)
		return 0;
	if (!strcmp(argv[0], "flush") && argc == 1) {
		struct ntbs_route_ent *n;

		list_for_each_entry_safe(e, n, &ntbs_routes, list) {
			list_del(&e->list);
			kfree(e);
		}
		ntbs_nroutes = 0;
		WRITE_ONCE(ntbs_self, 0);
		return 0;
	}
	if (argc < 2 || ntbs_parse_addr(argv[1], &addr))
		return -EINVAL;
	if (!strcmp(argv[0], "self") && argc == 2) {
		WRITE_ONCE(ntbs_self, addr);
		return 0;
	}
	if (!strcmp(argv[0], "del") && argc == 2) {
		e = ntbs_route_find(addr);
		if (!e)
			return -ENOENT;
		list_del(&e->list);
		ntbs_nroutes--;
		kfree(e);
		return 0;
	}
	if (strcmp(argv[0], "add") || argc != 4 ||
	    strlen(argv[2]) >= NTBS_DEV_NAME || kstrtoint(argv[3], 0, &port) ||
	    port < -1)
		return -EINVAL;
	e = ntbs_route_find(addr);
	if (!e) {
		if (ntbs_nroutes >= NTBS_ROUTES_MAX)
			return -ENOSPC;
		e = kzalloc(sizeof(*e), GFP_KERNEL);
		if (!e)
			return -ENOMEM;
		e->addr = addr;
		list_add_tail(&e->list, &ntbs_routes);
		ntbs_nroutes++;
	}
	strscpy(e->dev, argv[2], sizeof(e->dev));
	e->port = port;
	return 0;
}

static ssize_t ntbs_peers_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	char *buf, *p, *line;
	int ret = 0;

	if (count > PAGE_SIZE)
		return -E2BIG;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	p = buf;
	mutex_lock(&ntbs_routes_lock);
	while ((line = strsep(&p, "\n")) && !ret) {
		line = strim(line);
		if (*line && *line != '#')
			ret = ntbs_cmd(line);
	}
	mutex_unlock(&ntbs_routes_lock);
	kfree(buf);
	return ret ? ret : count;
}

static int ntbs_peers_show(struct seq_file *m, void *v)
{
	struct ntbs_route_ent *e;
	__be32 self = ntbs_self_addr();

	mutex_lock(&ntbs_routes_lock);
	seq_printf(m, "self %pI4\n", &self);
	list_for_each_entry(e, &ntbs_routes, list)
		seq_printf(m, "%pI4 %s %d\n", &e->addr, e->dev, e->port);
	mutex_unlock(&ntbs_routes_lock);
	return 0;
}

static int ntbs_peers_open(struct inode *inode, struct file *file)
{
	return single_open(file, ntbs_peers_show, NULL);
}

static const struct proc_ops ntbs_peers_ops = {
	.proc_open = ntbs_peers_open,
	.proc_read = seq_read,
	.proc_write = ntbs_peers_write,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int ntbs_status_show(struct seq_file *m, void *v)
{
	seq_printf(m, "family %d\n", ntbs_family);
	ntbs_dev_show(m);
	return 0;
}

/**
 * ntbs_proc_init() - create /proc/net/af_ntb/{peers,status}
 *
 * Return: 0 or -ENOMEM.
 */
int ntbs_proc_init(void)
{
	ntbs_proc_dir = proc_mkdir("af_ntb", init_net.proc_net);
	if (!ntbs_proc_dir)
		return -ENOMEM;
	if (!proc_create("peers", 0644, ntbs_proc_dir, &ntbs_peers_ops) ||
	    !proc_create_single("status", 0444, ntbs_proc_dir,
				ntbs_status_show)) {
		proc_remove(ntbs_proc_dir);
		return -ENOMEM;
	}
	return 0;
}

/**
 * ntbs_proc_exit() - remove the files and the table
 */
void ntbs_proc_exit(void)
{
	proc_remove(ntbs_proc_dir);
	mutex_lock(&ntbs_routes_lock);
	ntbs_cmd((char[]){ "flush" });
	mutex_unlock(&ntbs_routes_lock);
}
