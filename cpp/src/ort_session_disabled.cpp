// Built instead of the ONNX Runtime backend with -DTRTMATTE_WITH_ONNXRUNTIME=OFF.
#include "session.hpp"

#include <trtmatte/error.hpp>

namespace trtmatte {

std::unique_ptr<Session> open_onnxruntime(const std::string& path, const Options&) {
    throw Error(Errc::Unsupported, path + " is an ONNX graph, but this libtrtmatte was built without the ONNX Runtime "
                                          "backend (-DTRTMATTE_WITH_ONNXRUNTIME=OFF): rebuild it with the backend on");
}

}  // namespace trtmatte
