// trtmatte::Error: every failure of the C++ API, with a one-line message that names the problem
// and the fix (the same wording as the Python package where both check the same thing).
#pragma once

#include <trtmatte/export.h>

#include <stdexcept>
#include <string>

namespace trtmatte {

// Coarse enough for a caller to branch on; the message says the rest. The values are the C ABI's
// trtmatte_status codes (trtmatte_c.h).
enum class Errc : int {
    InvalidArgument = 1,  // null pointer, bad size, shape outside the engine's profile
    NotFound = 2,         // model file, sidecar, or a backend library missing
    Unsupported = 3,      // wrong file type, backend not built in, no GPU
    Incompatible = 4,     // a plan built for another TensorRT or GPU (its sidecar says so)
    Runtime = 5,          // the backend failed while running
    OutOfMemory = 6,
    Internal = 7,
};

class TRTMATTE_API Error : public std::runtime_error {
public:
    // Line breaks in `message` (e.g. from a backend's own error text) become spaces.
    Error(Errc code, const std::string& message);
    Errc code() const noexcept { return code_; }

private:
    Errc code_;
};

}  // namespace trtmatte
