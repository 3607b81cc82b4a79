// trtmatte::Matter: uint8 RGB pixels in, uint8 alpha out, from an exported trtmatte graph (ONNX
// Runtime backend) or a TensorRT plan built from one (TensorRT backend). The graph holds the pre-
// and post-processing, so any size inside the engine's profile goes straight in.
//
//   trtmatte::Matter matter("late_fusion.onnx");
//   matter.matte(rgb, height, width, row_stride, alpha);   // alpha: height * width bytes
//
// Trimap-based models (AdaMatting: info().needs_trimap, read from the graph's or engine's inputs)
// also take a trimap, one byte per pixel: 0 background, 128 unknown, 255 foreground (the graph
// reads other values by thresholds: below 85 background, above 170 foreground, else unknown).
//
//   trtmatte::Matter ada("adamatting.onnx");
//   ada.matte(rgb, height, width, row_stride, trimap, trimap_stride, alpha);
//
// A trimap model called without a trimap, or a trimap given to a trimap-free model, is an Error
// (InvalidArgument) that says which call to use.
//
// Errors: every failure is a trtmatte::Error (allocation failures included: Errc::OutOfMemory);
// no other exception leaves the library.
//
// Thread safety: matte(), matte_batch(), info() and describe() may be called concurrently on one
// Matter; constructing, moving and destroying it must not race with any other call on it. ONNX Runtime
// runs concurrent calls in parallel (its session is thread-safe). TensorRT runs up to
// Options::contexts calls at once, one execution context each (at most one per optimization
// profile of the plan); further calls wait for a free context. docs/cpp.md has the measurements.
#pragma once

#include <trtmatte/error.hpp>
#include <trtmatte/export.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace trtmatte {

enum class BackendKind {
    Auto,         // by file: NAME.onnx -> ONNX Runtime, anything else -> a TensorRT plan
    OnnxRuntime,
    TensorRT,
};

struct Options {
    BackendKind backend = BackendKind::Auto;
    // ONNX Runtime: intra-op threads per call; 0 = ONNX Runtime's default (one per core).
    int threads = 0;
    // TensorRT: execution contexts, i.e. calls that can run at once (capped by the plan's profiles).
    int contexts = 1;
    // TensorRT: capture one CUDA graph per input shape on first use, replay it afterwards.
    bool cuda_graphs = false;
    // Backend libraries, loaded at run time. Empty: $TRTMATTE_ONNXRUNTIME_LIBRARY /
    // $TRTMATTE_TENSORRT_LIBRARY, then the build's default (docs/cpp.md, "Backend libraries").
    std::string onnxruntime_library;
    std::string tensorrt_library;
    // ONNX Runtime: keep its CPU memory arena and memory-pattern planning. On, repeated calls of one
    // size reuse memory, and the memory of the largest call stays with the Matter until it is
    // closed; off, each call's memory goes back when it returns (docs/cpp.md, "Memory").
    bool cpu_arena = true;
    // TensorRT: the CUDA device the plan runs on; set while opening and for each call, and the
    // caller's current device is restored afterwards.
    int device = 0;
    // TensorRT with cuda_graphs: CUDA graphs kept per execution context, one per input shape, the
    // least recently used dropped beyond this many.
    int cuda_graph_cache = 8;
};

struct Info {
    std::string backend;          // "onnxruntime" or "tensorrt"
    std::string backend_version;  // of the backend library in use (Python's word)
    std::string version;          // deprecated: backend_version under its old name, filled the same; kept one release
    std::string device;     // "CPU" or the GPU's name
    std::string precision;  // fp32 / fp16 / int8, as the graph or plan records it
    std::string variant;    // the model variant the graph was exported from ("?" if unrecorded)
    std::string family;     // its family: "late_fusion", "adamatting" ("?" if unrecorded)
    // Whether each call needs a trimap: the graph or engine has a `trimap` input.
    bool needs_trimap = false;
    // Late Fusion -> AdaMatting graphs (`trtmatte export --trimap-from`): the trimap is derived
    // inside the graph, from this model and these options (JSON); empty otherwise.
    std::string trimap_source;
    // Accepted input sizes, inclusive: {N, H, W}. ONNX Runtime accepts any size.
    std::array<std::int64_t, 3> min_shape{1, 1, 1};
    std::array<std::int64_t, 3> max_shape{1, 1, 1};
};

class Session;

class TRTMATTE_API Matter {
public:
    explicit Matter(const std::string& model_path, const Options& options = {});
    ~Matter();
    Matter(Matter&&) noexcept;
    Matter& operator=(Matter&&) noexcept;
    Matter(const Matter&) = delete;
    Matter& operator=(const Matter&) = delete;

    // rgb: `height` rows of `width` RGB pixels, `row_stride` bytes apart (>= 3 * width).
    // alpha: height * width bytes, rows packed.
    void matte(const std::uint8_t* rgb, int height, int width, std::size_t row_stride, std::uint8_t* alpha);

    // `count` images of one size, image i starting at rgb + i * height * row_stride;
    // alpha: count * height * width bytes.
    void matte_batch(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
                     std::uint8_t* alpha);

    // Trimap models: trimap has `height` rows of `width` bytes, `trimap_stride` bytes apart
    // (>= width); for a batch, image i's trimap starts at trimap + i * height * trimap_stride.
    void matte(const std::uint8_t* rgb, int height, int width, std::size_t row_stride, const std::uint8_t* trimap,
               std::size_t trimap_stride, std::uint8_t* alpha);
    void matte_batch(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
                     const std::uint8_t* trimap, std::size_t trimap_stride, std::uint8_t* alpha);

    const Info& info() const noexcept;
    std::string describe() const;  // one line: backend, version, device, precision, variant (and trimap)

private:
    void open(const std::string& model_path, const Options& options);
    std::string description() const;
    std::unique_ptr<Session> session_;
};

}  // namespace trtmatte
