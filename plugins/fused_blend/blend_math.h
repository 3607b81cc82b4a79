// Per-pixel math of the fused blend, shared by the CUDA kernel and the CPU reference library.
//
// This header compiles with nvcc (as __host__ __device__ code) and with a plain C++ compiler, so
// the exact code the GPU runs is also run and tested on the CPU (plugins/fused_blend/blend_cpu.cpp,
// tests/plugins/test_kernel.py). It uses no CUDA headers: FP16 values are handled as their IEEE
// binary16 bit patterns (uint16_t) with explicit round-to-nearest-even conversions, which is what
// the GPU's cvt.rn.f16.f32 does too.
//
// Math (Zhong et al. 2019, eq. 2), per pixel, in float32:
//   F = fg_is_logit ? sigmoid(f) : f        B = fg_is_logit ? sigmoid(b) : b
//   beta = sigmoid(beta_logit)
//   alpha = clamp(beta * F + (1 - beta) * (1 - B), 0, 1)
//   uint8 output: rint(alpha * 255) (round half to even, like ONNX Round / numpy.rint)
//
// NaN handling (documented in plugins/fused_blend/README.md, tested): a NaN in any input makes alpha NaN; the
// clamp lets NaN through, so FP32/FP16 outputs carry NaN (a bad input stays visible), and the
// uint8 output maps NaN to 0 (there is no NaN in uint8, and a float->int cast of NaN is undefined
// behaviour in C++). Infinite logits are fine: sigmoid(+inf) = 1, sigmoid(-inf) = 0, and no
// intermediate overflows to inf/inf (expf overflowing to inf gives 1/(1+inf) = 0).
#pragma once

#include <stdint.h>
#include <math.h>

#if defined(__CUDACC__)
#define TRTMATTE_HD __host__ __device__ __forceinline__
#else
#define TRTMATTE_HD inline
#endif

// dtype codes of the C entry points (fused_blend.h, blend_cpu.cpp); Python mirrors them.
enum TrtmatteBlendDtype { TRTMATTE_BLEND_FLOAT32 = 0, TRTMATTE_BLEND_FLOAT16 = 1, TRTMATTE_BLEND_UINT8 = 2 };

namespace trtmatte {

TRTMATTE_HD float sigmoid(float x) {
    // 1 / (1 + e^-x): for x -> -inf, expf overflows to +inf and the result is exactly 0; for
    // x -> +inf, expf(-x) -> 0 and the result is 1. No branch, no inf/inf.
    return 1.0f / (1.0f + expf(-x));
}

// Clamp to [0, 1] written with comparisons so that NaN passes through unchanged
// (fminf/fmaxf would silently turn NaN into a number).
TRTMATTE_HD float clamp01(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }

// The fused blend of one pixel. fg/bg are logits when fg_bg_logits != 0, else probabilities.
TRTMATTE_HD float blend_pixel(float fg, float bg, float beta_logit, int fg_bg_logits) {
    const float f = fg_bg_logits ? sigmoid(fg) : fg;
    const float b = fg_bg_logits ? sigmoid(bg) : bg;
    const float beta = sigmoid(beta_logit);
    return clamp01(beta * f + (1.0f - beta) * (1.0f - b));
}

// alpha in [0, 1] (or NaN) -> uint8, x255 rounded half to even; NaN -> 0.
TRTMATTE_HD uint8_t alpha_to_u8(float alpha) {
    if (!(alpha == alpha)) return 0;
    return (uint8_t)rintf(alpha * 255.0f);
}

// ---- IEEE binary16 <-> binary32 on bit patterns (host side; the kernel uses CUDA's intrinsics) ----

TRTMATTE_HD float half_bits_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1fu) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN (payload kept)
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);  // normal: rebias 15 -> 127
    } else if (mant == 0) {
        bits = sign;  // +-0
    } else {
        // subnormal half: normalise the mantissa
        int e = -1;
        do { mant <<= 1; ++e; } while ((mant & 0x400u) == 0);
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    union { uint32_t u; float f; } out;
    out.u = bits;
    return out.f;
}

TRTMATTE_HD uint16_t float_to_half_bits(float value) {
    union { float f; uint32_t u; } in;
    in.f = value;
    const uint32_t x = in.u;
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN stays NaN
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to >= 65520: inf
    if (abs >= 0x38800000u) {  // normal half range (>= 2^-14)
        const uint32_t mant = abs & 0x7fffffu;
        uint32_t h = ((abs >> 23) - 112u) << 10 | (mant >> 13);
        const uint32_t rest = mant & 0x1fffu;  // round to nearest, ties to even
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct
        return (uint16_t)(sign | h);
    }
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25): +-0
    // subnormal half: value = mant_full * 2^(exp-150); half subnormal unit is 2^-24
    const uint32_t exp = abs >> 23;
    const uint32_t mant_full = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;  // 2^(exp-150) / 2^-24 = 2^(exp-126)
    uint32_t h = mant_full >> shift;
    const uint32_t rest = mant_full & ((1u << shift) - 1u);
    const uint32_t half_ulp = 1u << (shift - 1u);
    if (rest > half_ulp || (rest == half_ulp && (h & 1u))) ++h;
    return (uint16_t)(sign | h);
}

// Output index (n, y, x) of an n x out_h x out_w tensor -> flat input index of the n x h x w
// inputs: the crop keeps the top-left out_h x out_w window (padding sits bottom/right).
TRTMATTE_HD int64_t crop_source_index(int64_t out_index, int64_t h, int64_t w, int64_t out_h, int64_t out_w) {
    const int64_t x = out_index % out_w;
    const int64_t rest = out_index / out_w;
    const int64_t y = rest % out_h;
    const int64_t n = rest / out_h;
    return (n * h + y) * w + x;
}

}  // namespace trtmatte
