// EXIF orientation, which stb_image ignores: a phone stores a portrait photo sideways with a
// rotate tag, and its alpha must match the upright picture (as trtmatte/media/image.py does with
// Pillow's exif_transpose).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trtmatte::examples {

// The orientation tag (1..8) of a JPEG's EXIF block; 1 (upright) when there is none.
int exif_orientation(const std::uint8_t* data, std::size_t size);

// Applies an orientation to packed pixels of `channels` bytes (3: RGB, 1: a trimap); width and
// height are swapped for 5..8.
void apply_orientation(std::vector<std::uint8_t>& rgb, int& width, int& height, int orientation, int channels = 3);

}  // namespace trtmatte::examples
