// A fake libnvinfer for test_tensorrt_logger: the symbols TensorRTLibrary::load resolves, with
// createInferRuntime_INTERNAL recording the logger it is handed (and returning no runtime).
#include <NvInferVersion.h>

#include <cstdint>

namespace {
void* last_logger = nullptr;
int runtimes = 0;
}  // namespace

extern "C" {
__attribute__((visibility("default"))) std::int32_t getInferLibMajorVersion() { return NV_TENSORRT_MAJOR; }
__attribute__((visibility("default"))) std::int32_t getInferLibMinorVersion() { return NV_TENSORRT_MINOR; }
__attribute__((visibility("default"))) std::int32_t getInferLibPatchVersion() { return NV_TENSORRT_PATCH; }
__attribute__((visibility("default"))) std::int32_t getInferLibBuildVersion() { return 0; }
__attribute__((visibility("default"))) void* createInferRuntime_INTERNAL(void* logger, std::int32_t) {
    last_logger = logger;
    ++runtimes;
    return nullptr;
}
__attribute__((visibility("default"))) void* fake_nvinfer_last_logger() { return last_logger; }
__attribute__((visibility("default"))) int fake_nvinfer_runtimes() { return runtimes; }
}
