// SPDX-License-Identifier: GPL-2.0-only
// An Ethernet hub for the guests' virtio-net links (TCP/IP baselines): QEMU's
// `-netdev stream` clients connect to one AF_UNIX socket; every frame one
// node sends goes to every other node. Frames are a 4-byte big-endian length
// and the frame, as QEMU's stream and socket netdevs write them. Runs on its
// own thread; a node that does not keep up loses frames, as on a real hub.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace ntblab::sw {

class EthHub {
 public:
  explicit EthHub(std::string socket_path);
  ~EthHub();
  EthHub(const EthHub&) = delete;
  EthHub& operator=(const EthHub&) = delete;

  uint64_t frames() const { return frames_; }
  uint64_t dropped() const { return dropped_; }
  /// Ports connected now (closed ones are removed).
  size_t ports() const { return live_ports_; }

 private:
  struct Port {
    int fd;
    std::vector<uint8_t> in;
  };
  void loop();
  void accept_port();
  void read_port(uint64_t id);
  void forward(uint64_t from, const uint8_t* frame, size_t len);
  void drop_port(Port& p);  // closes it; removed from ports_ at the end of the round

  std::string path_;
  int listen_fd_ = -1, epfd_ = -1, stopfd_ = -1;
  std::map<uint64_t, Port> ports_;  // by id, the port's epoll tag; ids are never reused
  uint64_t next_id_ = 0;
  /// accept() ran out of file descriptors: the listener is not polled until then.
  std::chrono::steady_clock::time_point listen_paused_until_{};
  std::atomic<size_t> live_ports_{0};
  std::atomic<uint64_t> frames_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace ntblab::sw
