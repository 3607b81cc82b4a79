// trtmatte-cpp: alpha mattes of image files with libtrtmatte, the C++ twin of `trtmatte matte`.
//
//   trtmatte-cpp --model late_fusion.onnx photo.jpg -o alpha.png
//   trtmatte-cpp --model late_fusion.plan a.jpg b.png -o mattes/        (several: -o is a directory)
//   trtmatte-cpp --model adamatting.onnx photo.jpg --trimap trimap.png -o alpha.png
//   trtmatte-cpp --model adamatting.onnx a.jpg b.png --trimap trimaps/ -o mattes/   (trimaps/a.png, ...)
//
// Trimap models (AdaMatting) need --trimap: the trimap of one image, or a directory holding each
// image's trimap under the image's name (stem) with an image suffix. A trimap model without
// --trimap, and --trimap for a trimap-free model, are refused in one line before anything runs.
//
// Each alpha is an 8-bit grey PNG, written atomically. An image that fails is reported in one
// line and the others go on; the exit code is 1 if any failed, 2 for a usage error.
#include "cli.hpp"
#include "image_io.hpp"

#include <trtmatte/matter.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "usage: trtmatte-cpp --model MODEL IMAGE... -o OUT [--trimap PATH] [--threads N] [--contexts N] [--cuda-graphs]\n"
    "                    [--max-pixels N]\n"
    "  MODEL   an exported graph (NAME.onnx: ONNX Runtime) or a TensorRT plan with its sidecar\n"
    "  OUT     the alpha PNG for one image; a directory (NAME.png each) for several\n"
    "  --trimap  trimap models: the image's trimap (0 background, 128 unknown, 255 foreground), or a\n"
    "            directory of trimaps named like the images (NAME.png, any image suffix)\n";

struct Args {
    std::string model, out, trimap;
    std::vector<std::string> images;
    trtmatte::Options options;
    long long max_pixels = trtmatte::examples::kDefaultMaxPixels;
};

Args parse(int argc, char** argv) {
    trtmatte::examples::Cli cli("trtmatte-cpp", kUsage, argc, argv);
    Args args;
    while (cli.next()) {
        const std::string& arg = cli.arg();
        if (cli.model_flag(args.model, args.options, args.max_pixels)) {
            continue;
        } else if (arg == "-o" || arg == "--output") {
            args.out = cli.value();
        } else if (arg == "--trimap") {
            args.trimap = cli.value();
        } else if (!arg.empty() && arg[0] == '-') {
            cli.fail("unknown option " + arg);
        } else {
            args.images.push_back(arg);
        }
    }
    if (args.model.empty()) cli.fail("--model is required");
    if (args.images.empty()) cli.fail("no IMAGE given");
    if (args.out.empty()) cli.fail("-o OUT is required");
    std::error_code ignored;
    if (!args.trimap.empty() && args.images.size() > 1 && !std::filesystem::is_directory(args.trimap, ignored)) {
        cli.fail("one --trimap file for " + std::to_string(args.images.size()) +
                 " images: give a directory of trimaps named like the images");
    }
    return args;
}

// The trimap file of `image`: --trimap itself, or in a --trimap directory the file named like the
// image with an image suffix ("" when there is none: that image fails alone).
std::string trimap_for(const Args& args, const std::string& image) {
    std::error_code ignored;
    if (!std::filesystem::is_directory(args.trimap, ignored)) return args.trimap;
    const std::string stem = std::filesystem::path(image).stem().string();
    for (const char* suffix : {".png", ".PNG", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".JPG", ".tga", ".pgm", ".pnm"}) {
        const auto candidate = std::filesystem::path(args.trimap) / (stem + suffix);
        if (std::filesystem::is_regular_file(candidate, ignored)) return candidate.string();
    }
    return "";
}

std::string output_for(const Args& args, const std::string& image) {
    if (args.images.size() == 1 && !std::filesystem::is_directory(args.out)) return args.out;
    return (std::filesystem::path(args.out) / (std::filesystem::path(image).stem().string() + ".png")).string();
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    if (args.images.size() > 1) {
        std::error_code error;
        std::filesystem::create_directories(args.out, error);
        if (error || !std::filesystem::is_directory(args.out)) {
            std::fprintf(stderr, "trtmatte-cpp: error: cannot create the output directory %s\n", args.out.c_str());
            return 1;
        }
    }
    try {
        trtmatte::Matter matter(args.model, args.options);
        const auto& info = matter.info();
        // Before any image is read: the model decides whether --trimap is needed.
        if (info.needs_trimap && args.trimap.empty()) {
            std::fprintf(stderr, "trtmatte-cpp: error: %s needs a trimap: give --trimap PATH (a file for one image, "
                                 "or a directory of trimaps named like the images)\n", info.variant.c_str());
            return 1;
        }
        if (!info.needs_trimap && !args.trimap.empty()) {
            std::fprintf(stderr, "trtmatte-cpp: error: %s is trimap-free: drop --trimap\n", info.variant.c_str());
            return 1;
        }
        std::printf("trtmatte-cpp: %s\n", matter.describe().c_str());
        int failed = 0;
        std::vector<std::uint8_t> alpha;
        for (const std::string& path : args.images) {
            try {
                const auto image = trtmatte::examples::read_image(path, args.max_pixels);
                alpha.resize(static_cast<std::size_t>(image.width) * image.height);
                trtmatte::examples::Trimap trimap;
                if (info.needs_trimap) {
                    const std::string trimap_path = trimap_for(args, path);
                    if (trimap_path.empty()) {
                        throw trtmatte::Error(trtmatte::Errc::NotFound,
                                              "no trimap for " + path + " in " + args.trimap + " (looked for " +
                                                  std::filesystem::path(path).stem().string() + ".png, .jpg, ...)");
                    }
                    trimap = trtmatte::examples::read_trimap(trimap_path, args.max_pixels);
                    trtmatte::examples::check_trimap_size(trimap, image, trimap_path);
                }
                const auto start = std::chrono::steady_clock::now();
                if (info.needs_trimap) {
                    matter.matte(image.rgb.data(), image.height, image.width, static_cast<std::size_t>(image.width) * 3,
                                 trimap.values.data(), static_cast<std::size_t>(trimap.width), alpha.data());
                } else {
                    matter.matte(image.rgb.data(), image.height, image.width, static_cast<std::size_t>(image.width) * 3,
                                 alpha.data());
                }
                const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
                const std::string out = output_for(args, path);
                trtmatte::examples::write_file_atomically(
                    out, trtmatte::examples::encode_png_grey(alpha.data(), image.width, image.height));
                std::printf("%s -> %s (%dx%d, %.0f ms)\n", path.c_str(), out.c_str(), image.width, image.height, ms);
            } catch (const trtmatte::Error& err) {
                std::fprintf(stderr, "trtmatte-cpp: error: %s\n", err.what());
                ++failed;
            }
        }
        return failed ? 1 : 0;
    } catch (const trtmatte::Error& err) {  // the model could not be opened
        std::fprintf(stderr, "trtmatte-cpp: error: %s\n", err.what());
        return 1;
    }
}
