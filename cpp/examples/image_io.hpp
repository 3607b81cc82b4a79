// Image files for the examples, through stb (Debian's libstb): PNG/JPEG/BMP/... decoded to packed
// RGB as a viewer shows them (EXIF orientation applied, grey expanded, alpha dropped, 16-bit
// scaled to 8), alpha written as 8-bit grey PNG. Errors are one-line trtmatte::Error.
#pragma once

#include <trtmatte/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trtmatte::examples {

// 100 megapixels, as trtmatte/media/image.py: checked from the header, before anything is decoded.
constexpr long long kDefaultMaxPixels = 100'000'000;

// An image (or trimap) whose header declares more pixels than allowed: the servers' 413.
class ImageTooLarge : public Error {
public:
    using Error::Error;
};

// The width and height an image's header declares, read without decoding: stb's header reader,
// and for PNG and JPEG headers stb refuses to read (sizes it would not decode, such as 60000x60000)
// the IHDR chunk or the SOF marker directly. False if the bytes name no size.
bool declared_size(const std::uint8_t* data, std::size_t size, int& width, int& height);

// Throws ImageTooLarge when the header declares more than max_pixels (0: no limit); nothing is decoded.
void check_declared_pixels(const std::uint8_t* data, std::size_t size, const std::string& what,
                           const std::string& name, long long max_pixels);

struct Image {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb;  // height rows of width * 3 bytes
};

// `name` is what error messages call the image (a path, "the request body").
Image decode_image(const std::uint8_t* data, std::size_t size, const std::string& name, long long max_pixels);
Image read_image(const std::string& path, long long max_pixels);

// A trimap file (trimap models): one byte per pixel, read as grey (colour files by their
// luminance, 16-bit scaled to 8, transparency dropped), upright as the photos are. Values are kept
// as stored: the graph reads them (0 background, 128 unknown, 255 foreground; below 85 / above 170
// count as 0 / 255), as `trtmatte matte --trimap` does.
struct Trimap {
    int width = 0, height = 0;
    std::vector<std::uint8_t> values;  // height rows of width bytes
};

Trimap decode_trimap(const std::uint8_t* data, std::size_t size, const std::string& name, long long max_pixels);
Trimap read_trimap(const std::string& path, long long max_pixels);

// The one-line error for a trimap whose size is not its image's (Python's wording).
void check_trimap_size(const Trimap& trimap, const Image& image, const std::string& trimap_name);

std::vector<std::uint8_t> encode_png_grey(const std::uint8_t* pixels, int width, int height);

// Writes a temporary file beside `path` and renames it over `path`: never a half-written output.
void write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes);

}  // namespace trtmatte::examples
