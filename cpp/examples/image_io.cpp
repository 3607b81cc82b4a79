#include "image_io.hpp"

#include "exif.hpp"

#include <trtmatte/error.hpp>

#include <stb_image.h>
#include <stb_image_write.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace trtmatte::examples {

namespace {

// `channels` bytes per pixel (3: RGB, 1: grey), upright; `what` ("image", "trimap") and `name`
// label the errors.
std::vector<std::uint8_t> decode(const std::uint8_t* data, std::size_t size, const std::string& what,
                                 const std::string& name, long long max_pixels, int channels, int& width, int& height) {
    if (size == 0) throw Error(Errc::InvalidArgument, "cannot read " + what + " " + name + ": it is empty");
    if (size > static_cast<std::size_t>(INT32_MAX)) throw Error(Errc::InvalidArgument, what + " " + name + " is over 2 GB");
    check_declared_pixels(data, size, what, name, max_pixels);
    int stored = 0;
    // stb turns colour into grey by luminance and 16-bit samples into 8-bit ones itself.
    std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
        stbi_load_from_memory(data, static_cast<int>(size), &width, &height, &stored, channels), stbi_image_free);
    if (!decoded) {
        throw Error(Errc::InvalidArgument, "cannot read " + what + " " + name + ": " + stbi_failure_reason() +
                                               " (is it a complete PNG/JPEG/BMP/...?)");
    }
    std::vector<std::uint8_t> out(decoded.get(), decoded.get() + std::size_t(width) * height * channels);
    apply_orientation(out, width, height, exif_orientation(data, size), channels);
    return out;
}

std::uint32_t big_endian(const std::uint8_t* p, int bytes) {
    std::uint32_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | p[i];
    return value;
}

// PNG: the signature, then IHDR's width and height (4 bytes each, big-endian).
bool png_size(const std::uint8_t* data, std::size_t size, int& width, int& height) {
    static const std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size < 24 || std::memcmp(data, signature, 8) != 0 || std::memcmp(data + 12, "IHDR", 4) != 0) return false;
    const std::uint32_t w = big_endian(data + 16, 4), h = big_endian(data + 20, 4);
    if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX) return false;
    width = static_cast<int>(w);
    height = static_cast<int>(h);
    return true;
}

// JPEG: markers from SOI to the first start-of-frame (SOF0..SOF15 but DHT, JPG, DAC), which holds
// the height and width (2 bytes each).
bool jpeg_size(const std::uint8_t* data, std::size_t size, int& width, int& height) {
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return false;
    std::size_t at = 2;
    while (at + 9 < size) {
        if (data[at] != 0xFF) return false;
        const std::uint8_t marker = data[at + 1];
        if (marker == 0xFF) {  // fill byte
            ++at;
            continue;
        }
        const std::size_t length = big_endian(data + at + 2, 2);
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            height = static_cast<int>(big_endian(data + at + 5, 2));
            width = static_cast<int>(big_endian(data + at + 7, 2));
            return width > 0 && height > 0;
        }
        if (length < 2) return false;
        at += 2 + length;
    }
    return false;
}

std::vector<std::uint8_t> read_bytes(const std::string& path, const std::string& what) {
    std::error_code ignored;
    if (!std::filesystem::is_regular_file(path, ignored)) throw Error(Errc::NotFound, what + " " + path + " not found");
    std::ifstream in(path, std::ios::binary);
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

bool declared_size(const std::uint8_t* data, std::size_t size, int& width, int& height) {
    int stored = 0;
    if (size <= static_cast<std::size_t>(INT32_MAX) &&
        stbi_info_from_memory(data, static_cast<int>(size), &width, &height, &stored)) {
        return true;
    }
    return png_size(data, size, width, height) || jpeg_size(data, size, width, height);
}

void check_declared_pixels(const std::uint8_t* data, std::size_t size, const std::string& what,
                           const std::string& name, long long max_pixels) {
    if (size == 0) throw Error(Errc::InvalidArgument, "cannot read " + what + " " + name + ": it is empty");
    int width = 0, height = 0;
    if (!declared_size(data, size, width, height)) {
        throw Error(Errc::InvalidArgument, "cannot read " + what + " " + name + ": " + stbi_failure_reason() +
                                               " (is it a complete PNG/JPEG/BMP/...?)");
    }
    const long long pixels = static_cast<long long>(width) * height;
    if (max_pixels > 0 && pixels > max_pixels) {
        throw ImageTooLarge(Errc::InvalidArgument,
                            what + " " + name + " is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                                std::to_string((pixels + 500'000) / 1'000'000) + " megapixels, over the limit of " +
                                std::to_string(max_pixels / 1'000'000) +
                                " (raise it with --max-pixels, or downscale the image)");
    }
}

Image decode_image(const std::uint8_t* data, std::size_t size, const std::string& name, long long max_pixels) {
    Image image;
    image.rgb = decode(data, size, "image", name, max_pixels, 3, image.width, image.height);
    return image;
}

Image read_image(const std::string& path, long long max_pixels) {
    const auto bytes = read_bytes(path, "image");
    return decode_image(bytes.data(), bytes.size(), path, max_pixels);
}

Trimap decode_trimap(const std::uint8_t* data, std::size_t size, const std::string& name, long long max_pixels) {
    Trimap trimap;
    trimap.values = decode(data, size, "trimap", name, max_pixels, 1, trimap.width, trimap.height);
    return trimap;
}

Trimap read_trimap(const std::string& path, long long max_pixels) {
    const auto bytes = read_bytes(path, "trimap");
    return decode_trimap(bytes.data(), bytes.size(), path, max_pixels);
}

void check_trimap_size(const Trimap& trimap, const Image& image, const std::string& trimap_name) {
    if (trimap.width == image.width && trimap.height == image.height) return;
    throw Error(Errc::InvalidArgument, "the trimap " + trimap_name + " is " + std::to_string(trimap.width) + "x" +
                                           std::to_string(trimap.height) + " but the image is " +
                                           std::to_string(image.width) + "x" + std::to_string(image.height) +
                                           ": give the trimap made for this image, at its size");
}

std::vector<std::uint8_t> encode_png_grey(const std::uint8_t* pixels, int width, int height) {
    std::vector<std::uint8_t> png;
    auto append = [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<std::uint8_t>*>(context);
        out->insert(out->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
    };
    if (!stbi_write_png_to_func(append, &png, width, height, 1, pixels, width)) {
        throw Error(Errc::Runtime, "cannot encode a " + std::to_string(width) + "x" + std::to_string(height) + " PNG");
    }
    return png;
}

void write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    const std::filesystem::path target(path);
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
    std::error_code ignored;
    if (!std::filesystem::is_directory(dir, ignored)) {
        throw Error(Errc::NotFound, "cannot write " + path + ": directory " + dir.string() + " does not exist (create it first)");
    }
    // In the destination directory, so that the rename is atomic (same filesystem).
    std::string tmp = (dir / ("." + target.filename().string() + ".XXXXXX.part")).string();
    const int fd = mkstemps(tmp.data(), 5);
    if (fd < 0) throw Error(Errc::Runtime, "cannot write " + path + ": cannot create a temporary file in " + dir.string());
    fchmod(fd, 0644);  // mkstemps makes it 0600; an output image is for others to read too
    close(fd);
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        if (!out) {
            std::filesystem::remove(tmp, ignored);
            throw Error(Errc::Runtime, "cannot write " + path + " (disk full?)");
        }
    }
    std::error_code renamed;
    std::filesystem::rename(tmp, target, renamed);
    if (renamed) {
        std::filesystem::remove(tmp, ignored);
        throw Error(Errc::Runtime, "cannot write " + path + ": cannot rename the temporary file over it");
    }
}

}  // namespace trtmatte::examples
