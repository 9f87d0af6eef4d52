// Noticing that a client hung up while its synchronous request is still being
// generated, so the request can be canceled and its batch slot freed. The
// HTTP library does not hand handlers their socket, so we find it: the one
// socket of this process whose two ends are the request's addresses. It
// stays ours until the handler returns (the library closes it after).
#pragma once
#include <string>

namespace emu35::app::serve {

class ConnectionWatch {
 public:
  ConnectionWatch(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);
  // True once the peer has closed (or reset) the connection; false while it
  // is open or when the socket could not be identified.
  bool closed() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace emu35::app::serve
