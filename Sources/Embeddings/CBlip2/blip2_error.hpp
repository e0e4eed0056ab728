// The one exception type the engine throws internally; the C API turns it into a
// blip2_status and a message (see c_api.cpp). Nothing else is allowed to escape.
#pragma once

#include <stdexcept>
#include <string>

#include "blip2.h"

namespace blip2 {

class Error : public std::runtime_error {
public:
    Error(blip2_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    blip2_status status() const { return status_; }

private:
    blip2_status status_;
};

}  // namespace blip2
