#include "compat.hpp"

#include <trtmatte/error.hpp>

#include <filesystem>

namespace trtmatte {

std::string rebuild_hint(const EngineMeta& meta, const std::string& plan) {
    return meta.rebuild_command.empty() ? "rebuild it with `trtmatte build MODEL.onnx -o " + plan + "`"
                                        : "rebuild it: `" + meta.rebuild_command + "`";
}

namespace {

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

}  // namespace

std::string flavour_label(const std::string& flavour) {
    if (flavour == "tensorrt") return "TensorRT";
    if (flavour == "tensorrt_rtx") return "TensorRT-RTX";
    return flavour;
}

void check_compatible(const std::string& plan, const EngineMeta& meta, const TensorRTInUse& trt,
                      const std::optional<GpuInfo>& gpu, const std::string& no_gpu_reason) {
    const std::string built = flavour_label(meta.tensorrt_flavour) + " " + meta.tensorrt_version;
    const std::string in_use = flavour_label(trt.flavour) + " " + trt.version;
    if (meta.tensorrt_flavour != trt.flavour) {
        throw Error(Errc::Incompatible,
                    plan + " was built with " + built + " but " + in_use + " is in use; " + rebuild_hint(meta, plan));
    }
    if (meta.tensorrt_version != trt.version && !meta.version_compatible) {
        throw Error(Errc::Incompatible, plan + " was built with " + built + " but " + in_use +
                                            " is installed (plans are tied to the exact version); " + rebuild_hint(meta, plan));
    }
    for (const PluginRef& plugin : meta.plugins) {
        std::error_code ignored;  // unreadable counts as missing, as Python's os.path.isfile
        if (!plugin.library.empty() && !std::filesystem::is_regular_file(plugin.library, ignored)) {
            const std::string what = plugin.name.empty() ? ""
                                     : "plugin " + plugin.name + " v" + plugin.version +
                                           " from ";
            throw Error(Errc::NotFound, plan + " needs " + what + "plugin library " + plugin.library +
                                            ", which is missing: build it (`cmake -S . -B build && cmake --build "
                                            "build`) or rebuild the engine without the plugin");
        }
    }
    if (!gpu) {
        throw Error(Errc::Unsupported, "no CUDA GPU found" + (no_gpu_reason.empty() ? "" : " (" + no_gpu_reason + ")") +
                                           ": a TensorRT engine (" + plan +
                                           ") runs only on an NVIDIA GPU; on this machine open the exported ONNX graph "
                                           "instead (ONNX Runtime backend)");
    }
    if (!meta.targets.empty()) {
        bool targeted = false;
        for (const auto& target : meta.targets) targeted = targeted || target == gpu->sm();
        if (!targeted) {
            std::string how = rebuild_hint(meta, plan);
            // As the Python loader: name the flag that adds this GPU to the rebuild command.
            const std::string build = "`trtmatte build";
            if (auto at = how.find(build); at != std::string::npos) {
                how.replace(at, build.size(), build + " --compute-capability " + gpu->sm());
            }
            throw Error(Errc::Incompatible, plan + " targets " + join(meta.targets) + " but this GPU is " + gpu->name +
                                                " (" + gpu->sm() + "); " + how);
        }
    }
    if (!meta.gpu_name.empty() && !meta.hardware_compatible && meta.gpu_name != gpu->name) {
        throw Error(Errc::Incompatible, plan + " was built on " + meta.gpu_name + " (" + meta.gpu_compute_capability +
                                            ") but this GPU is " + gpu->name + " (" + gpu->sm() + "); " +
                                            rebuild_hint(meta, plan));
    }
}

}  // namespace trtmatte
