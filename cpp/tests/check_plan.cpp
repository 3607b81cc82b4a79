// check_plan PLAN FLAVOUR VERSION [GPU_NAME MAJOR MINOR]: prints "ok" or the one-line refusal
// check_compatible gives for PLAN's sidecar, the TensorRT in use and a (fake) GPU. The pytest
// tests/cpp/test_cpp_sidecar.py compares it with Python's trtmatte.engine.loader.check_compatible
// on sidecars written by trtmatte.engine.sidecar.
#include "compat.hpp"
#include "sidecar.hpp"

#include <trtmatte/error.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    if (argc != 4 && argc != 7) {
        std::fprintf(stderr, "usage: check_plan PLAN FLAVOUR VERSION [GPU_NAME MAJOR MINOR]\n");
        return 2;
    }
    std::optional<trtmatte::GpuInfo> gpu;
    if (argc == 7) gpu = trtmatte::GpuInfo{argv[4], std::atoi(argv[5]), std::atoi(argv[6])};
    try {
        const auto meta = trtmatte::read_sidecar(argv[1]);
        trtmatte::check_compatible(argv[1], meta, {argv[2], argv[3]}, gpu);
        std::puts("ok");
    } catch (const trtmatte::Error& err) {
        std::puts(err.what());
    }
    return 0;
}
