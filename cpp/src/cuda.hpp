// The CUDA runtime calls the TensorRT backend makes, as owning types: every call is checked and a
// failure is a one-line trtmatte::Error naming the call and CUDA's error. No TensorRT here.
#pragma once

#include "compat.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace trtmatte::cuda {

void check(cudaError_t status, const char* call);

// The first CUDA device, or nullopt with the reason (no driver, no device) in *why.
std::optional<GpuInfo> current_gpu(std::string* why);

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
