#include "cuda.hpp"

#include <trtmatte/error.hpp>

#include <utility>

namespace trtmatte::cuda {

Buffer Buffer::pinned(std::size_t bytes) {
    Buffer buffer;
    check(cudaHostAlloc(&buffer.ptr_, bytes ? bytes : 1, cudaHostAllocDefault), "cudaHostAlloc");
    buffer.bytes_ = bytes;
    buffer.pinned_ = true;
    return buffer;
}

Buffer Buffer::device(std::size_t bytes) {
    Buffer buffer;
    check(cudaMalloc(&buffer.ptr_, bytes ? bytes : 1), "cudaMalloc");
    buffer.bytes_ = bytes;
    return buffer;
}

Buffer::~Buffer() {
    if (ptr_ == nullptr) return;
    if (pinned_) {
        cudaFreeHost(ptr_);
    } else {
        cudaFree(ptr_);
    }
}

Buffer::Buffer(Buffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)), pinned_(other.pinned_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    std::swap(ptr_, other.ptr_);
    std::swap(bytes_, other.bytes_);
    std::swap(pinned_, other.pinned_);
    return *this;
}

Stream::Stream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
Stream::~Stream() {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
}
void Stream::synchronize() const { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

Graph::Graph(const Stream& stream, const std::function<void()>& enqueue) {
    check(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    cudaGraph_t graph = nullptr;
    try {
        enqueue();
    } catch (...) {
        // End the capture whatever happened, or the stream stays unusable.
        cudaStreamEndCapture(stream.get(), &graph);
        if (graph != nullptr) cudaGraphDestroy(graph);
        throw;
    }
    check(cudaStreamEndCapture(stream.get(), &graph), "cudaStreamEndCapture");
    const cudaError_t status = cudaGraphInstantiateWithFlags(&exec_, graph, 0);
    cudaGraphDestroy(graph);  // the executable graph keeps what it needs
    check(status, "cudaGraphInstantiateWithFlags");
}
Graph::~Graph() {
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
}
void Graph::launch(const Stream& stream) const { check(cudaGraphLaunch(exec_, stream.get()), "cudaGraphLaunch"); }

}  // namespace trtmatte::cuda
