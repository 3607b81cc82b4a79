#include <trtmatte/matter.hpp>

#include "session.hpp"
#include "buffers.hpp"
#include "contract.hpp"

#include <cctype>
#include <filesystem>
#include <limits>
#include <new>

namespace trtmatte {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
    if (text.size() < suffix.size()) return false;
    for (std::size_t i = 0; i < suffix.size(); ++i) {
        char c = text[text.size() - suffix.size() + i];
        if (std::tolower(static_cast<unsigned char>(c)) != suffix[i]) return false;
    }
    return true;
}

BackendKind backend_for(const std::string& path, BackendKind requested) {
    if (requested != BackendKind::Auto) return requested;
    if (ends_with(path, ".onnx")) return BackendKind::OnnxRuntime;
    std::error_code ignored;
    if (std::filesystem::is_regular_file(path + ".json", ignored) || ends_with(path, ".plan") ||
        ends_with(path, ".engine") || ends_with(path, ".trt")) {
        return BackendKind::TensorRT;
    }
    throw Error(Errc::Unsupported, path + " is neither an exported ONNX graph (NAME.onnx, from `trtmatte export`) nor "
                                          "a TensorRT plan with its sidecar (from `trtmatte build`)");
}

// The model, as Python's sessions name it in trimap errors ("the adamatting_lite model").
std::string model_name(const Info& info) { return "the " + info.variant + " model"; }

// Whether a trimap was given where the model needs one, and not where it takes none: one line each,
// worded as trtmatte/trimap.py's check_trimap and refuse_trimap, naming the call to use.
void check_trimap(const Info& info, const std::uint8_t* trimap, std::size_t trimap_stride, int count, int height,
                  int width) {
    if (info.needs_trimap && trimap == nullptr) {
        throw Error(Errc::InvalidArgument, model_name(info) + " needs a trimap (uint8 [H, W]: 0 background, 128 "
                                                              "unknown, 255 foreground); give one (C++: matte(rgb, "
                                                              "height, width, row_stride, trimap, trimap_stride, "
                                                              "alpha); C: trtmatte_matte_trimap)");
    }
    if (!info.needs_trimap && trimap != nullptr) {
        throw Error(Errc::InvalidArgument, model_name(info) + " takes no trimap (it is trimap-free): drop the trimap "
                                                              "(C++: matte without one; C: trtmatte_matte)");
    }
    if (trimap == nullptr) return;
    if (trimap_stride < static_cast<std::size_t>(width)) {
        throw Error(Errc::InvalidArgument, "trimap_stride " + std::to_string(trimap_stride) +
                                               " is smaller than a row of " + std::to_string(width) +
                                               " trimap pixels (one byte each)");
    }
    std::size_t rows = 0, bytes = 0;
    if (__builtin_mul_overflow(static_cast<std::size_t>(count), static_cast<std::size_t>(height), &rows) ||
        __builtin_mul_overflow(rows, trimap_stride, &bytes) ||
        bytes > static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max())) {
        throw Error(Errc::InvalidArgument, "a trimap batch of " + std::to_string(count) + " x " +
                                               std::to_string(height) + " rows of " + std::to_string(trimap_stride) +
                                               " bytes is too large");
    }
}

void check_args(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
                const std::uint8_t* alpha) {
    if (rgb == nullptr || alpha == nullptr) {
        throw Error(Errc::InvalidArgument, std::string(rgb == nullptr ? "rgb" : "alpha") + " is a null pointer");
    }
    if (count < 1 || height < 1 || width < 1) {
        throw Error(Errc::InvalidArgument, "image count, height and width must be positive, got count " +
                                               std::to_string(count) + ", " + std::to_string(height) + "x" +
                                               std::to_string(width));
    }
    const std::size_t row_bytes = static_cast<std::size_t>(width) * 3;
    if (row_stride < row_bytes) {
        throw Error(Errc::InvalidArgument, "row_stride " + std::to_string(row_stride) + " is smaller than a row of " +
                                               std::to_string(width) + " RGB pixels (" + std::to_string(row_bytes) +
                                               " bytes)");
    }
    // The byte counts the backends compute must not overflow (and must fit a ptrdiff_t).
    std::size_t rows = 0, in_bytes = 0, pixels = 0;
    const bool overflow = __builtin_mul_overflow(static_cast<std::size_t>(count), static_cast<std::size_t>(height), &rows) ||
                          __builtin_mul_overflow(rows, row_stride, &in_bytes) ||
                          __builtin_mul_overflow(rows, row_bytes, &pixels) ||
                          in_bytes > static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());
    if (overflow) {
        throw Error(Errc::InvalidArgument, "an image batch of " + std::to_string(count) + " x " + std::to_string(height) +
                                               " rows of " + std::to_string(row_stride) + " bytes is too large");
    }
}

// Runs `body` so that the only exception leaving the C++ API is trtmatte::Error: whatever else the
// backends, the standard library or an allocation throw (Ort::Exception, std::bad_alloc, ...)
// becomes one, since the application cannot even name the library's internal exception types.
template <typename Body>
auto as_error(Body&& body) -> decltype(body()) {
    try {
        return body();
    } catch (const Error&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw Error(Errc::OutOfMemory, "out of host memory");
    } catch (const std::exception& exc) {
        throw Error(Errc::Internal, std::string("internal error: ") + exc.what());
    } catch (...) {
        throw Error(Errc::Internal, "internal error: unknown exception");
    }
}

void check_options(const Options& options) {
    const int backend = static_cast<int>(options.backend);
    if (backend < static_cast<int>(BackendKind::Auto) || backend > static_cast<int>(BackendKind::TensorRT)) {
        throw Error(Errc::InvalidArgument, "unknown backend " + std::to_string(backend) +
                                               " (Auto, OnnxRuntime or TensorRT)");
    }
    if (options.threads < 0 || options.contexts < 1) {
        throw Error(Errc::InvalidArgument, "threads must be >= 0 and contexts >= 1, got threads " +
                                               std::to_string(options.threads) + ", contexts " +
                                               std::to_string(options.contexts));
    }
    if (options.device < 0 || options.cuda_graph_cache < 1) {
        throw Error(Errc::InvalidArgument, "device must be >= 0 and cuda_graph_cache >= 1, got device " +
                                               std::to_string(options.device) + ", cuda_graph_cache " +
                                               std::to_string(options.cuda_graph_cache));
    }
}

}  // namespace

Matter::Matter(const std::string& model_path, const Options& options) {
    as_error([&] { open(model_path, options); });
}

void Matter::open(const std::string& model_path, const Options& options) {
    std::error_code ignored;
    if (!std::filesystem::exists(model_path, ignored)) {
        throw Error(Errc::NotFound, "model " + model_path + " not found (an exported ONNX graph from `trtmatte "
                                                            "export`, or a TensorRT plan from `trtmatte build`)");
    }
    if (std::filesystem::is_directory(model_path, ignored)) {
        throw Error(Errc::Unsupported, "model " + model_path + " is a directory, not an ONNX graph or TensorRT plan");
    }
    check_options(options);
    if (options.backend == BackendKind::TensorRT && ends_with(model_path, ".onnx")) {
        // Not "rebuild it with `trtmatte build MODEL.onnx -o <this path>`": that would overwrite the graph.
        const std::string stem = model_path.substr(0, model_path.size() - 5);
        throw Error(Errc::Unsupported, model_path + " is an ONNX graph, and the TensorRT backend opens TensorRT plans: "
                                                    "build one with `trtmatte build " + model_path + " -o " + stem +
                                                    ".plan` and open that, or open the graph with the ONNX Runtime "
                                                    "backend");
    }
    switch (backend_for(model_path, options.backend)) {
        case BackendKind::OnnxRuntime: session_ = open_onnxruntime(model_path, options); break;
        default: session_ = open_tensorrt(model_path, options); break;
    }
}

Matter::~Matter() = default;
Matter::Matter(Matter&&) noexcept = default;
Matter& Matter::operator=(Matter&&) noexcept = default;

void Matter::matte(const std::uint8_t* rgb, int height, int width, std::size_t row_stride, std::uint8_t* alpha) {
    matte_batch(rgb, 1, height, width, row_stride, nullptr, 0, alpha);
}

void Matter::matte_batch(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
                         std::uint8_t* alpha) {
    matte_batch(rgb, count, height, width, row_stride, nullptr, 0, alpha);
}

void Matter::matte(const std::uint8_t* rgb, int height, int width, std::size_t row_stride, const std::uint8_t* trimap,
                   std::size_t trimap_stride, std::uint8_t* alpha) {
    matte_batch(rgb, 1, height, width, row_stride, trimap, trimap_stride, alpha);
}

void Matter::matte_batch(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
                         const std::uint8_t* trimap, std::size_t trimap_stride, std::uint8_t* alpha) {
    as_error([&] {
        if (!session_) throw Error(Errc::InvalidArgument, "this Matter was moved from");
        check_args(rgb, count, height, width, row_stride, alpha);
        check_trimap(session_->info(), trimap, trimap_stride, count, height, width);
        session_->run(rgb, count, height, width, row_stride, trimap, trimap_stride, alpha);
    });
}

void check_recorded_inputs(const std::string& recorded, bool has_trimap, const std::string& what,
                           const std::string& fix) {
    if (recorded.empty()) return;  // graphs exported before the key existed
    const std::string actual = has_trimap ? std::string(contract::kImage) + "," + contract::kTrimap : contract::kImage;
    if (recorded != actual) {
        throw Error(Errc::Incompatible, what + " records inputs '" + recorded + "' but has '" + actual +
                                            "': its metadata describes another graph; " + fix);
    }
}

const Info& Matter::info() const noexcept {
    static const Info moved_from{};
    return session_ ? session_->info() : moved_from;
}

std::string Matter::describe() const {
    return as_error([&] { return description(); });
}

std::string Matter::description() const {
    const Info& i = info();
    std::string text = i.backend + " " + i.backend_version + " on " + i.device + ", " + i.precision + ", variant " + i.variant;
    if (i.needs_trimap) text += ", takes a trimap";
    if (!i.trimap_source.empty()) text += ", trimap derived in the graph";
    if (i.backend == "tensorrt") {
        text += ", profile " + format_shape({i.min_shape[0], i.min_shape[1], i.min_shape[2], 3}) + ".." +
                format_shape({i.max_shape[0], i.max_shape[1], i.max_shape[2], 3});
    }
    return text;
}

}  // namespace trtmatte
