/* The C ABI of libtrtmatte: an opaque handle, status codes and a thread-local last-error string.
 * No C++ exception crosses it. Every function is thread-safe; trtmatte_matte and
 * trtmatte_matte_batch may run concurrently on one handle (see trtmatte/matter.hpp).
 *
 *   trtmatte_matter* m = NULL;
 *   if (trtmatte_open("late_fusion.onnx", NULL, &m) != TRTMATTE_OK) {
 *       fprintf(stderr, "%s\n", trtmatte_last_error());
 *       return 1;
 *   }
 *   trtmatte_matte(m, rgb, height, width, row_stride, alpha);
 *   trtmatte_close(m);
 */
#ifndef TRTMATTE_C_H
#define TRTMATTE_C_H

#include <trtmatte/export.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct trtmatte_matter trtmatte_matter;

/* The same values as trtmatte::Errc. */
typedef enum trtmatte_status {
    TRTMATTE_OK = 0,
    TRTMATTE_ERROR_INVALID_ARGUMENT = 1, /* null pointer, bad size, shape outside the profile */
    TRTMATTE_ERROR_NOT_FOUND = 2,        /* model file, sidecar, or a backend library missing */
    TRTMATTE_ERROR_UNSUPPORTED = 3,      /* wrong file type, backend not built in, no GPU */
    TRTMATTE_ERROR_INCOMPATIBLE = 4,     /* plan built for another TensorRT or GPU */
    TRTMATTE_ERROR_RUNTIME = 5,          /* the backend failed while running */
    TRTMATTE_ERROR_OUT_OF_MEMORY = 6,
    TRTMATTE_ERROR_INTERNAL = 7
} trtmatte_status;

typedef enum trtmatte_backend {
    TRTMATTE_BACKEND_AUTO = 0, /* NAME.onnx -> ONNX Runtime, anything else -> TensorRT plan */
    TRTMATTE_BACKEND_ONNXRUNTIME = 1,
    TRTMATTE_BACKEND_TENSORRT = 2
} trtmatte_backend;

/* Fill with trtmatte_options_init; fields as trtmatte::Options. struct_size lets later versions
 * add fields without breaking callers compiled against this header. */
typedef struct trtmatte_options {
    size_t struct_size;
    trtmatte_backend backend;
    int threads;
    int contexts;
    int cuda_graphs;
    const char* onnxruntime_library; /* NULL or "": the default */
    const char* tensorrt_library;
} trtmatte_options;

TRTMATTE_API void trtmatte_options_init(trtmatte_options* options);

/* The library's version, e.g. "0.1.0". */
TRTMATTE_API const char* trtmatte_version(void);

/* options may be NULL (defaults). On failure *matter is set to NULL. */
TRTMATTE_API trtmatte_status trtmatte_open(const char* model_path, const trtmatte_options* options,
                                           trtmatte_matter** matter);

/* rgb: height rows of width RGB pixels, row_stride bytes apart (>= 3 * width);
 * alpha: height * width bytes, rows packed. */
TRTMATTE_API trtmatte_status trtmatte_matte(trtmatte_matter* matter, const uint8_t* rgb, int height, int width,
                                            size_t row_stride, uint8_t* alpha);

/* count images of one size, image i at rgb + i * height * row_stride; alpha: count * height * width bytes. */
TRTMATTE_API trtmatte_status trtmatte_matte_batch(trtmatte_matter* matter, const uint8_t* rgb, int count,
                                                  int height, int width, size_t row_stride, uint8_t* alpha);

/* Trimap-based models (AdaMatting; trtmatte_needs_trimap says so): trimap has height rows of width
 * bytes, trimap_stride bytes apart (>= width): 0 background, 128 unknown, 255 foreground (other
 * values are read by thresholds: below 85 background, above 170 foreground, else unknown). For a
 * batch, image i's trimap starts at trimap + i * height * trimap_stride. trtmatte_matte on a trimap
 * model, or these functions on a trimap-free one, fail with TRTMATTE_ERROR_INVALID_ARGUMENT and a
 * last error naming the function to call instead. */
TRTMATTE_API trtmatte_status trtmatte_matte_trimap(trtmatte_matter* matter, const uint8_t* rgb, int height, int width,
                                                   size_t row_stride, const uint8_t* trimap, size_t trimap_stride,
                                                   uint8_t* alpha);
TRTMATTE_API trtmatte_status trtmatte_matte_batch_trimap(trtmatte_matter* matter, const uint8_t* rgb, int count,
                                                         int height, int width, size_t row_stride,
                                                         const uint8_t* trimap, size_t trimap_stride, uint8_t* alpha);

/* 1 if every call needs a trimap (the graph or engine has a trimap input), 0 if not, -1 for NULL. */
TRTMATTE_API int trtmatte_needs_trimap(const trtmatte_matter* matter);

/* One line naming the backend, its version, device, precision and model variant; valid until the
 * handle is closed. NULL for a NULL handle. */
TRTMATTE_API const char* trtmatte_describe(const trtmatte_matter* matter);

/* NULL is accepted. */
TRTMATTE_API void trtmatte_close(trtmatte_matter* matter);

/* The message of this thread's last failed call (one line), or "" if none failed yet. */
TRTMATTE_API const char* trtmatte_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
