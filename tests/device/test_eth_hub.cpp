// SPDX-License-Identifier: GPL-2.0-only
// The Ethernet hub behind the guests' virtio-net: frames from one node reach
// every other node (not the sender); a port that sends garbage is closed alone.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "eth_hub.h"
#include "node_link_client.h"

using ntblab::sw::EthHub;

namespace {
int connect_to(const std::string& path) {
  int fd = ntblab::test::connect_unix(path);
  EXPECT_GE(fd, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}
void send_frame(int fd, const std::string& f) {
  uint32_t be = htonl(uint32_t(f.size()));
  ASSERT_EQ(write(fd, &be, 4), 4);
  ASSERT_EQ(write(fd, f.data(), f.size()), ssize_t(f.size()));
}
std::string recv_frame(int fd) {
  uint32_t be;
  if (recv(fd, &be, 4, MSG_WAITALL) != 4) return "<none>";
  std::string f(ntohl(be), '\0');
  if (recv(fd, f.data(), f.size(), MSG_WAITALL) != ssize_t(f.size())) return "<short>";
  return f;
}
}  // namespace

TEST(EthHub, FramesReachEveryOtherPort) {
  std::string path = "/tmp/ntblab-hub-" + std::to_string(getpid()) + ".sock";
  EthHub hub(path);
  int a = connect_to(path), b = connect_to(path), c = connect_to(path);
  usleep(50000);  // the hub accepts on its own thread
  send_frame(a, "hello from a");
  EXPECT_EQ(recv_frame(b), "hello from a");
  EXPECT_EQ(recv_frame(c), "hello from a");
  send_frame(c, std::string(1500, 'x'));
  EXPECT_EQ(recv_frame(a).size(), 1500u);
  EXPECT_EQ(recv_frame(b).size(), 1500u);
  timeval tv{0, 200000};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(recv_frame(c), "<none>");  // the sender does not hear itself

  uint32_t huge = htonl(1u << 30);  // not a frame: port b is closed, the others go on
  ASSERT_EQ(write(b, &huge, 4), 4);
  char x;
  EXPECT_EQ(recv(b, &x, 1, 0), 0);
  send_frame(a, "still here");
  EXPECT_EQ(recv_frame(c), "still here");
  EXPECT_EQ(hub.frames(), 3u);
  close(a), close(b), close(c);
}

TEST(EthHub, ClosedPortsAreRemoved) {
  std::string path = "/tmp/ntblab-hub-churn-" + std::to_string(getpid()) + ".sock";
  EthHub hub(path);
  int a = connect_to(path), b = connect_to(path);
  auto wait_ports = [&](size_t n) {
    for (int i = 0; i < 1000 && hub.ports() != n; ++i) usleep(2000);
    return hub.ports();
  };
  EXPECT_EQ(wait_ports(2), 2u);
  for (int i = 0; i < 20000; ++i) {  // connect and go away, over and over
    int fd = connect_to(path);
    if (i % 3 == 1) {  // not a frame stream: the hub closes the port itself
      uint32_t huge = htonl(1u << 30);
      ASSERT_EQ(write(fd, &huge, 4), 4);
    } else if (i % 3 == 2) {  // half a length word, then gone
      ASSERT_EQ(write(fd, "\0\0", 2), 2);
    }
    close(fd);
    if (i % 1000 == 999) {
      ASSERT_LE(wait_ports(2), 2u) << "after " << i + 1 << " cycles";
    }
  }
  EXPECT_EQ(wait_ports(2), 2u);
  send_frame(a, "still a hub");  // the live ports still talk
  EXPECT_EQ(recv_frame(b), "still a hub");
  close(a);
  EXPECT_EQ(wait_ports(1), 1u);
  close(b);
  EXPECT_EQ(wait_ports(0), 0u);
}
