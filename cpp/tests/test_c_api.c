/* The C ABI from C: every error path (bad path, wrong file type, bad options, wrong sizes, NULL
 * pointers), the thread-local last error, and, when TRTMATTE_TEST_ONNX names an exported graph,
 * real runs: strided rows, a batch, and four threads sharing one handle. */
#define _POSIX_C_SOURCE 200809L
#include <trtmatte/trtmatte_c.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: FAILED: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, trtmatte_last_error());                                     \
            ++failures;                                                                \
        }                                                                              \
    } while (0)

static int contains(const char* text, const char* part) { return text != NULL && strstr(text, part) != NULL; }

static void write_text(const char* path, const char* text) {
    FILE* f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static char dir[256];

static const char* in_dir(const char* name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void opening_errors(void) {
    trtmatte_matter* m = (trtmatte_matter*)0x1;
    CHECK(strcmp(trtmatte_last_error(), "") == 0);
    CHECK(trtmatte_open(NULL, NULL, &m) == TRTMATTE_ERROR_INVALID_ARGUMENT && m == NULL);
    CHECK(contains(trtmatte_last_error(), "model_path is NULL"));
    CHECK(trtmatte_open("x.onnx", NULL, NULL) == TRTMATTE_ERROR_INVALID_ARGUMENT);

    CHECK(trtmatte_open(in_dir("missing.onnx"), NULL, &m) == TRTMATTE_ERROR_NOT_FOUND && m == NULL);
    CHECK(contains(trtmatte_last_error(), "missing.onnx not found"));
    CHECK(strchr(trtmatte_last_error(), '\n') == NULL);

    write_text(in_dir("photo.png"), "\x89PNG not really");
    CHECK(trtmatte_open(in_dir("photo.png"), NULL, &m) == TRTMATTE_ERROR_UNSUPPORTED);
    CHECK(contains(trtmatte_last_error(), "is neither an exported ONNX graph"));
    CHECK(trtmatte_open(dir, NULL, &m) == TRTMATTE_ERROR_UNSUPPORTED);
    CHECK(contains(trtmatte_last_error(), "is a directory"));

    /* An ONNX file that is not one: ONNX Runtime's own error, in one line. */
    write_text(in_dir("garbage.onnx"), "not a protobuf");
    trtmatte_status status = trtmatte_open(in_dir("garbage.onnx"), NULL, &m);
    if (getenv("TRTMATTE_TEST_ONNX") != NULL) {
        CHECK(status == TRTMATTE_ERROR_UNSUPPORTED && contains(trtmatte_last_error(), "onnxruntime cannot load"));
    } else {
        CHECK(status == TRTMATTE_ERROR_UNSUPPORTED || status == TRTMATTE_ERROR_NOT_FOUND);
    }
    CHECK(strchr(trtmatte_last_error(), '\n') == NULL);

    trtmatte_options options;
    trtmatte_options_init(&options);
    CHECK(options.struct_size == sizeof options && options.contexts == 1 && options.backend == TRTMATTE_BACKEND_AUTO);
    options.backend = (trtmatte_backend)99;
    CHECK(trtmatte_open(in_dir("garbage.onnx"), &options, &m) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "unknown backend 99"));
    trtmatte_options_init(&options);
    options.contexts = 0;
    CHECK(trtmatte_open(in_dir("garbage.onnx"), &options, &m) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    options.struct_size = 4;
    CHECK(trtmatte_open(in_dir("garbage.onnx"), &options, &m) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "trtmatte_options_init"));
    /* a graph given to the TensorRT backend: the advice must not overwrite the graph */
    trtmatte_options_init(&options);
    options.backend = TRTMATTE_BACKEND_TENSORRT;
    CHECK(trtmatte_open(in_dir("garbage.onnx"), &options, &m) == TRTMATTE_ERROR_UNSUPPORTED);
    CHECK(contains(trtmatte_last_error(), "garbage.onnx is an ONNX graph, and the TensorRT backend opens TensorRT plans"));
    char advice[600];
    snprintf(advice, sizeof advice, "-o %s/garbage.plan`", dir);
    CHECK(contains(trtmatte_last_error(), advice));
    snprintf(advice, sizeof advice, "-o %s/garbage.onnx", dir);
    CHECK(!contains(trtmatte_last_error(), advice));
    trtmatte_options_init(&options);
    options.backend = (trtmatte_backend)-7; /* read as an int before it becomes an enum (UBSan checks) */
    CHECK(trtmatte_open(in_dir("garbage.onnx"), &options, &m) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "unknown backend -7"));
}

/* A caller built against 0.1's header: its struct ends at tensorrt_library. */
typedef struct options_v1 {
    size_t struct_size;
    trtmatte_backend backend;
    int threads;
    int contexts;
    int cuda_graphs;
    const char* onnxruntime_library;
    const char* tensorrt_library;
} options_v1;

/* A caller built against a later header: fields this library does not know follow. */
typedef struct options_next {
    trtmatte_options known;
    int later_field;
    double another;
} options_next;

static void options_sizes(void) {
    /* init writes only the caller's bytes: the guard after a 0.1-sized struct stays untouched */
    struct {
        options_v1 v1;
        unsigned char guard[64];
    } old;
    memset(&old, 0xAB, sizeof old);
    trtmatte_options_init_sized((trtmatte_options*)&old.v1, sizeof old.v1);
    CHECK(old.v1.struct_size == sizeof old.v1 && old.v1.contexts == 1 && old.v1.tensorrt_library == NULL);
    for (size_t i = 0; i < sizeof old.guard; ++i) CHECK(old.guard[i] == 0xAB);
    /* so does the 0.1 entry point, which old binaries call (the macro is bypassed by the parentheses) */
    memset(&old, 0xAB, sizeof old);
    (trtmatte_options_init)((trtmatte_options*)&old.v1);
    CHECK(old.v1.struct_size == sizeof old.v1);
    for (size_t i = 0; i < sizeof old.guard; ++i) CHECK(old.guard[i] == 0xAB);
    /* a larger struct: defaults for what is known, zeros for the rest */
    options_next next;
    memset(&next, 0xAB, sizeof next);
    trtmatte_options_init_sized(&next.known, sizeof next);
    CHECK(next.known.struct_size == sizeof next && next.known.cpu_arena == 1 && next.known.cuda_graph_cache == 8 &&
          next.later_field == 0);
    /* the macro passes the caller's own size */
    trtmatte_options current;
    trtmatte_options_init(&current);
    CHECK(current.struct_size == sizeof current && current.device == 0);
}

static void misuse(const char* onnx) {
    trtmatte_matter* m = NULL;
    options_v1 v1;
    trtmatte_options_init_sized((trtmatte_options*)&v1, sizeof v1);
    v1.threads = 1;
    CHECK(trtmatte_open(onnx, (const trtmatte_options*)&v1, &m) == TRTMATTE_OK && m != NULL); /* older caller */
    CHECK(trtmatte_close(m) == TRTMATTE_OK);
    options_next next;
    trtmatte_options_init_sized(&next.known, sizeof next);
    next.later_field = 12345;
    next.known.cpu_arena = 0;
    CHECK(trtmatte_open(onnx, &next.known, &m) == TRTMATTE_OK && m != NULL); /* newer caller */

    uint8_t image[8 * 8 * 3] = {0}, alpha[8 * 8];
    CHECK(trtmatte_matte(m, image, 8, 8, 24, alpha) == TRTMATTE_OK);
    CHECK(trtmatte_close(m) == TRTMATTE_OK);
    /* double close and use after close: a status, not a crash (and nothing ASan reports) */
    CHECK(trtmatte_close(m) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "trtmatte_close: matter is not an open handle"));
    CHECK(trtmatte_matte(m, image, 8, 8, 24, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "trtmatte_matte: matter is not an open handle"));
    CHECK(trtmatte_needs_trimap(m) == -1 && trtmatte_describe(m) == NULL);
    /* a pointer that never was a handle */
    trtmatte_matter* bogus = (trtmatte_matter*)image;
    CHECK(trtmatte_matte_batch(bogus, image, 1, 8, 8, 24, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(trtmatte_close(bogus) == TRTMATTE_ERROR_INVALID_ARGUMENT);
}

static void tensorrt_plans(void) {
    trtmatte_matter* m = NULL;
#ifdef TRTMATTE_TEST_TENSORRT_MAJOR
    /* the sidecar is read first: its absence is reported whether or not TensorRT is installed */
    write_text(in_dir("nosidecar.plan"), "plan bytes");
    CHECK(trtmatte_open(in_dir("nosidecar.plan"), NULL, &m) == TRTMATTE_ERROR_NOT_FOUND);
    CHECK(contains(trtmatte_last_error(), "has no sidecar nosidecar.plan.json"));
#endif
    write_text(in_dir("model.plan"), "plan bytes");
    write_text(in_dir("model.plan.json"),
               "{\"tensorrt_flavour\": \"tensorrt\", \"tensorrt_version\": \"10.3.0.26\", \"precision\": \"fp32\", "
               "\"profile\": {}, \"onnx_sha256\": \"\", \"onnx_path\": \"m.onnx\"}");
    trtmatte_status status = trtmatte_open(in_dir("model.plan"), NULL, &m);
#ifdef TRTMATTE_TEST_TENSORRT_MAJOR
    char name[64];
    snprintf(name, sizeof name, "libnvinfer.so.%d", TRTMATTE_TEST_TENSORRT_MAJOR);
    void* tensorrt = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (tensorrt == NULL) {
        CHECK(status == TRTMATTE_ERROR_NOT_FOUND);
        CHECK(strncmp(trtmatte_last_error(), "TensorRT not found: ", 20) == 0);
        CHECK(contains(trtmatte_last_error(), name));
    } else {
        printf("test_c_api: %s is installed here: the TensorRT-not-found case cannot be shown\n", name);
        CHECK(status != TRTMATTE_OK);
    }
#else
    CHECK(status == TRTMATTE_ERROR_UNSUPPORTED && contains(trtmatte_last_error(), "without the TensorRT backend"));
#endif
    CHECK(m == NULL);
    CHECK(strchr(trtmatte_last_error(), '\n') == NULL);
}

/* ---- runs on a real graph ---- */

enum { H = 48, W = 64, STRIDE = W * 3 + 5 };
static uint8_t image[H * STRIDE];
static uint8_t reference[H * W];

struct worker {
    trtmatte_matter* m;
    int ok;
};

static void* matte_repeatedly(void* arg) {
    struct worker* w = (struct worker*)arg;
    uint8_t alpha[H * W];
    w->ok = 1;
    for (int i = 0; i < 3; ++i) {
        w->ok = w->ok && trtmatte_matte(w->m, image, H, W, STRIDE, alpha) == TRTMATTE_OK &&
                memcmp(alpha, reference, sizeof alpha) == 0;
    }
    /* this thread's failure is this thread's last error, and no one else's */
    w->ok = w->ok && trtmatte_matte(w->m, image, 0, W, STRIDE, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT &&
            contains(trtmatte_last_error(), "must be positive");
    return NULL;
}

static void runs(const char* onnx) {
    trtmatte_matter* m = NULL;
    CHECK(trtmatte_open(onnx, NULL, &m) == TRTMATTE_OK && m != NULL);
    if (m == NULL) return;
    CHECK(contains(trtmatte_describe(m), "onnxruntime") && contains(trtmatte_describe(m), "CPU"));
    for (int r = 0; r < H; ++r) {
        for (int c = 0; c < STRIDE; ++c) image[r * STRIDE + c] = (uint8_t)(c < W * 3 ? (r * 5 + c * 3) % 256 : 0xEE);
    }
    /* dense copy of the strided image: both must give the same alpha */
    static uint8_t dense[H * W * 3], alpha[2 * H * W];
    for (int r = 0; r < H; ++r) memcpy(dense + r * W * 3, image + r * STRIDE, W * 3);
    CHECK(trtmatte_matte(m, image, H, W, STRIDE, reference) == TRTMATTE_OK);
    CHECK(trtmatte_matte(m, dense, H, W, W * 3, alpha) == TRTMATTE_OK);
    CHECK(memcmp(alpha, reference, H * W) == 0);
    int lo = 255, hi = 0;
    for (int i = 0; i < H * W; ++i) {
        lo = reference[i] < lo ? reference[i] : lo;
        hi = reference[i] > hi ? reference[i] : hi;
    }
    CHECK(hi > lo); /* a real matte, not a constant */

    static uint8_t batch[2 * H * STRIDE];
    memcpy(batch, image, sizeof image);
    memcpy(batch + H * STRIDE, image, sizeof image);
    CHECK(trtmatte_matte_batch(m, batch, 2, H, W, STRIDE, alpha) == TRTMATTE_OK);
    CHECK(memcmp(alpha, reference, H * W) == 0 && memcmp(alpha + H * W, reference, H * W) == 0);

    /* wrong sizes and NULL pointers */
    CHECK(trtmatte_matte(NULL, image, H, W, STRIDE, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(trtmatte_matte(m, NULL, H, W, STRIDE, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "rgb is a null pointer"));
    CHECK(trtmatte_matte(m, image, H, W, STRIDE, NULL) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(trtmatte_matte(m, image, -1, W, STRIDE, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(trtmatte_matte(m, image, H, W, W * 3 - 1, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "row_stride 191 is smaller than a row of 64 RGB pixels (192 bytes)"));
    CHECK(trtmatte_matte_batch(m, batch, 0, H, W, STRIDE, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(trtmatte_matte(m, image, 1 << 30, W, (size_t)1 << 40, alpha) == TRTMATTE_ERROR_INVALID_ARGUMENT);
    CHECK(contains(trtmatte_last_error(), "too large"));

    /* one handle, four threads */
    pthread_t threads[4];
    struct worker workers[4];
    for (int i = 0; i < 4; ++i) {
        workers[i].m = m;
        pthread_create(&threads[i], NULL, matte_repeatedly, &workers[i]);
    }
    for (int i = 0; i < 4; ++i) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].ok);
    }
    CHECK(contains(trtmatte_last_error(), "too large")); /* the threads' errors did not land here */
    trtmatte_close(m);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/trtmatte_c_api_%d", (int)getpid());
    mkdir(dir, 0700);
    CHECK(strcmp(trtmatte_version(), TRTMATTE_TEST_VERSION) == 0);
    trtmatte_close(NULL);
    CHECK(trtmatte_describe(NULL) == NULL);
    opening_errors();
    tensorrt_plans();
    const char* onnx = getenv("TRTMATTE_TEST_ONNX");
    options_sizes();
    if (onnx != NULL) {
        runs(onnx);
        misuse(onnx);
    } else {
        printf("test_c_api: TRTMATTE_TEST_ONNX is not set: no run on a real graph (tests/cpp sets it)\n");
    }
    char command[300];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("test_c_api: %s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
