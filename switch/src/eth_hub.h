// An Ethernet hub for the guests' virtio-net links (TCP/IP baselines): QEMU's
// `-netdev stream` clients connect to one AF_UNIX socket; every frame one
// node sends goes to every other node. Frames are a 4-byte big-endian length
// and the frame, as QEMU's stream and socket netdevs write them. Runs on its
// own thread; a node that does not keep up loses frames, as on a real hub.
#pragma once

#include <atomic>
#include <cstdint>
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

 private:
  struct Port {
    int fd;
    std::vector<uint8_t> in;
  };
  void loop();
  void forward(size_t from, const uint8_t* frame, size_t len);
  void drop_port(size_t i);

  std::string path_;
  int listen_fd_ = -1, epfd_ = -1, stopfd_ = -1;
  std::vector<Port> ports_;
  std::atomic<uint64_t> frames_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace ntblab::sw
