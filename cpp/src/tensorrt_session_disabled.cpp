// Built instead of the TensorRT backend when CMake found no TensorRT headers or CUDA toolkit.
#include "session.hpp"

#include <trtmatte/error.hpp>

namespace trtmatte {

std::unique_ptr<Session> open_tensorrt(const std::string& path, const Options&) {
    throw Error(Errc::Unsupported, path + " is a TensorRT plan, but this libtrtmatte was built without the TensorRT "
                                          "backend (no TensorRT headers or CUDA toolkit at build time): rebuild it with "
                                          "-DTensorRT_ROOT=/path/to/TensorRT, or open the exported ONNX graph (ONNX "
                                          "Runtime backend)");
}

}  // namespace trtmatte
