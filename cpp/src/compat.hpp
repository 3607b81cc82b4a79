// Can this plan run here? The rules and one-line messages of trtmatte/engine/loader.py's
// check_compatible, as a pure function of the sidecar, the TensorRT in use and the GPU, so every
// refusal is tested without TensorRT or a GPU (fake GpuInfo).
#pragma once

#include "sidecar.hpp"

#include <optional>
#include <string>

namespace trtmatte {

struct GpuInfo {
    std::string name;
    int major = 0, minor = 0;
    std::string sm() const { return "SM" + std::to_string(major) + std::to_string(minor); }
};

struct TensorRTInUse {
    std::string flavour;  // "tensorrt" (the C++ backend runs standard TensorRT)
    std::string version;  // "major.minor.patch.build", as Python's tensorrt.__version__
};

std::string flavour_label(const std::string& flavour);  // "TensorRT" / "TensorRT-RTX"

// The end of every refusal: "rebuild it: `<the sidecar's rebuild command>`".
std::string rebuild_hint(const EngineMeta& meta, const std::string& plan);

// Checks, in the Python loader's order: flavour, exact version (unless version-compatible), plugin
// libraries present, a GPU present, the GPU among the plan's targets, the GPU the plan was built on.
// Throws trtmatte::Error; `no_gpu_reason` (e.g. the CUDA error) is quoted when `gpu` is empty.
void check_compatible(const std::string& plan, const EngineMeta& meta, const TensorRTInUse& trt,
                      const std::optional<GpuInfo>& gpu, const std::string& no_gpu_reason = "");

}  // namespace trtmatte
