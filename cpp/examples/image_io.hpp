// Image files for the examples, through stb (Debian's libstb): PNG/JPEG/BMP/... decoded to packed
// RGB as a viewer shows them (EXIF orientation applied, grey expanded, alpha dropped, 16-bit
// scaled to 8), alpha written as 8-bit grey PNG. Errors are one-line trtmatte::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trtmatte::examples {

// 100 megapixels, as trtmatte/imageio.py: checked from the header, before anything is decoded.
constexpr long long kDefaultMaxPixels = 100'000'000;

struct Image {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb;  // height rows of width * 3 bytes
};

// `name` is what error messages call the image (a path, "the request body").
Image decode_image(const std::uint8_t* data, std::size_t size, const std::string& name, long long max_pixels);
Image read_image(const std::string& path, long long max_pixels);

std::vector<std::uint8_t> encode_png_grey(const std::uint8_t* pixels, int width, int height);

// Writes a temporary file beside `path` and renames it over `path`: never a half-written output.
void write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes);

}  // namespace trtmatte::examples
