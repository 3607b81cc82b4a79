// The CUDA calls about devices (errors, which device, switching and restoring it), apart from the
// memory, streams and graphs in cuda.cpp so that tests can link them against a fake CUDA runtime
// (cpp/tests/fake_cudart.cpp).
#include "cuda.hpp"

#include <trtmatte/error.hpp>

#include <string>

namespace trtmatte::cuda {

void check(cudaError_t status, const char* call) {
    if (status == cudaSuccess) return;
    const Errc code = status == cudaErrorMemoryAllocation ? Errc::OutOfMemory : Errc::Runtime;
    throw Error(code, std::string("CUDA error in ") + call + ": " + cudaGetErrorName(status) + " (" +
                          cudaGetErrorString(status) + ")");
}

std::optional<GpuInfo> gpu_info(int device, std::string* why) {
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count < 1 || device >= count) {
        if (why != nullptr) {
            *why = status != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status)
                   : count < 1           ? std::string("cudaGetDeviceCount: 0 devices")
                                         : "no CUDA device " + std::to_string(device) + " (this machine has " +
                                               std::to_string(count) + ")";
        }
        cudaGetLastError();  // reset the error state, or the next CUDA call reports this error again
        return std::nullopt;
    }
    cudaDeviceProp props{};
    status = cudaGetDeviceProperties(&props, device);
    if (status != cudaSuccess) {
        if (why != nullptr) *why = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(status);
        cudaGetLastError();
        return std::nullopt;
    }
    return GpuInfo{props.name, props.major, props.minor};
}

DeviceGuard::DeviceGuard(int device) {
    int current = 0;
    check(cudaGetDevice(&current), "cudaGetDevice");
    if (current != device) {
        check(cudaSetDevice(device), "cudaSetDevice");
        previous_ = current;
    }
}

DeviceGuard::DeviceGuard(int device, const std::nothrow_t&) noexcept {
    int current = 0;
    if (cudaGetDevice(&current) == cudaSuccess && current != device && cudaSetDevice(device) == cudaSuccess) {
        previous_ = current;
    }
    cudaGetLastError();
}

DeviceGuard::~DeviceGuard() {
    if (previous_ >= 0) cudaSetDevice(previous_);
}

}  // namespace trtmatte::cuda
