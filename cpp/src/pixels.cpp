#include "pixels.hpp"

#include <trtmatte/error.hpp>

#include "blend_math.h"  // plugins/fused_blend: the one definition of alpha -> uint8 and half -> float

#include <cstring>

namespace trtmatte {

void pack_rows(const std::uint8_t* src, std::size_t rows, std::size_t row_bytes, std::size_t src_stride,
               std::uint8_t* dst) {
    if (src_stride == row_bytes) {
        std::memcpy(dst, src, rows * row_bytes);
        return;
    }
    for (std::size_t r = 0; r < rows; ++r) std::memcpy(dst + r * row_bytes, src + r * src_stride, row_bytes);
}

void alpha_to_uint8(const void* src, DType dtype, std::size_t count, std::uint8_t* dst) {
    switch (dtype) {
        case DType::UInt8:
            std::memcpy(dst, src, count);
            return;
        case DType::Float32: {
            const auto* a = static_cast<const float*>(src);
            for (std::size_t i = 0; i < count; ++i) dst[i] = alpha_to_u8(clamp01(a[i]));
            return;
        }
        case DType::Float16: {
            const auto* a = static_cast<const std::uint16_t*>(src);
            for (std::size_t i = 0; i < count; ++i) dst[i] = alpha_to_u8(clamp01(half_bits_to_float(a[i])));
            return;
        }
        default:
            throw Error(Errc::Unsupported, std::string("alpha of type ") + dtype_name(dtype) +
                                               " cannot be converted to uint8; export the graph with a "
                                               "uint8/float16/float32 alpha");
    }
}

}  // namespace trtmatte
