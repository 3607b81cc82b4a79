// What Matter asks of a backend. Matter validates pointers and sizes before calling run().
#pragma once

#include <trtmatte/matter.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace trtmatte {

class Backend {
public:
    virtual ~Backend() = default;
    // count images [height, width, 3], rows row_stride bytes apart -> count * height * width alpha bytes.
    virtual void run(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
                     std::uint8_t* alpha) = 0;
    const Info& info() const noexcept { return info_; }

protected:
    Info info_;
};

std::unique_ptr<Backend> open_onnxruntime(const std::string& path, const Options& options);
// Defined in tensorrt_backend.cpp, or in tensorrt_disabled.cpp when built without TensorRT headers.
std::unique_ptr<Backend> open_tensorrt(const std::string& path, const Options& options);

}  // namespace trtmatte
