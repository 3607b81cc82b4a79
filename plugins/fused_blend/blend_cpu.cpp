// CPU twin of the fused-blend kernel: the same per-pixel functions (blend_math.h), looped on the
// host. Built with the C++ compiler only (no CUDA), loaded by the tests through ctypes and compared
// against a NumPy reference, so the kernel's math is tested on machines without a GPU.
#include <stddef.h>
#include <stdint.h>

#include "blend_math.h"

namespace {

float load(const void* p, int dtype, int64_t i) {
    return dtype == TRTMATTE_BLEND_FLOAT32 ? static_cast<const float*>(p)[i]
                                           : trtmatte::half_bits_to_float(static_cast<const uint16_t*>(p)[i]);
}

void store(void* p, int dtype, int64_t i, float a) {
    switch (dtype) {
        case TRTMATTE_BLEND_FLOAT32: static_cast<float*>(p)[i] = a; break;
        case TRTMATTE_BLEND_FLOAT16: static_cast<uint16_t*>(p)[i] = trtmatte::float_to_half_bits(a); break;
        default: static_cast<uint8_t*>(p)[i] = trtmatte::alpha_to_u8(a); break;
    }
}

}  // namespace

// Same arguments and return codes as trtmatte_fused_blend (fused_blend.h), minus the stream, with
// host pointers; FP16 tensors are raw binary16 bit patterns. Returns 0 on success, 1 (= the value
// of cudaErrorInvalidValue) for bad arguments.
extern "C" int trtmatte_fused_blend_cpu(const void* fg, const void* bg, const void* beta, int in_dtype, void* alpha,
                                        int out_dtype, int64_t n, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                        int fg_bg_logits) {
    const bool known_in = in_dtype == TRTMATTE_BLEND_FLOAT32 || in_dtype == TRTMATTE_BLEND_FLOAT16;
    const bool known_out = out_dtype == TRTMATTE_BLEND_FLOAT32 || out_dtype == TRTMATTE_BLEND_FLOAT16 ||
                           out_dtype == TRTMATTE_BLEND_UINT8;
    if (!known_in || !known_out || n < 0 || h < 0 || w < 0 || out_h < 0 || out_w < 0 || out_h > h || out_w > w) return 1;
    const int64_t total = n * out_h * out_w;
    if (total == 0) return 0;
    if (!fg || !bg || !beta || !alpha) return 1;
    const bool crop = out_h != h || out_w != w;
    for (int64_t i = 0; i < total; ++i) {
        const int64_t s = crop ? trtmatte::crop_source_index(i, h, w, out_h, out_w) : i;
        store(alpha, out_dtype, i, trtmatte::blend_pixel(load(fg, in_dtype, s), load(bg, in_dtype, s),
                                                          load(beta, in_dtype, s), fg_bg_logits));
    }
    return 0;
}

// Exposed so the half conversions can be tested exhaustively against NumPy's float16.
extern "C" void trtmatte_half_to_float_cpu(const uint16_t* src, float* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = trtmatte::half_bits_to_float(src[i]);
}

extern "C" void trtmatte_float_to_half_cpu(const float* src, uint16_t* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = trtmatte::float_to_half_bits(src[i]);
}

extern "C" int trtmatte_fused_blend_cpu_abi_version(void) { return 1; }
