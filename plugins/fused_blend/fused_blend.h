// Launcher of the fused-blend CUDA kernel. Plain CUDA types only (no TensorRT headers), so the
// kernel builds, loads through ctypes and is tested without TensorRT; FusedBlendPlugin wraps it.
#pragma once

#include <stdint.h>
#include <cuda_runtime_api.h>

#include "blend_math.h"

#ifdef __cplusplus
extern "C" {
#endif

// alpha = clamp(sigmoid(beta) * F + (1 - sigmoid(beta)) * (1 - B), 0, 1), one pass, on `stream`.
//
// fg, bg, beta: device pointers to N x H x W contiguous tensors (NCHW with C = 1) of in_dtype
//               (TRTMATTE_BLEND_FLOAT32 or TRTMATTE_BLEND_FLOAT16); beta is always a logit, fg and
//               bg are logits when fg_bg_logits != 0, else probabilities.
// alpha:        device pointer to N x out_h x out_w of out_dtype (FLOAT32, FLOAT16 or UINT8 = x255
//               rounded half to even); out_h <= H, out_w <= W crops the top-left window
//               (out_h = H, out_w = W: no crop).
// Returns cudaSuccess, cudaErrorInvalidValue for bad arguments (unknown dtype, negative size, crop
// larger than the input, null pointer with a non-empty tensor), or the launch error. An empty
// tensor launches nothing. Nothing is synchronised.
int trtmatte_fused_blend(const void* fg, const void* bg, const void* beta, int in_dtype, void* alpha, int out_dtype,
                         int64_t n, int64_t h, int64_t w, int64_t out_h, int64_t out_w, int fg_bg_logits,
                         cudaStream_t stream);

// Version of this ABI: a Python loader refuses a library whose version differs.
int trtmatte_fused_blend_abi_version(void);

#ifdef __cplusplus
}
#endif

#define TRTMATTE_FUSED_BLEND_ABI_VERSION 1
