#include "image_io.hpp"

#include "exif.hpp"

#include <trtmatte/error.hpp>

#include <stb_image.h>
#include <stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace trtmatte::examples {

Image decode_image(const std::uint8_t* data, std::size_t size, const std::string& name, long long max_pixels) {
    if (size == 0) throw Error(Errc::InvalidArgument, "cannot read image " + name + ": it is empty");
    if (size > static_cast<std::size_t>(INT32_MAX)) throw Error(Errc::InvalidArgument, "image " + name + " is over 2 GB");
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(data, static_cast<int>(size), &width, &height, &channels)) {
        throw Error(Errc::InvalidArgument, "cannot read image " + name + ": " + stbi_failure_reason() +
                                               " (is it a complete PNG/JPEG/BMP/...?)");
    }
    const long long pixels = static_cast<long long>(width) * height;
    if (max_pixels > 0 && pixels > max_pixels) {
        throw Error(Errc::InvalidArgument, "image " + name + " is " + std::to_string(width) + "x" + std::to_string(height) +
                                               " = " + std::to_string((pixels + 500'000) / 1'000'000) +
                                               " megapixels, over the limit of " + std::to_string(max_pixels / 1'000'000) +
                                               " (raise it with --max-pixels, or downscale the image)");
    }
    std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
        stbi_load_from_memory(data, static_cast<int>(size), &width, &height, &channels, 3), stbi_image_free);
    if (!decoded) {
        throw Error(Errc::InvalidArgument, "cannot read image " + name + ": " + stbi_failure_reason() +
                                               " (is it a complete PNG/JPEG/BMP/...?)");
    }
    Image image{width, height, std::vector<std::uint8_t>(decoded.get(), decoded.get() + std::size_t(width) * height * 3)};
    apply_orientation(image.rgb, image.width, image.height, exif_orientation(data, size));
    return image;
}

Image read_image(const std::string& path, long long max_pixels) {
    std::error_code ignored;
    if (!std::filesystem::is_regular_file(path, ignored)) throw Error(Errc::NotFound, "image " + path + " not found");
    std::ifstream in(path, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return decode_image(bytes.data(), bytes.size(), path, max_pixels);
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
