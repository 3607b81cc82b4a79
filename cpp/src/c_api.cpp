// The C ABI over trtmatte::Matter: every entry point catches everything, so no exception crosses
// into C; a failure returns its status and leaves a one-line message for trtmatte_last_error().
#include <trtmatte/matter.hpp>
#include <trtmatte/trtmatte_c.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#ifndef TRTMATTE_VERSION
#error "TRTMATTE_VERSION must be defined by the build"
#endif

struct trtmatte_matter {
    trtmatte::Matter matter;
    std::string description;
};

static_assert(static_cast<int>(trtmatte::Errc::InvalidArgument) == TRTMATTE_ERROR_INVALID_ARGUMENT &&
                  static_cast<int>(trtmatte::Errc::NotFound) == TRTMATTE_ERROR_NOT_FOUND &&
                  static_cast<int>(trtmatte::Errc::Unsupported) == TRTMATTE_ERROR_UNSUPPORTED &&
                  static_cast<int>(trtmatte::Errc::Incompatible) == TRTMATTE_ERROR_INCOMPATIBLE &&
                  static_cast<int>(trtmatte::Errc::Runtime) == TRTMATTE_ERROR_RUNTIME &&
                  static_cast<int>(trtmatte::Errc::OutOfMemory) == TRTMATTE_ERROR_OUT_OF_MEMORY &&
                  static_cast<int>(trtmatte::Errc::Internal) == TRTMATTE_ERROR_INTERNAL,
              "trtmatte_status and trtmatte::Errc must agree");

namespace {

thread_local std::string last_error;

// The size of trtmatte_options in 0.1.0, the first release: the smallest struct_size accepted, and
// what the 0.1.0 entry point trtmatte_options_init writes.
constexpr std::size_t kOptionsV1Size = offsetof(trtmatte_options, tensorrt_library) + sizeof(const char*);

// Whether a caller's struct of `size` bytes has the field at `offset` of `bytes` bytes.
constexpr bool has_field(std::size_t size, std::size_t offset, std::size_t bytes) { return size >= offset + bytes; }
#define TRTMATTE_HAS(size, field) has_field((size), offsetof(trtmatte_options, field), sizeof(trtmatte_options::field))

// Every open handle. Each call looks its handle up here before touching it, so a closed or bogus
// pointer is a status instead of a use-after-free (a magic field would have to be read from freed
// memory, which is undefined and which AddressSanitizer reports). The shared_ptr keeps a handle
// alive for calls that are running while another thread closes it.
class Registry {
public:
    void add(std::shared_ptr<trtmatte_matter> handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        trtmatte_matter* key = handle.get();
        open_.emplace(key, std::move(handle));
    }
    std::shared_ptr<trtmatte_matter> find(const trtmatte_matter* handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = open_.find(handle);
        return found != open_.end() ? found->second : nullptr;
    }
    std::shared_ptr<trtmatte_matter> remove(const trtmatte_matter* handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = open_.find(handle);
        if (found == open_.end()) return nullptr;
        auto handle_ptr = std::move(found->second);
        open_.erase(found);
        return handle_ptr;
    }

private:
    std::mutex mutex_;
    std::unordered_map<const trtmatte_matter*, std::shared_ptr<trtmatte_matter>> open_;
};

Registry& registry() {
    static Registry* handles = new Registry;  // never destroyed: calls may come during static destruction
    return *handles;
}

trtmatte_status fail(trtmatte_status status, const std::string& message) {
    try {
        last_error = message;
    } catch (...) {  // out of memory for the message itself: the status still says what happened
    }
    return status;
}

// Runs `body`, turning every exception into a status and a last-error message.
template <typename Body>
trtmatte_status guarded(Body&& body) {
    try {
        body();
        return TRTMATTE_OK;
    } catch (const trtmatte::Error& err) {
        return fail(static_cast<trtmatte_status>(err.code()), err.what());
    } catch (const std::bad_alloc&) {
        return fail(TRTMATTE_ERROR_OUT_OF_MEMORY, "out of host memory");
    } catch (const std::exception& exc) {
        return fail(TRTMATTE_ERROR_INTERNAL, std::string("internal error: ") + exc.what());
    } catch (...) {
        return fail(TRTMATTE_ERROR_INTERNAL, "internal error: unknown exception");
    }
}

const char* or_empty(const char* text) { return text != nullptr ? text : ""; }

void write_defaults(trtmatte_options* options, std::size_t size) {
    if (options == nullptr || size < sizeof(size_t)) return;
    const trtmatte::Options defaults;
    trtmatte_options full;
    std::memset(&full, 0, sizeof(full));
    full.struct_size = size;  // the caller's size, whichever is larger
    full.backend = TRTMATTE_BACKEND_AUTO;
    full.threads = defaults.threads;
    full.contexts = defaults.contexts;
    full.cuda_graphs = defaults.cuda_graphs ? 1 : 0;
    full.cpu_arena = defaults.cpu_arena ? 1 : 0;
    full.device = defaults.device;
    full.cuda_graph_cache = defaults.cuda_graph_cache;
    // Only the caller's bytes: an older, smaller struct is never overrun, and the tail of a newer,
    // larger one (fields this library does not know) is zeroed.
    if (size > sizeof(full)) std::memset(options, 0, size);
    std::memcpy(options, &full, size < sizeof(full) ? size : sizeof(full));
}

// The caller's options as trtmatte::Options: only the fields its struct_size covers are read, and
// the backend is read as the int it is before it becomes an enum.
trtmatte_status read_options(const trtmatte_options* options, trtmatte::Options& opts) {
    const std::size_t size = options->struct_size;
    if (size < kOptionsV1Size) {
        return fail(TRTMATTE_ERROR_INVALID_ARGUMENT,
                    "trtmatte_open: options->struct_size is " + std::to_string(size) + ", smaller than any version of "
                        "trtmatte_options; fill the options with trtmatte_options_init");
    }
    int backend = 0;
    static_assert(sizeof(trtmatte_backend) == sizeof(int), "trtmatte_backend is read as an int");
    std::memcpy(&backend, reinterpret_cast<const char*>(options) + offsetof(trtmatte_options, backend), sizeof(int));
    switch (backend) {
        case TRTMATTE_BACKEND_AUTO: opts.backend = trtmatte::BackendKind::Auto; break;
        case TRTMATTE_BACKEND_ONNXRUNTIME: opts.backend = trtmatte::BackendKind::OnnxRuntime; break;
        case TRTMATTE_BACKEND_TENSORRT: opts.backend = trtmatte::BackendKind::TensorRT; break;
        default:
            return fail(TRTMATTE_ERROR_INVALID_ARGUMENT,
                        "trtmatte_open: unknown backend " + std::to_string(backend) +
                            " (TRTMATTE_BACKEND_AUTO, TRTMATTE_BACKEND_ONNXRUNTIME or TRTMATTE_BACKEND_TENSORRT)");
    }
    opts.threads = options->threads;
    opts.contexts = options->contexts;
    opts.cuda_graphs = options->cuda_graphs != 0;
    opts.onnxruntime_library = or_empty(options->onnxruntime_library);
    opts.tensorrt_library = or_empty(options->tensorrt_library);
    if (TRTMATTE_HAS(size, cpu_arena)) opts.cpu_arena = options->cpu_arena != 0;
    if (TRTMATTE_HAS(size, device)) opts.device = options->device;
    if (TRTMATTE_HAS(size, cuda_graph_cache)) opts.cuda_graph_cache = options->cuda_graph_cache;
    return TRTMATTE_OK;
}

// The open handle `matter` names, or nullptr after setting the last error for `function`.
std::shared_ptr<trtmatte_matter> lookup(const trtmatte_matter* matter, const char* function) {
    auto handle = matter != nullptr ? registry().find(matter) : nullptr;
    if (!handle) {
        try {
            fail(TRTMATTE_ERROR_INVALID_ARGUMENT,
                 std::string(function) + (matter == nullptr ? ": matter is NULL"
                                                            : ": matter is not an open handle (closed already, or "
                                                              "never returned by trtmatte_open)"));
        } catch (const std::bad_alloc&) {  // no memory for the message: the status still says it
        }
    }
    return handle;
}

}  // namespace

extern "C" {

void trtmatte_options_init_sized(trtmatte_options* options, size_t struct_size) {
    write_defaults(options, struct_size);
}

// The 0.1.0 symbol: binaries built against 0.1.0 pass a struct of that size. (The header's macro of the
// same name sends source callers to trtmatte_options_init_sized.)
#undef trtmatte_options_init
void trtmatte_options_init(trtmatte_options* options) { write_defaults(options, kOptionsV1Size); }

const char* trtmatte_version(void) { return TRTMATTE_VERSION; }

trtmatte_status trtmatte_open(const char* model_path, const trtmatte_options* options, trtmatte_matter** matter) {
    if (matter == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_open: matter (the out pointer) is NULL");
    *matter = nullptr;
    if (model_path == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_open: model_path is NULL");
    trtmatte::Options opts;
    if (options != nullptr) {
        trtmatte_status status = TRTMATTE_OK;
        try {
            status = read_options(options, opts);
        } catch (const std::bad_alloc&) {  // building the message (the strings are copied)
            return fail(TRTMATTE_ERROR_OUT_OF_MEMORY, "out of host memory");
        }
        if (status != TRTMATTE_OK) return status;
    }
    return guarded([&] {
        auto handle = std::make_shared<trtmatte_matter>(trtmatte_matter{trtmatte::Matter(model_path, opts), {}});
        handle->description = handle->matter.describe();
        registry().add(handle);
        *matter = handle.get();
    });
}

trtmatte_status trtmatte_matte(trtmatte_matter* matter, const uint8_t* rgb, int height, int width, size_t row_stride,
                               uint8_t* alpha) {
    const auto handle = lookup(matter, "trtmatte_matte");
    if (!handle) return TRTMATTE_ERROR_INVALID_ARGUMENT;
    return guarded([&] { handle->matter.matte(rgb, height, width, row_stride, alpha); });
}

trtmatte_status trtmatte_matte_batch(trtmatte_matter* matter, const uint8_t* rgb, int count, int height, int width,
                                     size_t row_stride, uint8_t* alpha) {
    const auto handle = lookup(matter, "trtmatte_matte_batch");
    if (!handle) return TRTMATTE_ERROR_INVALID_ARGUMENT;
    return guarded([&] { handle->matter.matte_batch(rgb, count, height, width, row_stride, alpha); });
}

trtmatte_status trtmatte_matte_trimap(trtmatte_matter* matter, const uint8_t* rgb, int height, int width,
                                      size_t row_stride, const uint8_t* trimap, size_t trimap_stride, uint8_t* alpha) {
    const auto handle = lookup(matter, "trtmatte_matte_trimap");
    if (!handle) return TRTMATTE_ERROR_INVALID_ARGUMENT;
    // A NULL trimap here is a caller's slip, not a request for the trimap-free call.
    if (trimap == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte_trimap: trimap is NULL");
    return guarded([&] { handle->matter.matte(rgb, height, width, row_stride, trimap, trimap_stride, alpha); });
}

trtmatte_status trtmatte_matte_batch_trimap(trtmatte_matter* matter, const uint8_t* rgb, int count, int height,
                                            int width, size_t row_stride, const uint8_t* trimap, size_t trimap_stride,
                                            uint8_t* alpha) {
    const auto handle = lookup(matter, "trtmatte_matte_batch_trimap");
    if (!handle) return TRTMATTE_ERROR_INVALID_ARGUMENT;
    if (trimap == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte_batch_trimap: trimap is NULL");
    return guarded([&] {
        handle->matter.matte_batch(rgb, count, height, width, row_stride, trimap, trimap_stride, alpha);
    });
}

int trtmatte_needs_trimap(const trtmatte_matter* matter) {
    if (matter == nullptr) return -1;
    const auto handle = lookup(matter, "trtmatte_needs_trimap");
    return handle ? (handle->matter.info().needs_trimap ? 1 : 0) : -1;
}

const char* trtmatte_describe(const trtmatte_matter* matter) {
    // The text lives as long as the handle: valid until trtmatte_close, as the header says.
    if (matter == nullptr) return nullptr;
    const auto handle = lookup(matter, "trtmatte_describe");
    return handle ? handle->description.c_str() : nullptr;
}

trtmatte_status trtmatte_close(trtmatte_matter* matter) {
    if (matter == nullptr) return TRTMATTE_OK;
    // Released here, or by the last call still running on it.
    if (registry().remove(matter)) return TRTMATTE_OK;
    lookup(matter, "trtmatte_close");  // not open: sets the last error
    return TRTMATTE_ERROR_INVALID_ARGUMENT;
}

const char* trtmatte_last_error(void) { return last_error.c_str(); }

}  // extern "C"
