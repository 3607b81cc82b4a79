// compute-sanitizer target for the C++ library's CUDA layer (cpp/src/cuda.cpp: Buffer, Stream,
// Graph, DeviceGuard, check, gpu_info) used the way the TensorRT backend uses it, with the fused-blend
// kernel standing in for the engine: pinned staging -> async H2D -> kernel -> async D2H on one
// non-blocking stream, eagerly, then captured as a CUDA graph and replayed. Needs no TensorRT.
// Built and run by benchmarks/gpu/compute_sanitizer.py; exit status = the number of failed checks.
#include "cuda.hpp"
#include "fused_blend.h"

#include <trtmatte/error.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

namespace cu = trtmatte::cuda;

static int failures = 0;

static void expect(bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += ok ? 0 : 1;
}

int main() {
    std::string why;
    const auto gpu = cu::gpu_info(0, &why);
    if (!gpu) {
        std::printf("no CUDA GPU: %s\n", why.c_str());
        return 100;
    }
    std::printf("gpu %s (%s)\n", gpu->name.c_str(), gpu->sm().c_str());
    cu::DeviceGuard guard(0);  // what every library call does first: device 0 current, restored at exit

    // An odd size: the kernel's 4-wide path plus a tail; exact-size allocations so memcheck sees overruns.
    const int64_t n = 2, h = 37, w = 53;
    const std::size_t count = static_cast<std::size_t>(n * h * w), in_bytes = 3 * count * sizeof(float);
    cu::Stream stream;
    cu::Buffer host_in = cu::Buffer::pinned(in_bytes), host_out = cu::Buffer::pinned(count * sizeof(float));
    cu::Buffer dev_in = cu::Buffer::device(in_bytes), dev_out = cu::Buffer::device(count * sizeof(float));
    float* in = static_cast<float*>(host_in.get());
    float* out = static_cast<float*>(host_out.get());
    const char* dev = static_cast<const char*>(dev_in.get());

    auto enqueue = [&] {
        cu::check(cudaMemcpyAsync(dev_in.get(), host_in.get(), in_bytes, cudaMemcpyHostToDevice, stream.get()),
                  "cudaMemcpyAsync H2D");
        const int status = trtmatte_fused_blend(dev, dev + count * sizeof(float), dev + 2 * count * sizeof(float),
                                                TRTMATTE_BLEND_FLOAT32, dev_out.get(), TRTMATTE_BLEND_FLOAT32, n, h, w, h,
                                                w, 1, stream.get());
        if (status != 0) throw trtmatte::Error(trtmatte::Errc::Runtime, "trtmatte_fused_blend failed");
        cu::check(cudaMemcpyAsync(host_out.get(), dev_out.get(), count * sizeof(float), cudaMemcpyDeviceToHost,
                                  stream.get()),
                  "cudaMemcpyAsync D2H");
    };
    auto worst = [&] {
        float diff = 0.0f;
        for (std::size_t i = 0; i < count; ++i) {
            const float want = trtmatte::blend_pixel(in[i], in[count + i], in[2 * count + i], 1);
            diff = std::fmax(diff, std::fabs(out[i] - want));
        }
        return diff;
    };
    auto fill = [&](float scale) {
        for (std::size_t i = 0; i < 3 * count; ++i) in[i] = scale * std::sin(0.37f * static_cast<float>(i));
        std::memset(out, 0xff, count * sizeof(float));  // NaNs: a result not written shows up
    };

    fill(6.0f);
    enqueue();
    stream.synchronize();
    expect(worst() <= 1e-5f, "eager: pinned H2D, kernel, D2H on a non-blocking stream match the CPU blend");

    fill(-4.0f);  // new inputs in the same pinned buffer: a graph replays with the captured addresses
    cu::Graph graph(stream, enqueue);
    for (int i = 0; i < 3; ++i) graph.launch(stream);
    stream.synchronize();
    expect(worst() <= 1e-5f, "CUDA graph: captured H2D, kernel, D2H replayed 3 times match the CPU blend");

    try {
        cu::Buffer too_big = cu::Buffer::device(std::size_t(1) << 60);
        expect(false, "a 1 EiB cudaMalloc is refused");
    } catch (const trtmatte::Error& e) {
        std::printf("     (%s)\n", e.what());
        expect(e.code() == trtmatte::Errc::OutOfMemory, "a 1 EiB cudaMalloc is refused as OutOfMemory");
    }
    cudaGetLastError();

    cu::Buffer a = cu::Buffer::device(64);
    void* const raw = a.get();
    cu::Buffer b(std::move(a));
    expect(a.get() == nullptr && b.get() == raw && b.size() == 64, "a moved-from Buffer owns nothing");
    cu::Buffer c = cu::Buffer::pinned(0);  // zero bytes still allocates (1 byte), freed once
    c = std::move(b);
    expect(c.get() == raw, "move assignment swaps ownership (both freed once)");

    std::printf("%d failure(s)\n", failures);
    return failures;
}
