// The JSON sidecar beside every plan (PLAN.json), as trtmatte/engine/sidecar.py writes it. The
// TensorRT backend reads it before TensorRT sees the plan, so a mismatch is refused in one line.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trtmatte {

struct PluginRef {
    std::string name, version, plugin_namespace, library;
};

struct ProfileShapes {
    std::vector<std::int64_t> min, opt, max;
};

// Field names and meanings as trtmatte.engine.sidecar.EngineMeta; keys this reader does not know
// are ignored, as the Python reader ignores them.
struct EngineMeta {
    std::string tensorrt_flavour;  // "tensorrt" or "tensorrt_rtx"
    std::string tensorrt_version;  // e.g. "10.3.0.26"
    std::string precision;
    std::map<std::string, ProfileShapes> profile;  // input name -> min/opt/max
    std::string onnx_sha256, onnx_path;
    std::vector<std::string> targets;  // TensorRT-RTX compute capabilities, e.g. "SM86"
    std::string gpu_name, gpu_compute_capability;  // standard TensorRT: the GPU it was built on
    bool hardware_compatible = false;
    bool version_compatible = false;
    std::vector<PluginRef> plugins;
    std::map<std::string, std::string> onnx_metadata;
    std::string trtmatte_version, rebuild_command;
    int sidecar_version = 1;
};

std::string sidecar_path(const std::string& plan);  // PLAN.json

// `where` names the file in error messages. Throws trtmatte::Error (Incompatible) if the text is
// not a sidecar: bad JSON, a required field missing, a field of the wrong type.
EngineMeta parse_sidecar(const std::string& text, const std::string& where);

// Throws NotFound if the plan has no sidecar, as trtmatte.engine.sidecar.read_sidecar words it.
EngineMeta read_sidecar(const std::string& plan);

}  // namespace trtmatte
