// ONNX Runtime session: one Ort::Session per Matter, run from any number of threads at once
// (Session::Run is thread-safe; every call has its own input/output values).
//
// The library is dlopen'ed, not linked (dynlib.hpp): ORT_API_MANUAL_INIT stops the C++ API from
// calling OrtGetApiBase at static-initialisation time, and Ort::InitApi hands it the API table of
// the library found at run time. One ONNX Runtime per process: the C++ API keeps the table in a
// process-wide global, so the first library loaded is the one every Matter uses.
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include "session.hpp"
#include "contract.hpp"
#include "dynlib.hpp"
#include "pixels.hpp"

#include <trtmatte/error.hpp>

#include <climits>
#include <memory>
#include <mutex>
#include <vector>

#ifndef TRTMATTE_DEFAULT_ONNXRUNTIME_LIBRARY
#define TRTMATTE_DEFAULT_ONNXRUNTIME_LIBRARY ""
#endif

namespace trtmatte {

namespace {

struct OrtRuntime {
    DynamicLibrary library;
    std::string version;
    Ort::Env* env = nullptr;  // never destroyed: ONNX Runtime's threads may outlive static destructors
};

std::string install_hint() {
    return "install ONNX Runtime >= 1." + std::to_string(ORT_API_VERSION) +
           " (its libonnxruntime.so.1 on the loader's path), or point TRTMATTE_ONNXRUNTIME_LIBRARY at one, e.g. "
           "the onnxruntime wheel's onnxruntime/capi/libonnxruntime.so.<version>";
}

const OrtRuntime& ort_runtime(const std::string& requested) {
    static std::mutex mutex;
    static OrtRuntime* runtime = nullptr;
    std::lock_guard<std::mutex> lock(mutex);
    if (runtime != nullptr) {
        if (!requested.empty() && requested != runtime->library.path()) {
            throw Error(Errc::Unsupported, "ONNX Runtime is already loaded from " + runtime->library.path() +
                                               " in this process; one process can use one ONNX Runtime library, not "
                                               "also " + requested);
        }
        return *runtime;
    }
    auto loaded = std::make_unique<OrtRuntime>();
    std::vector<std::string> candidates;
    if (!requested.empty()) {
        candidates = {requested};  // asked for by name: no fallback to another copy
    } else {
        candidates = {env_or_empty("TRTMATTE_ONNXRUNTIME_LIBRARY"), TRTMATTE_DEFAULT_ONNXRUNTIME_LIBRARY,
                      "libonnxruntime.so.1", "libonnxruntime.so"};
        if (!candidates[0].empty()) candidates.resize(1);  // the variable names the one to use
    }
    std::string failures;
    if (!loaded->library.open_first(candidates, &failures)) {
        throw Error(Errc::NotFound, "ONNX Runtime not found (" + failures + "); " + install_hint());
    }
    using GetApiBase = const OrtApiBase* (*)();
    auto get_api_base = reinterpret_cast<GetApiBase>(loaded->library.symbol("OrtGetApiBase"));
    if (get_api_base == nullptr) {
        throw Error(Errc::Unsupported, loaded->library.path() + " is not an ONNX Runtime library (no OrtGetApiBase); " +
                                           install_hint());
    }
    const OrtApiBase* base = get_api_base();
    loaded->version = base->GetVersionString();
    const OrtApi* api = base->GetApi(ORT_API_VERSION);
    if (api == nullptr) {
        throw Error(Errc::Unsupported, "ONNX Runtime " + loaded->version + " at " + loaded->library.path() +
                                           " is older than this build's headers (API " +
                                           std::to_string(ORT_API_VERSION) + "); " + install_hint());
    }
    Ort::InitApi(api);
    loaded->env = new Ort::Env(ORT_LOGGING_LEVEL_ERROR, "trtmatte");
    runtime = loaded.release();
    return *runtime;
}

DType alpha_dtype(ONNXTensorElementDataType type) {
    switch (type) {
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return DType::UInt8;
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return DType::Float32;
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return DType::Float16;
        default: throw std::invalid_argument("alpha");
    }
}

std::string first_line(const char* text) {
    std::string s(text);
    return s.substr(0, s.find('\n'));
}

class OrtSession final : public Session {
public:
    OrtSession(const std::string& path, const Options& options) : runtime_(ort_runtime(options.onnxruntime_library)) {
        try {
            Ort::SessionOptions session_options;
            if (options.threads > 0) session_options.SetIntraOpNumThreads(options.threads);
            session_options.SetLogSeverityLevel(3);  // unused-initializer warnings are not the user's problem
            if (!options.cpu_arena) {
                // Without the arena every tensor is malloc'ed and freed within its call, and without
                // memory patterns nothing is pre-planned per shape: a call's peak goes back when it
                // returns instead of staying with the session (docs/cpp.md, "Memory").
                session_options.DisableCpuMemArena();
                session_options.DisableMemPattern();
            }
            session_ = std::make_unique<Ort::Session>(*runtime_.env, path.c_str(), session_options);
        } catch (const Ort::Exception& exc) {
            throw Error(Errc::Unsupported, "onnxruntime cannot load " + path + ": " + first_line(exc.what()));
        }
        path_ = path;
        check_contract(path);
        read_metadata();
    }

    void run(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
             const std::uint8_t* trimap, std::size_t trimap_stride, std::uint8_t* alpha) override {
        const std::size_t pixels = static_cast<std::size_t>(count) * height * width;
        const std::size_t rows = static_cast<std::size_t>(count) * height;
        const std::size_t row_bytes = static_cast<std::size_t>(width) * 3;
        // Only for strided rows: ONNX Runtime takes dense tensors.
        std::vector<std::uint8_t> packed, packed_trimap;
        const std::uint8_t* image = rgb;
        if (row_stride != row_bytes) {
            packed.resize(pixels * 3);
            pack_rows(rgb, rows, row_bytes, row_stride, packed.data());
            image = packed.data();
        }
        if (trimap != nullptr && trimap_stride != static_cast<std::size_t>(width)) {
            packed_trimap.resize(pixels);
            pack_rows(trimap, rows, static_cast<std::size_t>(width), trimap_stride, packed_trimap.data());
            trimap = packed_trimap.data();
        }
        const std::int64_t in_shape[4] = {count, height, width, 3};
        const std::int64_t out_shape[3] = {count, height, width};
        auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
        const char* in_names[2] = {contract::kImage, contract::kTrimap};
        const char* out_name = contract::kAlpha;
        try {
            // ONNX Runtime only reads the inputs: the const_casts are its C API's signature, not writes.
            std::vector<Ort::Value> inputs;
            inputs.push_back(Ort::Value::CreateTensor<std::uint8_t>(memory, const_cast<std::uint8_t*>(image),
                                                                    pixels * 3, in_shape, 4));
            if (trimap != nullptr) {  // Matter passes one exactly when the graph has the input
                inputs.push_back(Ort::Value::CreateTensor<std::uint8_t>(memory, const_cast<std::uint8_t*>(trimap),
                                                                        pixels, out_shape, 3));
            }
            if (alpha_dtype_ == DType::UInt8) {
                // Bound to the caller's buffer: ONNX Runtime writes alpha straight into it.
                Ort::Value output = Ort::Value::CreateTensor<std::uint8_t>(memory, alpha, pixels, out_shape, 3);
                session_->Run(Ort::RunOptions{nullptr}, in_names, inputs.data(), inputs.size(), &out_name, &output, 1);
                return;
            }
            auto outputs = session_->Run(Ort::RunOptions{nullptr}, in_names, inputs.data(), inputs.size(), &out_name, 1);
            const auto shape = outputs[0].GetTensorTypeAndShapeInfo().GetShape();
            if (shape != std::vector<std::int64_t>(out_shape, out_shape + 3)) {
                throw Error(Errc::Runtime, "the graph returned alpha of shape " + format_shape(shape) + " for an input " +
                                               format_shape({count, height, width, 3}) + "; expected " +
                                               format_shape({count, height, width}));
            }
            alpha_to_uint8(outputs[0].GetTensorRawData(), alpha_dtype_, pixels, alpha);
        } catch (const Ort::Exception& exc) {
            const Errc code = exc.GetOrtErrorCode() == ORT_INVALID_ARGUMENT ? Errc::InvalidArgument : Errc::Runtime;
            throw Error(code, "onnxruntime failed on an input " + format_shape({count, height, width, 3}) + ": " +
                                  first_line(exc.what()));
        }
    }

private:
    // Inputs as Python's OrtSession accepts them: uint8 'image' [N, H, W, 3], then for trimap
    // models uint8 'trimap' [N, H, W].
    void check_contract(const std::string& path) {
        Ort::AllocatorWithDefaultOptions allocator;
        const std::size_t count = session_->GetInputCount();
        bool ok = count == 1 || count == 2;
        for (std::size_t i = 0; ok && i < count; ++i) {
            const std::string name = session_->GetInputNameAllocated(i, allocator).get();
            // The shape info is a view into the TypeInfo: keep that alive while reading it.
            const Ort::TypeInfo type = session_->GetInputTypeInfo(i);
            auto info = type.GetTensorTypeAndShapeInfo();
            ok = name == (i == 0 ? contract::kImage : contract::kTrimap) &&
                 info.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 &&
                 info.GetDimensionsCount() == (i == 0 ? 4u : 3u);
        }
        if (!ok) {
            throw Error(Errc::Unsupported, path + " is not a trtmatte whole-pipeline graph (expects uint8 input '" +
                                               contract::kImage + "', and '" + contract::kTrimap +
                                               "' for trimap models); export it with `trtmatte export`");
        }
        info_.needs_trimap = count == 2;
        for (std::size_t i = 0; i < session_->GetOutputCount(); ++i) {
            if (std::string(session_->GetOutputNameAllocated(i, allocator).get()) != contract::kAlpha) continue;
            const Ort::TypeInfo type = session_->GetOutputTypeInfo(i);
            auto info = type.GetTensorTypeAndShapeInfo();
            try {
                alpha_dtype_ = alpha_dtype(info.GetElementType());
            } catch (const std::invalid_argument&) {
                break;
            }
            if (info.GetDimensionsCount() == 3) return;
            break;
        }
        throw Error(Errc::Unsupported, path + " has no output '" + contract::kAlpha +
                                           "' of type uint8/float16/float32 and shape [N, H, W]; export it with "
                                           "`trtmatte export`");
    }

    void read_metadata() {
        Ort::AllocatorWithDefaultOptions allocator;
        auto metadata = session_->GetModelMetadata();
        auto lookup = [&](const char* key, const char* fallback) {
            auto value = metadata.LookupCustomMetadataMapAllocated((std::string(contract::kMetadataPrefix) + key).c_str(),
                                                                   allocator);
            return value ? std::string(value.get()) : std::string(fallback);
        };
        info_.backend = "onnxruntime";
        info_.backend_version = runtime_.version;
        info_.version = info_.backend_version;
        info_.device = "CPU";
        info_.precision = lookup(contract::kPrecision, "fp32");
        // onnxruntime's float16 QuantizeLinear truncates instead of rounding to nearest (its issues
        // 18576 and 22741), a systematic error TensorRT does not make. Python rewrites those nodes
        // into float32 (trtmatte/contract/ort_rounding.py), which needs the onnx package; here the
        // graph is refused instead of run wrongly.
        if (lookup(contract::kInt8Body, "") == std::string("fp16"))
            throw Error(Errc::Unsupported, path_ + " is an INT8 graph with a float16 body (made for TensorRT), and "
                                               "onnxruntime's float16 QuantizeLinear truncates instead of rounding: "
                                               "build a TensorRT engine from it, or quantize with --int8-body fp32 "
                                               "for the onnxruntime backend");
        info_.variant = lookup(contract::kVariant, "?");
        info_.family = lookup(contract::kFamily, "?");
        info_.trimap_source = lookup(contract::kTrimapSource, "");
        check_recorded_inputs(lookup(contract::kInputs, ""), info_.needs_trimap, path_,
                              "export it again with `trtmatte export`");
        info_.min_shape = {1, 1, 1};
        info_.max_shape = {INT_MAX, INT_MAX, INT_MAX};
    }

    const OrtRuntime& runtime_;
    std::string path_;
    std::unique_ptr<Ort::Session> session_;
    DType alpha_dtype_ = DType::UInt8;
};

}  // namespace

std::unique_ptr<Session> open_onnxruntime(const std::string& path, const Options& options) {
    return std::make_unique<OrtSession>(path, options);
}

}  // namespace trtmatte
