#include "tensorrt_library.hpp"

#include <algorithm>

#include "dynlib.hpp"

#include <trtmatte/error.hpp>

namespace trtmatte {

namespace {

std::string default_library() { return "libnvinfer.so." + std::to_string(NV_TENSORRT_MAJOR); }

std::string library_version(const DynamicLibrary& library) {
    using Part = std::int32_t (*)();
    const char* names[] = {"getInferLibMajorVersion", "getInferLibMinorVersion", "getInferLibPatchVersion",
                           "getInferLibBuildVersion"};
    std::string version;
    for (const char* name : names) {
        auto part = reinterpret_cast<Part>(library.symbol(name));
        if (part == nullptr) return "";
        version += (version.empty() ? "" : ".") + std::to_string(part());
    }
    return version;
}

}  // namespace

const TensorRTLibrary& TensorRTLibrary::load(const std::string& requested) {
    static std::mutex mutex;
    static TensorRTLibrary* loaded = nullptr;  // never unloaded, like the library itself
    std::lock_guard<std::mutex> lock(mutex);
    if (loaded != nullptr) return *loaded;
    std::string name = !requested.empty() ? requested : env_or_empty("TRTMATTE_TENSORRT_LIBRARY");
    if (name.empty()) name = default_library();
    DynamicLibrary library;
    std::string failure;
    if (!library.open_first({name}, &failure)) {
        throw Error(Errc::NotFound, "TensorRT not found: " + failure + "; install TensorRT " +
                                        std::to_string(NV_TENSORRT_MAJOR) +
                                        ".x (its lib folder on LD_LIBRARY_PATH, or TRTMATTE_TENSORRT_LIBRARY=/path/to/"
                                        "libnvinfer.so." + std::to_string(NV_TENSORRT_MAJOR) +
                                        "), or open the exported ONNX graph instead (ONNX Runtime backend)");
    }
    auto create = reinterpret_cast<CreateRuntime>(library.symbol("createInferRuntime_INTERNAL"));
    const std::string version = library_version(library);
    if (create == nullptr || version.empty()) {
        throw Error(Errc::Unsupported, library.path() + " is not a TensorRT runtime library (no "
                                                        "createInferRuntime_INTERNAL / getInferLib*Version)");
    }
    // Interfaces are ABI-stable within a major version only: 10.x headers need a 10.x library.
    const std::string major = version.substr(0, version.find('.'));
    if (major != std::to_string(NV_TENSORRT_MAJOR)) {
        throw Error(Errc::Incompatible, "libtrtmatte was built against TensorRT " + std::to_string(NV_TENSORRT_MAJOR) +
                                            " headers but " + library.path() + " is TensorRT " + version +
                                            "; rebuild libtrtmatte with -DTensorRT_ROOT pointing at that TensorRT");
    }
    auto* result = new TensorRTLibrary();
    result->create_ = create;
    result->version_ = version;
    result->path_ = library.path();
    loaded = result;
    return *loaded;
}

nvinfer1::IRuntime* TensorRTLibrary::create_runtime() const {
    return static_cast<nvinfer1::IRuntime*>(create_(&ProcessLogger::instance(), NV_TENSORRT_VERSION));
}

ProcessLogger& ProcessLogger::instance() {
    static ProcessLogger* logger = new ProcessLogger;  // never destroyed: TensorRT keeps its address
    return *logger;
}

void ProcessLogger::log(Severity severity, nvinfer1::AsciiChar const* message) noexcept {
    if (severity > Severity::kERROR || message == nullptr) return;
    // TensorRT's messages do not say which runtime they come from: every open model keeps them,
    // as each failing call reports the last one it saw.
    std::lock_guard<std::mutex> lock(mutex_);
    for (CapturingLogger* subscriber : subscribers_) subscriber->error(message);
}

void ProcessLogger::subscribe(CapturingLogger* logger) {
    std::lock_guard<std::mutex> lock(mutex_);
    subscribers_.push_back(logger);
}

void ProcessLogger::unsubscribe(CapturingLogger* logger) {
    std::lock_guard<std::mutex> lock(mutex_);
    subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), logger), subscribers_.end());
}

CapturingLogger::CapturingLogger() { ProcessLogger::instance().subscribe(this); }

CapturingLogger::~CapturingLogger() { ProcessLogger::instance().unsubscribe(this); }

void CapturingLogger::error(const char* message) noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        last_error_ = message;
    } catch (...) {  // noexcept: a failed string copy loses the message, nothing else
    }
}

std::string CapturingLogger::last_error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_error_.empty() ? "no message from TensorRT" : last_error_;
}

}  // namespace trtmatte
