// Every refusal of check_compatible, with fake GPUs: the rules and messages of
// trtmatte/engine/loader.py (tests/cpp/test_cpp_sidecar.py compares the two directly).
#include "check.hpp"
#include "compat.hpp"

#include <filesystem>
#include <fstream>
#include <unistd.h>

using trtmatte::Errc;
using trtmatte::GpuInfo;

namespace {

const GpuInfo kH100{"NVIDIA H100 80GB HBM3", 9, 0};
const GpuInfo kA100{"NVIDIA A100-SXM4-80GB", 8, 0};
const GpuInfo kRtx{"NVIDIA GeForce RTX 3090", 8, 6};
const std::string kPlan = "p.plan";
const std::string kRebuild = "rebuild it: `trtmatte build m.onnx -o p.plan`";

trtmatte::EngineMeta standard_plan() {
    trtmatte::EngineMeta meta;
    meta.tensorrt_flavour = "tensorrt";
    meta.tensorrt_version = "10.3.0.26";
    meta.gpu_name = kA100.name;
    meta.gpu_compute_capability = "SM80";
    meta.rebuild_command = "trtmatte build m.onnx -o p.plan";
    return meta;
}

trtmatte::EngineMeta rtx_plan() {
    trtmatte::EngineMeta meta;
    meta.tensorrt_flavour = "tensorrt_rtx";
    meta.tensorrt_version = "1.7.1.116";
    meta.targets = {"SM86", "SM89"};
    meta.rebuild_command = "trtmatte build m.onnx -o p.plan";
    return meta;
}

const trtmatte::TensorRTInUse kTrt103{"tensorrt", "10.3.0.26"};
const trtmatte::TensorRTInUse kRtx17{"tensorrt_rtx", "1.7.1.116"};

void accepted() {
    trtmatte::check_compatible(kPlan, standard_plan(), kTrt103, kA100);
    trtmatte::check_compatible(kPlan, rtx_plan(), kRtx17, kRtx);
    auto portable = standard_plan();
    portable.hardware_compatible = true;  // any Ampere+ GPU
    portable.version_compatible = true;   // a later TensorRT
    trtmatte::check_compatible(kPlan, portable, {"tensorrt", "10.8.0.43"}, kH100);
}

void flavour_and_version() {
    CHECK_THROWS(trtmatte::check_compatible(kPlan, rtx_plan(), kTrt103, kRtx), Errc::Incompatible,
                 "p.plan was built with TensorRT-RTX 1.7.1.116 but TensorRT 10.3.0.26 is in use; " + kRebuild);
    CHECK_THROWS(trtmatte::check_compatible(kPlan, standard_plan(), {"tensorrt", "10.4.0.1"}, kA100), Errc::Incompatible,
                 "p.plan was built with TensorRT 10.3.0.26 but TensorRT 10.4.0.1 is installed (plans are tied to the exact "
                 "version); " + kRebuild);
    // the flavour is checked first, even without a GPU
    CHECK_THROWS_CONTAINING(trtmatte::check_compatible(kPlan, rtx_plan(), kTrt103, std::nullopt), Errc::Incompatible,
                            "was built with TensorRT-RTX");
    auto no_command = standard_plan();
    no_command.rebuild_command.clear();
    CHECK_THROWS_CONTAINING(trtmatte::check_compatible(kPlan, no_command, {"tensorrt", "11.1.0.106"}, kA100),
                            Errc::Incompatible, "; rebuild it with `trtmatte build MODEL.onnx -o p.plan`");
}

void plugins() {
    const auto lib = std::filesystem::temp_directory_path() / ("trtmatte_plugin_" + std::to_string(::getpid()) + ".so");
    std::ofstream(lib) << "x";
    auto meta = standard_plan();
    meta.plugins = {{"FusedBlend", "1", "trtmatte", lib.string()}};
    trtmatte::check_compatible(kPlan, meta, kTrt103, kA100);
    meta.plugins.push_back({"FusedBlend", "1", "trtmatte", "/nowhere/libtrtmatte_plugins.so"});
    CHECK_THROWS(trtmatte::check_compatible(kPlan, meta, kTrt103, kA100), Errc::NotFound,
                 "p.plan needs plugin FusedBlend v1 from plugin library /nowhere/libtrtmatte_plugins.so, which is missing: "
                 "build it (`cmake -S . -B build && cmake --build build`) or rebuild the engine without the plugin");
    meta.plugins = {{"", "", "", "/nowhere/lib.so"}};
    CHECK_THROWS_CONTAINING(trtmatte::check_compatible(kPlan, meta, kTrt103, kA100), Errc::NotFound,
                            "p.plan needs plugin library /nowhere/lib.so, which is missing");
    meta.plugins = {{"X", "?", "", "/nowhere/lib.so"}};  // the sidecar reader's "?" for a missing version
    CHECK_THROWS_CONTAINING(trtmatte::check_compatible(kPlan, meta, kTrt103, kA100), Errc::NotFound, "plugin X v? from");
    meta.plugins = {{"X", "", "", ""}};  // no library recorded: nothing to check
    trtmatte::check_compatible(kPlan, meta, kTrt103, kA100);
    std::filesystem::remove(lib);
}

void gpus() {
    const std::string no_gpu = ": a TensorRT engine (p.plan) runs only on an NVIDIA GPU; on this machine open the exported "
                               "ONNX graph instead (ONNX Runtime backend)";
    CHECK_THROWS(trtmatte::check_compatible(kPlan, standard_plan(), kTrt103, std::nullopt), Errc::Unsupported,
                 "no CUDA GPU found" + no_gpu);
    CHECK_THROWS(trtmatte::check_compatible(kPlan, standard_plan(), kTrt103, std::nullopt,
                                            "cudaGetDeviceCount: no CUDA-capable device is detected"),
                 Errc::Unsupported, "no CUDA GPU found (cudaGetDeviceCount: no CUDA-capable device is detected)" + no_gpu);
    CHECK_THROWS(trtmatte::check_compatible(kPlan, rtx_plan(), kRtx17, kH100), Errc::Incompatible,
                 "p.plan targets SM86, SM89 but this GPU is NVIDIA H100 80GB HBM3 (SM90); rebuild it: `trtmatte build "
                 "--compute-capability SM90 m.onnx -o p.plan`");
    auto no_command = rtx_plan();
    no_command.rebuild_command.clear();
    CHECK_THROWS_CONTAINING(trtmatte::check_compatible(kPlan, no_command, kRtx17, kA100), Errc::Incompatible,
                            "(SM80); rebuild it with `trtmatte build --compute-capability SM80 MODEL.onnx -o p.plan`");
    CHECK_THROWS(trtmatte::check_compatible(kPlan, standard_plan(), kTrt103, kH100), Errc::Incompatible,
                 "p.plan was built on NVIDIA A100-SXM4-80GB (SM80) but this GPU is NVIDIA H100 80GB HBM3 (SM90); " + kRebuild);
    CHECK_EQ(kRtx.sm(), std::string("SM86"));
    CHECK_EQ((GpuInfo{"Thor", 11, 0}.sm()), std::string("SM110"));
    CHECK_EQ(trtmatte::flavour_label("tensorrt_rtx"), std::string("TensorRT-RTX"));
    CHECK_EQ(trtmatte::flavour_label("other"), std::string("other"));
}

}  // namespace

int main() {
    accepted();
    flavour_and_version();
    plugins();
    gpus();
    return check::summary("test_compat");
}
