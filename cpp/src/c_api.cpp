// The C ABI over trtmatte::Matter: every entry point catches everything, so no exception crosses
// into C; a failure returns its status and leaves a one-line message for trtmatte_last_error().
#include <trtmatte/matter.hpp>
#include <trtmatte/trtmatte_c.h>

#include <cstring>
#include <new>
#include <string>

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

}  // namespace

extern "C" {

void trtmatte_options_init(trtmatte_options* options) {
    if (options == nullptr) return;
    const trtmatte::Options defaults;
    std::memset(options, 0, sizeof(*options));
    options->struct_size = sizeof(*options);
    options->backend = TRTMATTE_BACKEND_AUTO;
    options->threads = defaults.threads;
    options->contexts = defaults.contexts;
    options->cuda_graphs = defaults.cuda_graphs ? 1 : 0;
}

const char* trtmatte_version(void) { return TRTMATTE_VERSION; }

trtmatte_status trtmatte_open(const char* model_path, const trtmatte_options* options, trtmatte_matter** matter) {
    if (matter == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_open: matter (the out pointer) is NULL");
    *matter = nullptr;
    if (model_path == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_open: model_path is NULL");
    trtmatte::Options opts;
    if (options != nullptr) {
        if (options->struct_size < sizeof(trtmatte_options)) {
            return fail(TRTMATTE_ERROR_INVALID_ARGUMENT,
                        "trtmatte_open: options->struct_size is " + std::to_string(options->struct_size) +
                            "; fill the options with trtmatte_options_init");
        }
        switch (options->backend) {
            case TRTMATTE_BACKEND_AUTO: opts.backend = trtmatte::BackendKind::Auto; break;
            case TRTMATTE_BACKEND_ONNXRUNTIME: opts.backend = trtmatte::BackendKind::OnnxRuntime; break;
            case TRTMATTE_BACKEND_TENSORRT: opts.backend = trtmatte::BackendKind::TensorRT; break;
            default:
                return fail(TRTMATTE_ERROR_INVALID_ARGUMENT,
                            "trtmatte_open: unknown backend " + std::to_string(static_cast<int>(options->backend)));
        }
        opts.threads = options->threads;
        opts.contexts = options->contexts;
        opts.cuda_graphs = options->cuda_graphs != 0;
        opts.onnxruntime_library = or_empty(options->onnxruntime_library);
        opts.tensorrt_library = or_empty(options->tensorrt_library);
    }
    return guarded([&] {
        auto* handle = new trtmatte_matter{trtmatte::Matter(model_path, opts), {}};
        handle->description = handle->matter.describe();
        *matter = handle;
    });
}

trtmatte_status trtmatte_matte(trtmatte_matter* matter, const uint8_t* rgb, int height, int width, size_t row_stride,
                               uint8_t* alpha) {
    if (matter == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte: matter is NULL");
    return guarded([&] { matter->matter.matte(rgb, height, width, row_stride, alpha); });
}

trtmatte_status trtmatte_matte_batch(trtmatte_matter* matter, const uint8_t* rgb, int count, int height, int width,
                                     size_t row_stride, uint8_t* alpha) {
    if (matter == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte_batch: matter is NULL");
    return guarded([&] { matter->matter.matte_batch(rgb, count, height, width, row_stride, alpha); });
}

trtmatte_status trtmatte_matte_trimap(trtmatte_matter* matter, const uint8_t* rgb, int height, int width,
                                      size_t row_stride, const uint8_t* trimap, size_t trimap_stride, uint8_t* alpha) {
    if (matter == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte_trimap: matter is NULL");
    // A NULL trimap here is a caller's slip, not a request for the trimap-free call.
    if (trimap == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte_trimap: trimap is NULL");
    return guarded([&] { matter->matter.matte(rgb, height, width, row_stride, trimap, trimap_stride, alpha); });
}

trtmatte_status trtmatte_matte_batch_trimap(trtmatte_matter* matter, const uint8_t* rgb, int count, int height,
                                            int width, size_t row_stride, const uint8_t* trimap, size_t trimap_stride,
                                            uint8_t* alpha) {
    if (matter == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte_batch_trimap: matter is NULL");
    if (trimap == nullptr) return fail(TRTMATTE_ERROR_INVALID_ARGUMENT, "trtmatte_matte_batch_trimap: trimap is NULL");
    return guarded([&] {
        matter->matter.matte_batch(rgb, count, height, width, row_stride, trimap, trimap_stride, alpha);
    });
}

int trtmatte_needs_trimap(const trtmatte_matter* matter) {
    return matter == nullptr ? -1 : (matter->matter.info().needs_trimap ? 1 : 0);
}

const char* trtmatte_describe(const trtmatte_matter* matter) {
    return matter != nullptr ? matter->description.c_str() : nullptr;
}

void trtmatte_close(trtmatte_matter* matter) { delete matter; }

const char* trtmatte_last_error(void) { return last_error.c_str(); }

}  // extern "C"
