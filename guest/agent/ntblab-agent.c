// SPDX-License-Identifier: GPL-2.0-only
/*
 * ntblab-agent: the guest side of the ntblab control channel.
 *
 * Runs in the guest's initramfs, reads requests from a virtio-serial port
 * (default name org.ntblab.ctl), runs commands (by default chrooted into the
 * host's read-only root, see guest/init) and streams back their stdout,
 * stderr and exit status.  Binary-safe; output of any size is streamed in
 * chunks.  The wire format is documented in docs/guest-and-qemu.md; the
 * host's side is the runner's AgentClient (cli/lib/agent_client.cpp).
 *
 * Frame: 12-byte header, then `len` payload bytes; integers little-endian.
 *   u8 magic[2] = "NT", u8 version = 1, u8 type, u32 id, u32 len
 * Host -> guest:
 *   'P' ping       payload empty; answered by 'P' with an info string
 *   'R' run        u32 timeout_ms (0: none), u32 flags, u32 argc,
 *                  u32 stdin_len, argc NUL-terminated strings, stdin bytes
 *                  flags bit 0: run in the initramfs, not in the chroot
 *                  bit 1: batch: stop the batch unless the exit status is
 *                  bits 8..15 (bit 2: any status will do) and no timeout
 *   'S' shutdown   answered by 'S', then the guest powers off
 * Guest -> host (same id as the request):
 *   'O' / 'E'      a chunk of the command's stdout / stderr
 *   'X' exit       i32 status (exit code, 128+signal, 124 timeout,
 *                  127 could not exec), u32 flags (bit 0: timed out),
 *                  u64 start_ns, u64 end_ns (the guest's CLOCK_MONOTONIC)
 *   'F' failure    the request was malformed; payload is a message
 *
 * Batch mode (-b FILE): the requests come from FILE (written by the runner
 * into the initramfs) instead of the port, the answers go to the port (a
 * serial line, set raw), and the guest powers off after the last request or
 * the first failed checked step.  Nothing from the host reaches the guest
 * while it runs: docs/modelled-time.md, "Batch mode".
 *
 * Build: gcc -static -O2 -o ntblab-agent ntblab-agent.c
 * Usage: ntblab-agent [-p PORTNAME|/dev/PATH] [-r ROOT] [-b REQUESTS]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fd_io.h"

#define PROTO_VERSION   1
#define HDR_SIZE        12
#define MAX_REQUEST     (64u << 20)     /* argv + stdin */
#define CHUNK           65536
#define FLAG_NOCHROOT   0x1u
#define FLAG_CHECK      0x2u            /* batch: stop unless status matches */
#define FLAG_ANY        0x4u            /* batch: any status matches */
#define XFLAG_TIMEDOUT  0x1u
/* After the command exits, keep forwarding output for this long if some
 * background process still holds its stdout/stderr open. */
#define LINGER_MS       200

static int port_fd = -1;
static const char *chroot_dir = "/host";

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t now_ms(void)
{
    return (int64_t)(now_ns() / 1000000u);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Send one frame.  Errors (host gone) are ignored: the host side discards
 * frames of requests it no longer waits for. */
static void send_frame(char type, uint32_t id, const void *data, uint32_t len)
{
    unsigned char hdr[HDR_SIZE] = { 'N', 'T', PROTO_VERSION, (unsigned char)type };

    put_u32(hdr + 4, id);
    put_u32(hdr + 8, len);
    if (write_all(port_fd, hdr, HDR_SIZE) == 0 && len)
        write_all(port_fd, data, len);
}

static void reap_strays(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

/* ---- run ---------------------------------------------------------------- */

/* Does process `pid` hold an fd on the pipe whose inode is out_ino or err_ino? */
static int holds_pipe(pid_t pid, ino_t out_ino, ino_t err_ino)
{
    char dir[64], link[64], want_out[48], want_err[48];
    struct dirent *e;
    DIR *d;
    int found = 0;

    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    snprintf(want_out, sizeof(want_out), "pipe:[%lu]", (unsigned long)out_ino);
    snprintf(want_err, sizeof(want_err), "pipe:[%lu]", (unsigned long)err_ino);
    d = opendir(dir);
    if (!d)
        return 0;
    while (!found && (e = readdir(d))) {
        char path[384];
        ssize_t n;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = 0;
        found = !strcmp(link, want_out) || !strcmp(link, want_err);
    }
    closedir(d);
    return found;
}

/*
 * A step that timed out: kill the command and every process of its session
 * that still writes to the step's stdout or stderr.  A server it started in
 * the background with its output redirected (`srv >log 2>&1 &`) no longer
 * holds them and lives on (docs/scenario-format.md, steps).
 */
static void kill_timed_out(pid_t sid, ino_t out_ino, ino_t err_ino)
{
    DIR *d = opendir("/proc");
    struct dirent *e;

    kill(sid, SIGKILL);
    if (!d) {
        kill(-sid, SIGKILL);
        return;
    }
    while ((e = readdir(d))) {
        pid_t p = (pid_t)atoi(e->d_name);

        if (p <= 0 || p == sid || getsid(p) != sid)
            continue;
        if (holds_pipe(p, out_ino, err_ino))
            kill(p, SIGKILL);
    }
    closedir(d);
}


static void run_child(char **argv, uint32_t flags, int in_fd, int out_w,
                      int err_w)
{
    static char *const envp[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root", "TERM=dumb", "LANG=C.UTF-8", "USER=root",
        "LOGNAME=root", "SHELL=/bin/sh", NULL
    };

    setsid();
    signal(SIGPIPE, SIG_DFL);
    if (in_fd < 0)
        in_fd = open("/dev/null", O_RDONLY);
    dup2(in_fd, 0);
    dup2(out_w, 1);
    dup2(err_w, 2);
    if (!(flags & FLAG_NOCHROOT) && chroot(chroot_dir) != 0) {
        dprintf(2, "ntblab-agent: chroot %s: %s\n", chroot_dir, strerror(errno));
        _exit(127);
    }
    if (chdir("/") != 0)
        _exit(127);
    environ = (char **)envp;
    execvp(argv[0], argv);
    dprintf(2, "ntblab-agent: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/*
 * Run one request; false when it was a checked batch step that failed (or
 * the request was refused), so a batch stops there.
 */
static int do_run(uint32_t id, unsigned char *req, uint32_t len)
{
    uint32_t timeout_ms, flags, argc, in_len, i, off = 16;
    char **argv;
    int out[2], err[2], in_fd = -1, open_fds = 2, status = 0, exited = 0;
    uint32_t xflags = 0;
    int64_t deadline, linger_end = 0;
    ino_t out_ino, err_ino;
    pid_t pid;
    unsigned char xbuf[24];
    uint64_t start_ns;
    static char chunk[CHUNK];

    if (len < 16) {
        send_frame('F', id, "short run request", 17);
        return 0;
    }
    timeout_ms = get_u32(req);
    flags = get_u32(req + 4);
    argc = get_u32(req + 8);
    in_len = get_u32(req + 12);
    if (argc == 0 || argc > 65536 || in_len > len - 16) {
        send_frame('F', id, "bad run header", 14);
        return 0;
    }
    argv = calloc(argc + 1, sizeof(*argv));
    for (i = 0; i < argc; i++) {
        char *s = (char *)req + off;
        size_t max = len - in_len - off;
        size_t n = off < len - in_len ? strnlen(s, max) : max;

        if (n == max) {
            free(argv);
            send_frame('F', id, "bad argv", 8);
            return 0;
        }
        argv[i] = s;
        off += (uint32_t)n + 1;
    }
    if (in_len) {
        in_fd = memfd_create("stdin", 0);
        if (in_fd < 0 || write_all(in_fd, req + len - in_len, in_len) < 0 ||
            lseek(in_fd, 0, SEEK_SET) != 0) {
            free(argv);
            send_frame('F', id, "cannot buffer stdin", 19);
            if (in_fd >= 0)
                close(in_fd);
            return 0;
        }
    }
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
        free(argv);
        send_frame('F', id, "pipe failed", 11);
        return 0;
    }

    start_ns = now_ns();
    pid = fork();
    if (pid == 0)
        run_child(argv, flags, in_fd, out[1], err[1]);
    free(argv);
    close(out[1]);
    close(err[1]);
    if (in_fd >= 0)
        close(in_fd);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        send_frame('F', id, "fork failed", 11);
        return 0;
    }

    deadline = timeout_ms ? now_ms() + timeout_ms : 0;
    {
        struct stat st;

        out_ino = fstat(out[0], &st) ? 0 : st.st_ino;
        err_ino = fstat(err[0], &st) ? 0 : st.st_ino;
    }
    struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };

    for (;;) {
        int64_t now = now_ms();
        int wait_ms = 100, k;

        if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
            exited = 1;
            linger_end = now + LINGER_MS;
        }
        if (exited && (open_fds == 0 || now >= linger_end))
            break;
        if (!exited && deadline && now >= deadline) {
            kill_timed_out(pid, out_ino, err_ino);
            waitpid(pid, &status, 0);
            exited = 1;
            xflags |= XFLAG_TIMEDOUT;
            linger_end = now + LINGER_MS;
            continue;
        }
        if (poll(pfd, 2, wait_ms) < 0 && errno != EINTR)
            break;
        for (k = 0; k < 2; k++) {
            ssize_t n;

            if (pfd[k].fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(pfd[k].fd, chunk, sizeof(chunk));
            if (n > 0) {
                send_frame(k ? 'E' : 'O', id, chunk, (uint32_t)n);
                if (exited)
                    linger_end = now_ms() + LINGER_MS;
            } else if (n == 0 || errno != EINTR) {
                close(pfd[k].fd);
                pfd[k].fd = -1;
                open_fds--;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        if (pfd[k].fd >= 0)
            close(pfd[k].fd);

    if (xflags & XFLAG_TIMEDOUT)
        status = 124;
    else if (WIFEXITED(status))
        status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        status = 128 + WTERMSIG(status);
    put_u32(xbuf, (uint32_t)status);
    put_u32(xbuf + 4, xflags);
    put_u64(xbuf + 8, start_ns);
    put_u64(xbuf + 16, now_ns());
    send_frame('X', id, xbuf, sizeof(xbuf));
    if (!(flags & FLAG_CHECK))
        return 1;
    return !(xflags & XFLAG_TIMEDOUT) &&
           ((flags & FLAG_ANY) || status == (int)((flags >> 8) & 0xff));
}

/* ---- port --------------------------------------------------------------- */

/* Find /dev/vportNpM whose /sys/class/virtio-ports/.../name is `name`. */
static int find_port(const char *name, char *path, size_t size)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    int found = 0;

    if (!d)
        return 0;
    while (!found && (e = readdir(d))) {
        char p[512], buf[256] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
        f = fopen(p, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof(buf), f)) {
            buf[strcspn(buf, "\n")] = 0;
            if (strcmp(buf, name) == 0) {
                snprintf(path, size, "/dev/%s", e->d_name);
                found = 1;
            }
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static void info_string(char *buf, size_t size)
{
    struct utsname u;

    uname(&u);
    snprintf(buf, size, "ntblab-agent %d %s %s", PROTO_VERSION, u.release,
             u.nodename);
}

/*
 * Tell the modelled switch that this host powers off: the lab's leave marker
 * (0x21657962 at offset 0xff0 of the NT function's config space; a lab-only
 * register, docs/modelled-time.md "Leaving"). In modelled time the link then
 * goes down at this instruction, not when QEMU exits.
 */
static void leave_marker(void)
{
    const char *dir = "/sys/bus/pci/devices";
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned char bye[4];

    put_u32(bye, 0x21657962u);
    while (d && (e = readdir(d))) {
        char path[512], id[16] = "";
        int fd;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/device", dir, e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (read(fd, id, sizeof(id) - 1) < 0)
            id[0] = 0;
        close(fd);
        if (strncmp(id, "0x87b0", 6) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s/config", dir, e->d_name);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (pwrite(fd, bye, sizeof(bye), 0xff0) != (ssize_t)sizeof(bye))
                fprintf(stderr, "ntblab-agent: leave marker: %s\n", strerror(errno));
            close(fd);
        }
    }
    if (d)
        closedir(d);
}

/* Answer 'S' (id 0: the batch stopped early), let the line drain, power off. */
static void power_off(uint32_t id)
{
    send_frame('S', id, NULL, 0);
    if (isatty(port_fd))
        tcdrain(port_fd);
    sync();
    leave_marker();
    usleep(100000);
    reboot(RB_POWER_OFF);
    _exit(0);
}

/* Open the port: a virtio-serial port by name, or a device path. */
static int open_port(const char *port)
{
    char path[300];
    int tries;

    if (port[0] == '/') {
        snprintf(path, sizeof(path), "%s", port);
    } else {
        for (tries = 0; !find_port(port, path, sizeof(path)); tries++) {
            if (tries == 100) {
                fprintf(stderr, "ntblab-agent: no virtio port named %s\n", port);
                return -1;
            }
            usleep(50000);
        }
    }
    for (tries = 0; (port_fd = open(path, O_RDWR | O_CLOEXEC)) < 0; tries++) {
        if (tries == 100) {
            fprintf(stderr, "ntblab-agent: open %s: %s\n", path, strerror(errno));
            return -1;
        }
        usleep(50000);
    }
    if (isatty(port_fd)) {
        /* A serial line: bytes as they are, no newline translation. */
        struct termios t;

        if (tcgetattr(port_fd, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(port_fd, TCSANOW, &t);
        }
    }
    fprintf(stderr, "ntblab-agent: listening on %s (%s)\n", path, port);
    return 0;
}

int main(int argc, char **argv)
{
    const char *port = "org.ntblab.ctl", *batch = NULL;
    int opt, req_fd;

    while ((opt = getopt(argc, argv, "p:r:b:")) != -1) {
        switch (opt) {
        case 'p': port = optarg; break;
        case 'r': chroot_dir = optarg; break;
        case 'b': batch = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-p PORTNAME|/dev/PATH] [-r ROOT] [-b REQUESTS]\n",
                    argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    if (open_port(port))
        return 1;
    req_fd = port_fd;
    if (batch) {
        req_fd = open(batch, O_RDONLY | O_CLOEXEC);
        if (req_fd < 0) {
            fprintf(stderr, "ntblab-agent: open %s: %s\n", batch, strerror(errno));
            power_off(0);
        }
    }

    for (;;) {
        unsigned char hdr[HDR_SIZE], *payload = NULL;
        uint32_t id, len;

        reap_strays();
        if (read_all(req_fd, hdr, HDR_SIZE) < 0) {
            if (batch)
                power_off(0);   /* the requests ended without 'S' */
            usleep(20000);          /* host not connected */
            continue;
        }
        if (hdr[0] != 'N' || hdr[1] != 'T' || hdr[2] != PROTO_VERSION) {
            /* Out of sync: drop whatever is buffered and start over. */
            char junk[4096];
            int fl = fcntl(req_fd, F_GETFL);

            if (batch)
                power_off(0);
            fcntl(req_fd, F_SETFL, fl | O_NONBLOCK);
            while (read(req_fd, junk, sizeof(junk)) > 0)
                ;
            fcntl(req_fd, F_SETFL, fl);
            continue;
        }
        id = get_u32(hdr + 4);
        len = get_u32(hdr + 8);
        if (len > MAX_REQUEST) {
            send_frame('F', id, "request too large", 17);
            if (batch)
                power_off(0);
            continue;
        }
        payload = malloc(len ? len : 1);
        if (!payload || read_all(req_fd, payload, len) < 0) {
            free(payload);
            if (batch)
                power_off(0);
            continue;
        }
        switch (hdr[3]) {
        case 'P': {
            char info[256];

            info_string(info, sizeof(info));
            send_frame('P', id, info, (uint32_t)strlen(info));
            break;
        }
        case 'R':
            if (!do_run(id, payload, len) && batch)
                power_off(0);
            break;
        case 'S':
            power_off(id);
            break;
        default:
            send_frame('F', id, "unknown request type", 20);
        }
        free(payload);
    }
}
