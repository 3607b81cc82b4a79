// TensorRT backend, written against the API TensorRT 10.3+ and 11.x share: strongly typed plans,
// tensor-address I/O, enqueueV3. tests/cpp compiles it against both header sets.
//
// Everything a call needs is allocated once, when the plan is opened (buffers.hpp sizes it for
// the profile's max shapes): per execution context a stream, device buffers for every I/O tensor,
// pinned host buffers for the image (and the trimap, for trimap models) and alpha, and
// (Options::cuda_graphs) one CUDA graph per input shape. A call: pack the rows into pinned memory,
// async H2D, enqueueV3, async D2H of alpha, one stream synchronisation, alpha converted into the
// caller's buffer. A trimap model's `trimap` input follows the image's N, H and W (its profile is
// the image's, as `trtmatte build` makes it; checked when the plan is opened).
//
// Concurrency: each execution context serves one call at a time. TensorRT requires contexts used
// concurrently to have distinct optimization profiles, so a plan with P profiles gives at most P
// contexts; Options::contexts asks for up to that many, and calls beyond them wait for one.
#include "session.hpp"
#include "buffers.hpp"
#include "compat.hpp"
#include "contract.hpp"
#include "cuda.hpp"
#include "lru_cache.hpp"
#include "pixels.hpp"
#include "sidecar.hpp"
#include "tensorrt_library.hpp"

#include <trtmatte/error.hpp>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

namespace trtmatte {

namespace {

using nvinfer1::Dims;

Shape to_shape(const Dims& dims) {
    Shape shape;
    for (int i = 0; i < dims.nbDims; ++i) shape.push_back(dims.d[i]);
    return shape;
}

Dims to_dims(const Shape& shape) {
    Dims dims{};
    dims.nbDims = static_cast<int>(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i];
    return dims;
}

DType to_dtype(nvinfer1::DataType type, const char* tensor) {
    switch (type) {
        case nvinfer1::DataType::kFLOAT: return DType::Float32;
        case nvinfer1::DataType::kHALF: return DType::Float16;
        case nvinfer1::DataType::kINT8: return DType::Int8;
        case nvinfer1::DataType::kINT32: return DType::Int32;
        case nvinfer1::DataType::kINT64: return DType::Int64;
        case nvinfer1::DataType::kBOOL: return DType::Bool;
        case nvinfer1::DataType::kUINT8: return DType::UInt8;
        default:  // BF16, FP8, INT4, ...: nothing trtmatte exports as I/O
            throw Error(Errc::Unsupported, std::string("engine I/O tensor '") + tensor + "' has TensorRT type " +
                                               std::to_string(static_cast<int>(type)) +
                                               ", which trtmatte cannot stage; export the graph with a "
                                               "uint8/float16/float32 output");
    }
}

std::vector<char> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw Error(Errc::NotFound, "engine " + path + " cannot be read");
    std::vector<char> bytes(static_cast<std::size_t>(in.tellg()));
    in.seekg(0);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!in) throw Error(Errc::Runtime, "engine " + path + " could not be read completely");
    return bytes;
}

struct Slot {
    std::unique_ptr<nvinfer1::IExecutionContext> context;
    Shape lo, hi;  // the image shapes this context's profile accepts
    cuda::Stream stream;
    std::map<std::string, cuda::Buffer> device;
    cuda::Buffer image_host, trimap_host, alpha_host;  // pinned (trimap_host: trimap models only)
    LruCache<Shape, cuda::Graph> graphs;  // one CUDA graph per input shape, least recently used dropped
    Shape shape;                             // the input shape the context is set up for
    std::map<std::string, Shape> out_shapes;  // at that shape
};

class TensorRTSession final : public Session {
public:
    TensorRTSession(const std::string& plan, const Options& options)
        : plan_path_(plan), use_graphs_(options.cuda_graphs), device_(options.device),
          graph_cache_(static_cast<std::size_t>(options.cuda_graph_cache)) {
        open(options);
    }

    ~TensorRTSession() override {
        if (slots_.empty()) return;
        const cuda::DeviceGuard on_device(device_, std::nothrow);
        for (auto& slot : slots_) cudaStreamSynchronize(slot->stream.get());  // nothing in flight when buffers go
    }

    void run(const std::uint8_t* rgb, int count, int height, int width, std::size_t row_stride,
             const std::uint8_t* trimap, std::size_t trimap_stride, std::uint8_t* alpha) override {
        const Shape shape{count, height, width, 3};
        check_profile(shape);
        Lease lease(*this, shape);
        Slot& slot = *lease.slot;
        const cuda::DeviceGuard on_device(device_);  // this thread's current device is back when the call ends
        prepare(slot, shape);
        const std::size_t in_bytes = static_cast<std::size_t>(element_count(shape));
        pack_rows(rgb, static_cast<std::size_t>(count) * height, static_cast<std::size_t>(width) * 3, row_stride,
                  static_cast<std::uint8_t*>(slot.image_host.get()));
        const std::size_t alpha_count = static_cast<std::size_t>(count) * height * width;
        if (trimap != nullptr) {  // Matter passes one exactly when the engine has the input
            pack_rows(trimap, static_cast<std::size_t>(count) * height, static_cast<std::size_t>(width), trimap_stride,
                      static_cast<std::uint8_t*>(slot.trimap_host.get()));
        }
        const std::size_t alpha_bytes = alpha_count * dtype_size(alpha_dtype_);
        auto enqueue = [&] {
            cuda::check(cudaMemcpyAsync(slot.device.at(contract::kImage).get(), slot.image_host.get(), in_bytes,
                                        cudaMemcpyHostToDevice, slot.stream.get()),
                        "cudaMemcpyAsync (image to device)");
            if (info_.needs_trimap) {
                // A captured graph replays this copy from the same pinned buffer: each call refills it above.
                cuda::check(cudaMemcpyAsync(slot.device.at(contract::kTrimap).get(), slot.trimap_host.get(),
                                            alpha_count, cudaMemcpyHostToDevice, slot.stream.get()),
                            "cudaMemcpyAsync (trimap to device)");
            }
            if (!slot.context->enqueueV3(slot.stream.get())) {
                throw Error(Errc::Runtime, "TensorRT execution failed: " + logger_.last_error());
            }
            cuda::check(cudaMemcpyAsync(slot.alpha_host.get(), slot.device.at(contract::kAlpha).get(), alpha_bytes,
                                        cudaMemcpyDeviceToHost, slot.stream.get()),
                        "cudaMemcpyAsync (alpha to host)");
        };
        if (const cuda::Graph* graph = slot.graphs.find(shape)) {
            graph->launch(slot.stream);
        } else {
            // Also how a graph starts: TensorRT must run once after a shape change before its work
            // can be captured, and that run already produces this call's alpha.
            enqueue();
            if (use_graphs_) {
                slot.stream.synchronize();
                slot.graphs.insert(shape, std::make_unique<cuda::Graph>(slot.stream, enqueue));
            }
        }
        slot.stream.synchronize();
        alpha_to_uint8(slot.alpha_host.get(), alpha_dtype_, alpha_count, alpha);
    }

private:
    // A slot for one call: the first free one whose profile accepts the shape; waits if all are busy.
    struct Lease {
        Lease(TensorRTSession& backend, const Shape& shape) : owner(backend) {
            std::unique_lock<std::mutex> lock(owner.mutex_);
            owner.available_.wait(lock, [&] { return (slot = owner.take(shape)) != nullptr; });
        }
        ~Lease() {
            {
                std::lock_guard<std::mutex> lock(owner.mutex_);
                owner.free_.push_back(slot);
            }
            owner.available_.notify_all();
        }
        TensorRTSession& owner;
        Slot* slot = nullptr;
    };

    void check_profile(const Shape& shape) const {
        for (const auto& slot : slots_) {
            if (shape_fits(shape, slot->lo, slot->hi)) return;
        }
        const Slot& first = *slots_.front();
        throw Error(Errc::InvalidArgument, "input " + format_shape(shape) + " is outside the engine's profile " +
                                               format_shape(first.lo) + ".." + format_shape(first.hi) +
                                               "; rebuild with `trtmatte build --min/--max` covering it");
    }

    Slot* take(const Shape& shape) {
        for (auto it = free_.begin(); it != free_.end(); ++it) {
            if (shape_fits(shape, (*it)->lo, (*it)->hi)) {
                Slot* slot = *it;
                free_.erase(it);
                return slot;
            }
        }
        return nullptr;
    }

    void open(const Options& options) {
        // The order of trtmatte/engine/loader.py: the sidecar, the TensorRT in use, the GPU, and only
        // then does TensorRT see the plan.
        const EngineMeta meta = read_sidecar(plan_path_);
        library_ = &TensorRTLibrary::load(options.tensorrt_library);
        std::string no_gpu;
        const auto gpu = cuda::gpu_info(device_, &no_gpu);
        check_compatible(plan_path_, meta, {"tensorrt", library_->version()}, gpu, no_gpu);
        // Everything below is created on the requested device; the caller's current device is
        // restored when opening ends.
        const cuda::DeviceGuard on_device(device_);
        runtime_.reset(library_->create_runtime());
        if (!runtime_) {
            throw Error(Errc::Runtime, "TensorRT " + library_->version() + " could not create a runtime: " +
                                           logger_.last_error());
        }
        std::set<std::string> plugin_libraries;
        for (const auto& plugin : meta.plugins) {
            if (!plugin.library.empty()) plugin_libraries.insert(plugin.library);
        }
        for (const auto& library : plugin_libraries) {
            if (runtime_->getPluginRegistry().loadLibrary(library.c_str()) == nullptr) {
                throw Error(Errc::Runtime, "TensorRT could not load plugin library " + library + ": " +
                                               logger_.last_error() + "; " + rebuild_hint(meta, plan_path_));
            }
        }
        const std::vector<char> bytes = read_file(plan_path_);
        engine_.reset(runtime_->deserializeCudaEngine(bytes.data(), bytes.size()));
        if (!engine_) {
            throw Error(Errc::Incompatible, "TensorRT " + library_->version() + " could not deserialize " + plan_path_ +
                                                ": " + logger_.last_error() + "; " + rebuild_hint(meta, plan_path_));
        }
        read_tensors();
        const int profiles = std::max(1, engine_->getNbOptimizationProfiles());
        for (int i = 0; i < std::min(options.contexts, profiles); ++i) slots_.push_back(make_slot(i));
        for (auto& slot : slots_) free_.push_back(slot.get());
        info_.backend = "tensorrt";
        info_.backend_version = library_->version();
        info_.version = info_.backend_version;
        info_.device = gpu->name;
        info_.precision = meta.precision;
        auto recorded = [&](const char* key, const char* fallback) {
            auto found = meta.onnx_metadata.find(key);
            return found != meta.onnx_metadata.end() ? found->second : std::string(fallback);
        };
        info_.variant = recorded(contract::kVariant, "?");
        info_.family = recorded(contract::kFamily, "?");
        info_.trimap_source = recorded(contract::kTrimapSource, "");
        check_recorded_inputs(recorded(contract::kInputs, ""), info_.needs_trimap, "the sidecar of " + plan_path_,
                              rebuild_hint(meta, plan_path_));
        const Slot& first = *slots_.front();
        info_.min_shape = {first.lo[0], first.lo[1], first.lo[2]};
        info_.max_shape = {first.hi[0], first.hi[1], first.hi[2]};
    }

    void read_tensors() {
        for (int i = 0; i < engine_->getNbIOTensors(); ++i) {
            const char* name = engine_->getIOTensorName(i);
            const bool is_input = engine_->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
            tensors_.push_back({name, is_input, to_dtype(engine_->getTensorDataType(name), name),
                                to_shape(engine_->getTensorShape(name))});
        }
        std::set<std::string> inputs;
        const TensorSpec* alpha = nullptr;
        bool uint8_inputs = true;
        for (const auto& t : tensors_) {
            if (t.is_input) inputs.insert(t.name);
            if (t.is_input) uint8_inputs = uint8_inputs && t.dtype == DType::UInt8;
            if (!t.is_input && t.name == contract::kAlpha) alpha = &t;
        }
        const std::set<std::string> plain{contract::kImage}, with_trimap{contract::kImage, contract::kTrimap};
        if ((inputs != plain && inputs != with_trimap) || !uint8_inputs || alpha == nullptr || alpha->shape.size() != 3) {
            throw Error(Errc::Unsupported, "the engine " + plan_path_ +
                                               " is not a trtmatte whole-pipeline graph (expects uint8 input '" +
                                               contract::kImage + "', and '" + contract::kTrimap +
                                               "' for trimap models, output '" + contract::kAlpha +
                                               "'); build it from `trtmatte export` output");
        }
        info_.needs_trimap = inputs == with_trimap;
        alpha_dtype_ = alpha->dtype;
        if (alpha_dtype_ != DType::UInt8 && alpha_dtype_ != DType::Float16 && alpha_dtype_ != DType::Float32) {
            throw Error(Errc::Unsupported, std::string("the engine's alpha is ") + dtype_name(alpha_dtype_) +
                                               "; export the graph with a uint8/float16/float32 alpha");
        }
    }

    std::map<std::string, Shape> output_shapes(nvinfer1::IExecutionContext& context, const Shape& input) {
        if (!context.setInputShape(contract::kImage, to_dims(input))) {
            throw Error(Errc::InvalidArgument, "TensorRT rejected input shape " + format_shape(input) + ": " +
                                                   logger_.last_error());
        }
        const Shape trimap{input[0], input[1], input[2]};
        if (info_.needs_trimap && !context.setInputShape(contract::kTrimap, to_dims(trimap))) {
            throw Error(Errc::InvalidArgument, "TensorRT rejected trimap shape " + format_shape(trimap) + ": " +
                                                   logger_.last_error());
        }
        std::map<std::string, Shape> shapes;
        for (const auto& t : tensors_) {
            if (!t.is_input) shapes[t.name] = to_shape(context.getTensorShape(t.name.c_str()));
        }
        return shapes;
    }

    std::unique_ptr<Slot> make_slot(int profile) {
        auto slot = std::make_unique<Slot>();
        slot->graphs = LruCache<Shape, cuda::Graph>(graph_cache_);
        slot->context.reset(engine_->createExecutionContext());
        if (!slot->context) {
            throw Error(Errc::OutOfMemory, "TensorRT could not create an execution context (out of GPU memory?): " +
                                               logger_.last_error());
        }
        if (profile > 0 && !slot->context->setOptimizationProfileAsync(profile, slot->stream.get())) {
            throw Error(Errc::Runtime, "TensorRT could not select optimization profile " + std::to_string(profile) +
                                           ": " + logger_.last_error());
        }
        slot->stream.synchronize();
        slot->lo = to_shape(engine_->getProfileShape(contract::kImage, profile, nvinfer1::OptProfileSelector::kMIN));
        slot->hi = to_shape(engine_->getProfileShape(contract::kImage, profile, nvinfer1::OptProfileSelector::kMAX));
        std::map<std::string, Shape> profile_max{{contract::kImage, slot->hi}};
        if (info_.needs_trimap) {
            const Shape lo{slot->lo[0], slot->lo[1], slot->lo[2]}, hi{slot->hi[0], slot->hi[1], slot->hi[2]};
            const Shape trimap_lo = to_shape(engine_->getProfileShape(contract::kTrimap, profile,
                                                                      nvinfer1::OptProfileSelector::kMIN));
            const Shape trimap_hi = to_shape(engine_->getProfileShape(contract::kTrimap, profile,
                                                                      nvinfer1::OptProfileSelector::kMAX));
            // Every image shape the profile accepts must have its trimap accepted too.
            if (trimap_lo != lo || trimap_hi != hi) {
                throw Error(Errc::Incompatible, "the engine " + plan_path_ + "'s trimap profile " +
                                                    format_shape(trimap_lo) + ".." + format_shape(trimap_hi) +
                                                    " is not its image's N, H, W " + format_shape(lo) + ".." +
                                                    format_shape(hi) + "; rebuild it with `trtmatte build`");
            }
            profile_max[contract::kTrimap] = hi;
        }
        const IOPlan plan = plan_io(tensors_, profile_max,
                                    [&](const std::map<std::string, Shape>& inputs) {
                                        return output_shapes(*slot->context, inputs.at(contract::kImage));
                                    });
        for (const auto& buffer : plan.buffers) slot->device.emplace(buffer.name, cuda::Buffer::device(buffer.nbytes()));
        slot->image_host = cuda::Buffer::pinned(plan[contract::kImage].nbytes());
        if (info_.needs_trimap) slot->trimap_host = cuda::Buffer::pinned(plan[contract::kTrimap].nbytes());
        slot->alpha_host = cuda::Buffer::pinned(plan[contract::kAlpha].nbytes());
        return slot;
    }

    // Sets the context up for `shape` (only when it changes). Debug outputs at the working size can
    // exceed their max-corner size for some in-profile shapes: such a buffer grows once, and the
    // graphs captured with its old address are dropped.
    void prepare(Slot& slot, const Shape& shape) {
        if (slot.shape == shape) return;
        slot.out_shapes = output_shapes(*slot.context, shape);
        const Shape expected{shape[0], shape[1], shape[2]};
        if (slot.out_shapes.at(contract::kAlpha) != expected) {
            throw Error(Errc::Runtime, "the engine's alpha is " + format_shape(slot.out_shapes.at(contract::kAlpha)) +
                                           " for an input " + format_shape(shape) + "; expected " +
                                           format_shape(expected));
        }
        for (const auto& [name, out_shape] : slot.out_shapes) {
            const DType dtype = std::find_if(tensors_.begin(), tensors_.end(), [&](const TensorSpec& t) {
                                    return t.name == name;
                                })->dtype;
            const std::size_t need = static_cast<std::size_t>(element_count(out_shape)) * dtype_size(dtype);
            if (need > slot.device.at(name).size()) {
                slot.device.at(name) = cuda::Buffer::device(need);
                slot.graphs.clear();
            }
        }
        for (auto& [name, buffer] : slot.device) {
            if (!slot.context->setTensorAddress(name.c_str(), buffer.get())) {
                throw Error(Errc::Runtime, "TensorRT rejected the address of tensor '" + name + "': " +
                                               logger_.last_error());
            }
        }
        slot.shape = shape;
    }

    std::string plan_path_;
    const TensorRTLibrary* library_ = nullptr;
    bool use_graphs_;
    int device_;
    std::size_t graph_cache_;
    CapturingLogger logger_;  // outlives the runtime, engine and contexts below (declared first)
    std::unique_ptr<nvinfer1::IRuntime> runtime_;
    std::unique_ptr<nvinfer1::ICudaEngine> engine_;
    std::vector<TensorSpec> tensors_;
    DType alpha_dtype_ = DType::UInt8;
    std::vector<std::unique_ptr<Slot>> slots_;  // destroyed before the engine
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<Slot*> free_;
};

}  // namespace

std::unique_ptr<Session> open_tensorrt(const std::string& path, const Options& options) {
    return std::make_unique<TensorRTSession>(path, options);
}

}  // namespace trtmatte
