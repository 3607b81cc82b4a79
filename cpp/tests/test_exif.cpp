// EXIF orientation: the tag found in JPEG bytes (both byte orders, malformed input), and the eight
// orientations applied to a 3x2 image, against the pictures EXIF's specification draws.
#include "check.hpp"
#include "exif.hpp"

#include <vector>

using trtmatte::examples::apply_orientation;
using trtmatte::examples::exif_orientation;

namespace {

std::vector<std::uint8_t> jpeg_with_orientation(int orientation, bool big_endian) {
    auto u16 = [&](std::vector<std::uint8_t>& out, unsigned v) {
        if (big_endian) out.insert(out.end(), {std::uint8_t(v >> 8), std::uint8_t(v)});
        else out.insert(out.end(), {std::uint8_t(v), std::uint8_t(v >> 8)});
    };
    std::vector<std::uint8_t> tiff = {std::uint8_t(big_endian ? 'M' : 'I'), std::uint8_t(big_endian ? 'M' : 'I')};
    u16(tiff, 42);
    u16(tiff, 0), u16(tiff, 8);  // IFD0 at offset 8 (a 32-bit value: high half first when big-endian)
    if (!big_endian) std::swap(tiff[4], tiff[6]), std::swap(tiff[5], tiff[7]);
    u16(tiff, 2);                                                          // two entries
    u16(tiff, 0x010F), u16(tiff, 2), u16(tiff, 4), u16(tiff, 0), u16(tiff, 0), u16(tiff, 0);  // Make: ignored
    u16(tiff, 0x0112), u16(tiff, 3), u16(tiff, 1), u16(tiff, 0), u16(tiff, orientation), u16(tiff, 0);
    std::vector<std::uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00};  // SOI, an empty APP0
    const std::size_t length = 2 + 6 + tiff.size();
    jpeg.insert(jpeg.end(), {0xFF, 0xE1, std::uint8_t(length >> 8), std::uint8_t(length), 'E', 'x', 'i', 'f', 0, 0});
    jpeg.insert(jpeg.end(), tiff.begin(), tiff.end());
    jpeg.insert(jpeg.end(), {0xFF, 0xDA, 0x00, 0x02});  // start of scan
    return jpeg;
}

void finds_the_tag() {
    for (bool big_endian : {false, true}) {
        for (int orientation = 1; orientation <= 8; ++orientation) {
            const auto jpeg = jpeg_with_orientation(orientation, big_endian);
            CHECK_EQ(exif_orientation(jpeg.data(), jpeg.size()), orientation);
        }
        auto bad = jpeg_with_orientation(9, big_endian);
        CHECK_EQ(exif_orientation(bad.data(), bad.size()), 1);  // out of range: upright
        auto jpeg = jpeg_with_orientation(6, big_endian);
        for (std::size_t cut = 0; cut < jpeg.size() - 4; ++cut) {  // every truncation: no crash, upright
            const int found = exif_orientation(jpeg.data(), cut);
            CHECK(found == 1);
        }
    }
    const std::uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    CHECK_EQ(exif_orientation(png, sizeof png), 1);
}

// Pixels a..f of a 3x2 image (one byte per channel, all three equal) after each orientation.
void applies_each_orientation() {
    const char* const want[9] = {"", "abcdef", "cbafed", "fedcba", "defabc", "adbecf", "daebfc", "fcebda", "cfbead"};
    const int want_width[9] = {0, 3, 3, 3, 3, 2, 2, 2, 2};
    for (int orientation = 1; orientation <= 8; ++orientation) {
        std::vector<std::uint8_t> rgb;
        for (char c : std::string("abcdef")) rgb.insert(rgb.end(), {std::uint8_t(c), std::uint8_t(c), std::uint8_t(c)});
        int width = 3, height = 2;
        apply_orientation(rgb, width, height, orientation);
        std::string got;
        for (std::size_t i = 0; i < rgb.size(); i += 3) got += char(rgb[i]);
        CHECK_EQ(got, std::string(want[orientation]));
        CHECK_EQ(width, want_width[orientation]);
        CHECK_EQ(width * height, 6);
    }
}

}  // namespace

int main() {
    finds_the_tag();
    applies_each_orientation();
    return check::summary("test_exif");
}
