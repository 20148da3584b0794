// SPDX-License-Identifier: GPL-2.0-only
// The client end of a Unix socket as the device tests script it: connect to
// a node link or the Ethernet hub, and send one message with a file
// descriptor riding along (SCM_RIGHTS), as QEMU's device passes guest RAM.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ntblab::test {

/// Guest RAM as QEMU's memory-backend-memfd makes it: sealed against resizing.
inline int sealed_memfd(uint64_t size) {
  int fd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, off_t(size)) != 0) return -1;
  fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  return fd;
}

/// A stream socket connected to the Unix socket at `path`, or -1 (nothing left open).
inline int connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/// Sends `bytes` on `fd` in one sendmsg, with `pass_fd` attached when it is
/// not negative; true when all of `bytes` went.
inline bool send_with_fd(int fd, const std::vector<uint8_t>& bytes, int pass_fd = -1) {
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    mh.msg_control = ctrl;
    mh.msg_controllen = sizeof ctrl;
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
  }
  return sendmsg(fd, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

}  // namespace ntblab::test
