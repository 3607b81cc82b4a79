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
#include <vector>

namespace trtmatte {

class TensorRTLibrary {
public:
    // The process's TensorRT: loaded on first use from `requested`, else $TRTMATTE_TENSORRT_LIBRARY,
    // else libnvinfer.so.<major of the headers this was built with>. Throws NotFound / Unsupported.
    static const TensorRTLibrary& load(const std::string& requested);

    const std::string& version() const noexcept { return version_; }  // "10.3.0.26", as tensorrt.__version__
    const std::string& path() const noexcept { return path_; }
    // A runtime that logs to the process-wide ProcessLogger (TensorRT keeps the first logger it is
    // given for the whole process, NVIDIA/TensorRT#1475), which passes errors on to `logger`.
    nvinfer1::IRuntime* create_runtime() const;

private:
    using CreateRuntime = void* (*)(void*, std::int32_t);
    CreateRuntime create_ = nullptr;
    std::string version_, path_;
};

// Keeps TensorRT's errors for one open model's one-line messages. Not a TensorRT logger itself:
// it subscribes to the ProcessLogger while it lives, so closing a model never leaves TensorRT
// holding a destroyed logger.
class CapturingLogger {
public:
    CapturingLogger();
    ~CapturingLogger();
    CapturingLogger(const CapturingLogger&) = delete;
    CapturingLogger& operator=(const CapturingLogger&) = delete;
    void error(const char* message) noexcept;
    std::string last_error() const;  // "no message from TensorRT" when none

private:
    mutable std::mutex mutex_;
    std::string last_error_;
};

// The one logger every runtime in the process is created with: created on first use and never
// destroyed (TensorRT may log until the process ends), it hands each error to every
// CapturingLogger subscribed at that moment. TensorRT calls log() from any thread.
class ProcessLogger final : public nvinfer1::ILogger {
public:
    static ProcessLogger& instance();
    void log(Severity severity, nvinfer1::AsciiChar const* message) noexcept override;
    void subscribe(CapturingLogger* logger);
    void unsubscribe(CapturingLogger* logger);

private:
    std::mutex mutex_;
    std::vector<CapturingLogger*> subscribers_;
};

}  // namespace trtmatte
