/* The C ABI of libtrtmatte: an opaque handle, status codes and a thread-local last-error string.
 * No C++ exception crosses it.
 *
 * Threads: every function may be called from any thread. On one handle, the matting calls
 * (trtmatte_matte*, trtmatte_needs_trimap, trtmatte_describe) may run concurrently with each other
 * and with trtmatte_close: a handle closed while calls on it are running is released when the last
 * of them returns, and later calls on it fail with TRTMATTE_ERROR_INVALID_ARGUMENT. The string
 * trtmatte_describe returns is valid until trtmatte_close is called on its handle.
 *
 * Handles: the library keeps a registry of the handles it has opened and checks every handle
 * against it before using it, so NULL, a closed handle (trtmatte_close twice, a call after close)
 * or a pointer that never was a handle gives TRTMATTE_ERROR_INVALID_ARGUMENT, not a crash. One
 * limit: a later trtmatte_open may return the address of a closed handle again, and a stale copy
 * of that address then names the new handle.
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

/* Fill with trtmatte_options_init; fields as trtmatte::Options. struct_size is the caller's
 * sizeof(trtmatte_options), which lets the struct grow without breaking anyone: the library reads
 * only the fields a caller's struct has (later fields keep their defaults) and ignores fields it
 * does not know yet. New fields are only ever appended. */
typedef struct trtmatte_options {
    size_t struct_size;
    trtmatte_backend backend; /* values other than the enumerators: TRTMATTE_ERROR_INVALID_ARGUMENT */
    int threads;
    int contexts;
    int cuda_graphs;
    const char* onnxruntime_library; /* NULL or "": the default */
    const char* tensorrt_library;
    /* Added after 0.1.0 (callers compiled against 0.1.0's header keep the defaults): */
    int cpu_arena;        /* ONNX Runtime CPU arena and memory patterns: 1 (default) or 0 */
    int device;           /* TensorRT: CUDA device id, default 0 */
    int cuda_graph_cache; /* TensorRT: CUDA graphs kept per context (LRU), default 8 */
} trtmatte_options;

/* Writes the defaults into the first struct_size bytes of *options (struct_size = the caller's
 * sizeof(trtmatte_options)), never more. */
TRTMATTE_API void trtmatte_options_init_sized(trtmatte_options* options, size_t struct_size);

/* The 0.1.0 entry point, kept for binaries built against it: writes only the fields 0.1.0 had. Source
 * that includes this header calls trtmatte_options_init_sized with its own size through the macro. */
TRTMATTE_API void trtmatte_options_init(trtmatte_options* options);
#define trtmatte_options_init(options) trtmatte_options_init_sized((options), sizeof(*(options)))

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

/* 1 if every call needs a trimap (the graph or engine has a trimap input), 0 if not, -1 for NULL
 * or a handle that is not open. */
TRTMATTE_API int trtmatte_needs_trimap(const trtmatte_matter* matter);

/* One line naming the backend, its version, device, precision and model variant; valid until the
 * handle is closed. NULL for NULL or a handle that is not open. */
TRTMATTE_API const char* trtmatte_describe(const trtmatte_matter* matter);

/* NULL is accepted (TRTMATTE_OK). A handle that is not open (closed already, or never opened):
 * TRTMATTE_ERROR_INVALID_ARGUMENT. (Returned void in 0.1.0; callers that ignore the result are
 * unaffected.) */
TRTMATTE_API trtmatte_status trtmatte_close(trtmatte_matter* matter);

/* The message of this thread's last failed call (one line), or "" if none failed yet. */
TRTMATTE_API const char* trtmatte_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
