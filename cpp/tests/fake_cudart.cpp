// A fake CUDA runtime for the device calls (cuda_device.cpp): N devices, a per-thread current
// device, and switch counts, so device handling is tested on machines without a GPU.
#include "fake_cudart.hpp"

#include <cstring>

namespace {
int device_count = 2;
thread_local int current = 0;
int switches = 0;
}  // namespace

void fake_cuda_reset(int devices, int current_device) {
    device_count = devices;
    current = current_device;
    switches = 0;
}
int fake_cuda_current() { return current; }
int fake_cuda_switches() { return switches; }

extern "C" {
cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
    *count = device_count;
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDevice(int* device) {
    *device = current;
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaSetDevice(int device) {
    if (device < 0 || device >= device_count) return cudaErrorInvalidDevice;
    ++switches;
    current = device;
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDeviceProperties(struct cudaDeviceProp* prop, int device) {
    if (device < 0 || device >= device_count) return cudaErrorInvalidDevice;
    std::memset(prop, 0, sizeof(*prop));
    std::strcpy(prop->name, device == 0 ? "Fake GPU 0" : "Fake GPU 1");
    prop->major = 9;
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetLastError(void) { return cudaSuccess; }
const char* CUDARTAPI cudaGetErrorString(cudaError_t) { return "fake CUDA error"; }
const char* CUDARTAPI cudaGetErrorName(cudaError_t error) {
    return error == cudaErrorInvalidDevice ? "cudaErrorInvalidDevice" : "cudaErrorFake";
}
}
