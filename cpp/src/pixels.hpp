// Host-side pixel moves shared by both backends: strided RGB rows into a packed tensor, and the
// graph's alpha (uint8 x255, float16 or float32) into the caller's uint8 alpha.
#pragma once

#include "buffers.hpp"

#include <cstddef>
#include <cstdint>

namespace trtmatte {

// `rows` rows of `row_bytes` bytes, `src_stride` bytes apart, packed into dst.
void pack_rows(const std::uint8_t* src, std::size_t rows, std::size_t row_bytes, std::size_t src_stride,
               std::uint8_t* dst);

// `count` alpha values of `dtype` -> uint8: uint8 is copied; float alpha is clamped to [0, 1] and
// rounded half to even (x255), NaN -> 0, exactly as the fused-blend kernel's uint8 output.
void alpha_to_uint8(const void* src, DType dtype, std::size_t count, std::uint8_t* dst);

}  // namespace trtmatte
