#include "exif.hpp"

#include <cstring>
#include <utility>

namespace trtmatte::examples {

namespace {

struct Reader {  // bounds-checked reads in the TIFF block's byte order
    const std::uint8_t* data;
    std::size_t size;
    bool big_endian;
    bool ok(std::size_t at, std::size_t n) const { return at <= size && n <= size - at; }
    unsigned u16(std::size_t at) const {
        return big_endian ? (data[at] << 8) | data[at + 1] : data[at] | (data[at + 1] << 8);
    }
    std::uint32_t u32(std::size_t at) const {
        return big_endian ? (std::uint32_t(u16(at)) << 16) | u16(at + 2) : u16(at) | (std::uint32_t(u16(at + 2)) << 16);
    }
};

int orientation_in_tiff(const std::uint8_t* tiff, std::size_t size) {
    if (size < 8) return 1;
    Reader r{tiff, size, tiff[0] == 'M'};
    if (!(tiff[0] == tiff[1] && (tiff[0] == 'I' || tiff[0] == 'M')) || r.u16(2) != 42) return 1;
    const std::size_t ifd = r.u32(4);
    if (!r.ok(ifd, 2)) return 1;
    const unsigned entries = r.u16(ifd);
    for (unsigned i = 0; i < entries; ++i) {
        const std::size_t entry = ifd + 2 + 12 * static_cast<std::size_t>(i);
        if (!r.ok(entry, 12)) return 1;
        if (r.u16(entry) == 0x0112 && r.u16(entry + 2) == 3) {  // Orientation, SHORT
            const unsigned value = r.u16(entry + 8);
            return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
        }
    }
    return 1;
}

}  // namespace

int exif_orientation(const std::uint8_t* data, std::size_t size) {
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;  // not a JPEG
    std::size_t at = 2;
    while (at + 4 <= size && data[at] == 0xFF) {
        const unsigned marker = data[at + 1];
        if (marker == 0xDA || marker == 0xD9) break;  // image data or end: no EXIF before it
        const std::size_t length = (data[at + 2] << 8) | data[at + 3];
        if (length < 2 || at + 2 + length > size) break;
        const std::uint8_t* body = data + at + 4;
        if (marker == 0xE1 && length >= 8 && std::memcmp(body, "Exif\0\0", 6) == 0) {
            return orientation_in_tiff(body + 6, length - 2 - 6);
        }
        at += 2 + length;
    }
    return 1;
}

void apply_orientation(std::vector<std::uint8_t>& rgb, int& width, int& height, int orientation, int channels) {
    if (orientation <= 1 || orientation > 8) return;
    const int w = width, h = height;
    const bool swap = orientation >= 5;
    const int out_w = swap ? h : w, out_h = swap ? w : h;
    std::vector<std::uint8_t> out(rgb.size());
    for (int r = 0; r < out_h; ++r) {
        for (int c = 0; c < out_w; ++c) {
            int sr = r, sc = c;  // the source pixel that lands at (r, c)
            switch (orientation) {
                case 2: sc = w - 1 - c; break;                        // mirrored left-right
                case 3: sr = h - 1 - r; sc = w - 1 - c; break;        // rotated 180
                case 4: sr = h - 1 - r; break;                        // mirrored top-bottom
                case 5: sr = c; sc = r; break;                        // transposed
                case 6: sr = h - 1 - c; sc = r; break;                // shown rotated 90 clockwise
                case 7: sr = h - 1 - c; sc = w - 1 - r; break;        // transversed
                case 8: sr = c; sc = w - 1 - r; break;                // shown rotated 90 counter-clockwise
            }
            std::memcpy(&out[(static_cast<std::size_t>(r) * out_w + c) * channels],
                        &rgb[(static_cast<std::size_t>(sr) * w + sc) * channels], channels);
        }
    }
    rgb = std::move(out);
    width = out_w;
    height = out_h;
}

}  // namespace trtmatte::examples
