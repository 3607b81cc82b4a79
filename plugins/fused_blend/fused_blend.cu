// The fused-blend kernel: three sigmoids, eq. 2 blend, clamp and output cast in one pass over
// full-resolution memory. Memory-bound (3 reads + 1 write per pixel, ~25 flops), so the design
// is about bytes: 4 pixels per thread with 16-byte (FP32) / 8-byte (FP16) loads where every
// pointer is aligned, a grid-stride loop sized to the GPU, no shared memory.
#include "fused_blend.h"

#include <cuda_fp16.h>

namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;  // enough resident warps to keep HBM busy; the loop covers the rest

__device__ __forceinline__ float load1(const float* p, int64_t i) { return __ldg(p + i); }
__device__ __forceinline__ float load1(const __half* p, int64_t i) { return __half2float(__ldg(p + i)); }

// Four consecutive values starting at 4 * v (the caller checked the alignment).
__device__ __forceinline__ float4 load4(const float* p, int64_t v) { return __ldg(reinterpret_cast<const float4*>(p) + v); }
__device__ __forceinline__ float4 load4(const __half* p, int64_t v) {
    const uint2 raw = __ldg(reinterpret_cast<const uint2*>(p) + v);
    const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
    const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
    return make_float4(lo.x, lo.y, hi.x, hi.y);
}

__device__ __forceinline__ void store1(float* p, int64_t i, float a) { p[i] = a; }
__device__ __forceinline__ void store1(__half* p, int64_t i, float a) { p[i] = __float2half_rn(a); }
__device__ __forceinline__ void store1(uint8_t* p, int64_t i, float a) { p[i] = trtmatte::alpha_to_u8(a); }

__device__ __forceinline__ void store4(float* p, int64_t v, float4 a) { reinterpret_cast<float4*>(p)[v] = a; }
__device__ __forceinline__ void store4(__half* p, int64_t v, float4 a) {
    const __half2 lo = __floats2half2_rn(a.x, a.y), hi = __floats2half2_rn(a.z, a.w);
    uint2 raw;
    raw.x = *reinterpret_cast<const uint32_t*>(&lo);
    raw.y = *reinterpret_cast<const uint32_t*>(&hi);
    reinterpret_cast<uint2*>(p)[v] = raw;
}
__device__ __forceinline__ void store4(uint8_t* p, int64_t v, float4 a) {
    reinterpret_cast<uchar4*>(p)[v] = make_uchar4(trtmatte::alpha_to_u8(a.x), trtmatte::alpha_to_u8(a.y),
                                                  trtmatte::alpha_to_u8(a.z), trtmatte::alpha_to_u8(a.w));
}

// Any size, any alignment, optional crop: one output pixel per iteration.
template <typename In, typename Out>
__global__ void blend_scalar(const In* __restrict__ fg, const In* __restrict__ bg, const In* __restrict__ beta,
                             Out* __restrict__ alpha, int64_t total, int64_t h, int64_t w, int64_t out_h,
                             int64_t out_w, bool crop, int fg_bg_logits) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const int64_t s = crop ? trtmatte::crop_source_index(i, h, w, out_h, out_w) : i;
        store1(alpha, i, trtmatte::blend_pixel(load1(fg, s), load1(bg, s), load1(beta, s), fg_bg_logits));
    }
}

// No crop, every pointer aligned to 4 elements: 4 pixels per iteration, then the < 4 leftover
// pixels one by one.
template <typename In, typename Out>
__global__ void blend_vec4(const In* __restrict__ fg, const In* __restrict__ bg, const In* __restrict__ beta,
                           Out* __restrict__ alpha, int64_t total, int fg_bg_logits) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t quads = total / 4;
    for (int64_t v = first; v < quads; v += stride) {
        const float4 f = load4(fg, v), b = load4(bg, v), t = load4(beta, v);
        store4(alpha, v, make_float4(trtmatte::blend_pixel(f.x, b.x, t.x, fg_bg_logits),
                                     trtmatte::blend_pixel(f.y, b.y, t.y, fg_bg_logits),
                                     trtmatte::blend_pixel(f.z, b.z, t.z, fg_bg_logits),
                                     trtmatte::blend_pixel(f.w, b.w, t.w, fg_bg_logits)));
    }
    for (int64_t i = quads * 4 + first; i < total; i += stride) {
        store1(alpha, i, trtmatte::blend_pixel(load1(fg, i), load1(bg, i), load1(beta, i), fg_bg_logits));
    }
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

int grid_cap() {
    // Queried per call (host-side attribute reads, no synchronisation): the plugin may run on any
    // device of a multi-GPU machine.
    int device = 0, sms = 0;
    if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) {
        cudaGetLastError();  // do not leave a sticky-looking error for the caller's next check
        sms = 16;
    }
    return sms * kBlocksPerSm;
}

template <typename In, typename Out>
int launch(const void* fg, const void* bg, const void* beta, void* alpha, int64_t n, int64_t h, int64_t w,
           int64_t out_h, int64_t out_w, int fg_bg_logits, cudaStream_t stream) {
    const In* f = static_cast<const In*>(fg);
    const In* b = static_cast<const In*>(bg);
    const In* t = static_cast<const In*>(beta);
    Out* a = static_cast<Out*>(alpha);
    const int64_t total = n * out_h * out_w;
    const bool crop = out_h != h || out_w != w;
    const bool vec = !crop && aligned(f, 4 * sizeof(In)) && aligned(b, 4 * sizeof(In)) && aligned(t, 4 * sizeof(In)) &&
                     aligned(a, 4 * sizeof(Out));
    const int64_t work = vec ? (total + 3) / 4 : total;
    const int64_t wanted = (work + kThreads - 1) / kThreads;
    const int blocks = (int)(wanted < grid_cap() ? wanted : grid_cap());
    if (vec) {
        blend_vec4<In, Out><<<blocks, kThreads, 0, stream>>>(f, b, t, a, total, fg_bg_logits);
    } else {
        blend_scalar<In, Out><<<blocks, kThreads, 0, stream>>>(f, b, t, a, total, h, w, out_h, out_w, crop, fg_bg_logits);
    }
    return (int)cudaGetLastError();
}

template <typename In>
int dispatch_out(int out_dtype, const void* fg, const void* bg, const void* beta, void* alpha, int64_t n, int64_t h,
                 int64_t w, int64_t out_h, int64_t out_w, int fg_bg_logits, cudaStream_t stream) {
    switch (out_dtype) {
        case TRTMATTE_BLEND_FLOAT32: return launch<In, float>(fg, bg, beta, alpha, n, h, w, out_h, out_w, fg_bg_logits, stream);
        case TRTMATTE_BLEND_FLOAT16: return launch<In, __half>(fg, bg, beta, alpha, n, h, w, out_h, out_w, fg_bg_logits, stream);
        case TRTMATTE_BLEND_UINT8: return launch<In, uint8_t>(fg, bg, beta, alpha, n, h, w, out_h, out_w, fg_bg_logits, stream);
        default: return (int)cudaErrorInvalidValue;
    }
}

}  // namespace

extern "C" int trtmatte_fused_blend(const void* fg, const void* bg, const void* beta, int in_dtype, void* alpha,
                                    int out_dtype, int64_t n, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                    int fg_bg_logits, cudaStream_t stream) {
    const bool known_in = in_dtype == TRTMATTE_BLEND_FLOAT32 || in_dtype == TRTMATTE_BLEND_FLOAT16;
    const bool known_out = out_dtype == TRTMATTE_BLEND_FLOAT32 || out_dtype == TRTMATTE_BLEND_FLOAT16 ||
                           out_dtype == TRTMATTE_BLEND_UINT8;
    if (!known_in || !known_out || n < 0 || h < 0 || w < 0 || out_h < 0 || out_w < 0 || out_h > h || out_w > w) {
        return (int)cudaErrorInvalidValue;
    }
    if (n == 0 || out_h == 0 || out_w == 0) return (int)cudaSuccess;  // empty: nothing to launch
    if (!fg || !bg || !beta || !alpha) return (int)cudaErrorInvalidValue;
    return in_dtype == TRTMATTE_BLEND_FLOAT32
               ? dispatch_out<float>(out_dtype, fg, bg, beta, alpha, n, h, w, out_h, out_w, fg_bg_logits, stream)
               : dispatch_out<__half>(out_dtype, fg, bg, beta, alpha, n, h, w, out_h, out_w, fg_bg_logits, stream);
}

extern "C" int trtmatte_fused_blend_abi_version(void) { return TRTMATTE_FUSED_BLEND_ABI_VERSION; }
