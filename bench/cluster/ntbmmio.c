// SPDX-License-Identifier: GPL-2.0-only
/*
 * ntbmmio: time MMIO on the PEX8749 NT function from inside a lab guest.
 *   ntbmmio read-rtt BAR OFFSET COUNT   mean wall time of one 32-bit read, us
 *   ntbmmio write-bw BAR OFFSET BYTES   posted writes through the BAR, MB/s
 *   ntbmmio read-ticks BAR OFFSET COUNT one 32-bit read at a time between two
 *                                       rdtsc: "min p50 max overhead" in TSC
 *                                       ticks (overhead: rdtsc to rdtsc). Under
 *                                       modelled time the TSC counts the
 *                                       guest's virtual ns (docs/modelled-time.md).
 *   ntbmmio send-ticks BAR OFFSET       one 8-byte posted write of the TSC
 *                                       through the BAR (a window to the peer)
 *   ntbmmio recv-ticks PHYS SECONDS OUT zero 8 bytes of RAM at PHYS (/dev/mem: a
 *                                       region the kernel leaves alone, e.g.
 *                                       memmap=16M$0xC000000) and return; a
 *                                       child waits up to SECONDS (TSC ticks /
 *                                       1e9) for the peer's send-ticks to land
 *                                       there and writes "arrived - sent" in
 *                                       ticks to the file OUT. Under
 *                                       modelled time every guest's TSC is the
 *                                       run's one clock, so this is the write's
 *                                       one-way time.
 * BARs are mmap'ed from sysfs (resourceN, or resourceN_wc for prefetchable
 * ones, as drivers map NTB windows write-combining). Prints one number.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static inline uint64_t ticks(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int find_device(char *path, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char f[512], buf[32];

	while (d && (e = readdir(d))) {
		FILE *v;

		snprintf(f, sizeof(f), "/sys/bus/pci/devices/%s/device", e->d_name);
		v = fopen(f, "r");
		if (!v)
			continue;
		if (fgets(buf, sizeof(buf), v) && strtoul(buf, NULL, 16) == 0x87b0) {
			snprintf(path, len, "/sys/bus/pci/devices/%s", e->d_name);
			fclose(v);
			closedir(d);
			return 0;
		}
		fclose(v);
	}
	if (d)
		closedir(d);
	return -1;
}

static volatile uint8_t *map_bar(const char *dev, int bar, size_t *size)
{
	char f[600];
	struct stat st;
	int fd;
	void *p;

	snprintf(f, sizeof(f), "%s/resource%d_wc", dev, bar);
	fd = open(f, O_RDWR | O_SYNC);
	if (fd < 0) {
		snprintf(f, sizeof(f), "%s/resource%d", dev, bar);
		fd = open(f, O_RDWR | O_SYNC);
	}
	if (fd < 0 || fstat(fd, &st)) {
		perror(f);
		exit(1);
	}
	*size = st.st_size;
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	char dev[300];
	size_t size;
	volatile uint8_t *b;
	unsigned long off, n, i;
	double t0, t;

	if (argc == 5 && !strcmp(argv[1], "recv-ticks")) {
		int fd = open("/dev/mem", O_RDWR | O_SYNC);
		off_t phys = (off_t)strtoull(argv[2], NULL, 0);
		uint64_t limit = (uint64_t)(atof(argv[3]) * 1e9), t0, v = 0;
		volatile uint64_t *m;
		unsigned long spin;
		FILE *out;

		if (fd < 0 || (phys & 4095)) {
			perror("/dev/mem");
			return 1;
		}
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, phys);
		if (m == MAP_FAILED) {
			perror("mmap /dev/mem");
			return 1;
		}
		*m = 0;
		/* ready: the caller goes on while the child waits */
		if (fork() != 0)
			return 0;
		setsid();
		fd = open("/dev/null", O_RDWR);   /* let the caller's output pipes close */
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		t0 = ticks();
		do {
			/* a few instructions a turn; the clock is read only now and then */
			for (spin = 0; spin < 4096 && !(v = *m); spin++)
				;
		} while (!v && ticks() - t0 < limit);
		t0 = ticks();
		out = fopen(argv[4], "w");
		if (!out)
			return 1;
		if (v)
			fprintf(out, "%llu\n", (unsigned long long)(t0 - v));
		else
			fprintf(out, "nothing arrived\n");
		return fclose(out) != 0 || !v;
	}
	if (argc != 5 && !(argc == 4 && !strcmp(argv[1], "send-ticks"))) {
		fprintf(stderr, "usage: %s read-rtt|write-bw|read-ticks BAR OFFSET COUNT|BYTES\n"
			"       %s send-ticks BAR OFFSET | recv-ticks PHYS SECONDS OUTFILE\n", argv[0], argv[0]);
		return 2;
	}
	if (find_device(dev, sizeof(dev))) {
		fprintf(stderr, "no 10b5:87b0 device\n");
		return 1;
	}
	b = map_bar(dev, atoi(argv[2]), &size);
	off = strtoul(argv[3], NULL, 0);
	if (!strcmp(argv[1], "send-ticks")) {
		if (off + 8 > size || (off & 7))
			return 2;
		*(volatile uint64_t *)(b + off) = ticks();
		return 0;   /* the QEMU device sends it on (no read: it would be timed too) */
	}
	n = strtoul(argv[4], NULL, 0);
	if (!strcmp(argv[1], "read-rtt")) {
		uint32_t sink = 0;

		if (off + 4 > size)
			return 2;
		t0 = now();
		for (i = 0; i < n; i++)
			sink += *(volatile uint32_t *)(b + off);
		t = now() - t0;
		printf("%.3f\n", t / n * 1e6);
		return sink == 0xdeadbeef;  /* keep the reads */
	}
	if (!strcmp(argv[1], "read-ticks")) {
		uint64_t *d = calloc(n ? n : 1, sizeof(*d)), over = UINT64_MAX;
		uint32_t sink = 0;

		if (off + 4 > size || !n || !d)
			return 2;
		for (i = 0; i < n; i++) {
			uint64_t t1, t2 = ticks();

			sink += *(volatile uint32_t *)(b + off);
			t1 = ticks();
			d[i] = t1 - t2;
			t2 = ticks();
			t1 = ticks();
			if (t1 - t2 < over)
				over = t1 - t2;
		}
		qsort(d, n, sizeof(*d), cmp_u64);
		printf("%llu %llu %llu %llu\n", (unsigned long long)d[0],
		       (unsigned long long)d[n / 2], (unsigned long long)d[n - 1],
		       (unsigned long long)over);
		free(d);
		return sink == 0xdeadbeef;
	}
	if (!strcmp(argv[1], "write-bw")) {
		static uint64_t src[512];
		unsigned long done = 0;

		for (i = 0; i < 512; i++)
			src[i] = i * 0x0101010101010101ull;
		t0 = now();
		while (done < n) {
			unsigned long pos = (off + done) % size & ~7ul;
			unsigned long chunk = sizeof(src);

			if (pos + chunk > size)
				pos = 0;
			for (i = 0; i < chunk / 8; i++)
				((volatile uint64_t *)(b + pos))[i] = src[i];
			done += chunk;
		}
		/* a read flushes the posted writes before the clock stops */
		(void)*(volatile uint32_t *)(b + off);
		t = now() - t0;
		printf("%.3f\n", done / t / 1e6);
		return 0;
	}
	return 2;
}
