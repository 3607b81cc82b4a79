// consumer [MODEL.onnx]: catches trtmatte::Error thrown inside libtrtmatte (its type_info is
// exported) and, given a graph, mattes a gradient image with it.
#include <trtmatte/matter.hpp>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    try {
        trtmatte::Matter missing("/no/such/model.onnx");
        return 1;
    } catch (const trtmatte::Error& err) {
        if (err.code() != trtmatte::Errc::NotFound) return 1;
        std::printf("caught: %s\n", err.what());
    }
    if (argc < 2) return 0;
    trtmatte::Matter matter(argv[1]);
    const int h = 40, w = 56;
    std::vector<std::uint8_t> rgb(h * w * 3), alpha(h * w);
    for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>(i % 251);
    matter.matte(rgb.data(), h, w, w * 3, alpha.data());
    std::printf("%s: alpha[0] = %d\n", matter.describe().c_str(), alpha[0]);
    return 0;
}
