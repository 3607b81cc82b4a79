// What Matter asks of a backend's session (Python's MattingSession, trtmatte/runtime/session.py):
// ort_session.cpp (OrtSession), tensorrt_session.cpp (TensorRTSession). Matter validates pointers
// and sizes before calling run().
#pragma once

#include <trtmatte/matter.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace trtmatte {

class Session {
public:
    virtual ~Session() = default;
    // count images [height, width, 3], rows row_stride bytes apart (and, exactly when
    // info().needs_trimap, their trimaps [height, width], rows trimap_stride bytes apart)
    // -> count * height * width alpha bytes.
    virtual void run(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
                     const std::uint8_t* trimap, std::size_t trimap_stride, std::uint8_t* alpha) = 0;
    const Info& info() const noexcept { return info_; }

protected:
    Info info_;
};

// A graph's recorded inputs (metadata "inputs": "image" or "image,trimap"; empty if unrecorded)
// must be the ones the graph or engine has; otherwise the metadata describes another graph.
// Throws Incompatible naming `what` (the file) and `fix`.
void check_recorded_inputs(const std::string& recorded, bool has_trimap, const std::string& what,
                           const std::string& fix);

std::unique_ptr<Session> open_onnxruntime(const std::string& path, const Options& options);
// Defined in tensorrt_session.cpp, or in tensorrt_session_disabled.cpp when built without TensorRT headers.
std::unique_ptr<Session> open_tensorrt(const std::string& path, const Options& options);

}  // namespace trtmatte
