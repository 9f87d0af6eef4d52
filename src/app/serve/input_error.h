// A client error found while reading a request: the HTTP status to answer and
// the field at fault (what() starts with the field's name).
#pragma once
#include <string>

#include "common/error.h"

namespace emu35::app::serve {

class InputError : public Error {
 public:
  InputError(int status, std::string field, const std::string& message)
      : Error(field.empty() ? message : field + ": " + message), status_(status), field_(std::move(field)) {}
  int status() const { return status_; }
  const std::string& field() const { return field_; }

 private:
  int status_;
  std::string field_;
};

}  // namespace emu35::app::serve
