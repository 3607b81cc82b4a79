// The CUDA runtime calls the TensorRT backend makes, as owning types: every call is checked and a
// failure is a one-line trtmatte::Error naming the call and CUDA's error. No TensorRT here.
#pragma once

#include "compat.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <new>
#include <optional>
#include <string>

namespace trtmatte::cuda {

void check(cudaError_t status, const char* call);

// CUDA device `device`, or nullopt with the reason (no driver, no such device) in *why.
std::optional<GpuInfo> gpu_info(int device, std::string* why);

// Makes `device` this thread's current device and restores the previous one when it goes out of
// scope, so that a call into the library leaves the caller's CUDA state as it found it.
class DeviceGuard {
public:
    explicit DeviceGuard(int device);                  // throws Error when the switch fails
    DeviceGuard(int device, const std::nothrow_t&) noexcept;  // destructors: best effort
    ~DeviceGuard();
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int previous_ = -1;  // -1: nothing to restore
};

// Pinned host memory (page-locked: the only kind async copies overlap with compute) or device
// memory, freed with the call that matches how it was allocated.
class Buffer {
public:
    static Buffer pinned(std::size_t bytes);
    static Buffer device(std::size_t bytes);
    Buffer() = default;
    ~Buffer();
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    void* get() const noexcept { return ptr_; }
    std::size_t size() const noexcept { return bytes_; }

private:
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
    bool pinned_ = false;
};

class Stream {
public:
    Stream();  // non-blocking: never synchronises with the legacy default stream
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const noexcept { return stream_; }
    void synchronize() const;

private:
    cudaStream_t stream_ = nullptr;
};

class Graph {  // an instantiated CUDA graph
public:
    // Records what `enqueue` puts on `stream` (nothing runs) and instantiates it. The capture is
    // thread-local, so other threads' CUDA calls are neither captured nor invalidate it.
    Graph(const Stream& stream, const std::function<void()>& enqueue);
    ~Graph();
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;
    void launch(const Stream& stream) const;

private:
    cudaGraphExec_t exec_ = nullptr;
};

}  // namespace trtmatte::cuda
