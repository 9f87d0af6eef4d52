// The one exception type the library throws for bad input or failed I/O.
// Messages name the file / tensor / field at fault so users can act on them.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace emu35 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// check(cond, "message") — throws Error when cond is false.
inline void check(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}

}  // namespace emu35
