// libnvinfer, loaded at run time. TensorRT's own createInferRuntime() is an inline function that
// calls createInferRuntime_INTERNAL(logger, NV_TENSORRT_VERSION); we resolve that one symbol with
// dlsym instead of linking, so libtrtmatte builds and loads where TensorRT is absent, and opening
// a plan there is a one-line "TensorRT not found" error. Everything else in the runtime API is
// virtual calls on the objects it returns, which need no symbols.
#pragma once

#include <NvInferRuntime.h>

#include <memory>
#include <mutex>
#include <string>

namespace trtmatte {

class TensorRTLibrary {
public:
    // The process's TensorRT: loaded on first use from `requested`, else $TRTMATTE_TENSORRT_LIBRARY,
    // else libnvinfer.so.<major of the headers this was built with>. Throws NotFound / Unsupported.
    static const TensorRTLibrary& load(const std::string& requested);

    const std::string& version() const noexcept { return version_; }  // "10.3.0.26", as tensorrt.__version__
    const std::string& path() const noexcept { return path_; }
    nvinfer1::IRuntime* create_runtime(nvinfer1::ILogger& logger) const;

private:
    using CreateRuntime = void* (*)(void*, std::int32_t);
    CreateRuntime create_ = nullptr;
    std::string version_, path_;
};

// Keeps TensorRT's errors for our one-line messages; TensorRT calls log() from any thread.
class CapturingLogger final : public nvinfer1::ILogger {
public:
    void log(Severity severity, nvinfer1::AsciiChar const* message) noexcept override;
    std::string last_error() const;  // "no message from TensorRT" when none

private:
    mutable std::mutex mutex_;
    std::string last_error_;
};

}  // namespace trtmatte
