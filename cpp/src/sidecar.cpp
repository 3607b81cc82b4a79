#include "sidecar.hpp"

#include <trtmatte/error.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace trtmatte {

namespace {

using nlohmann::json;

std::string filename(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// Required fields are those without a default in the Python dataclass.
const char* const kRequired[] = {"tensorrt_flavour", "tensorrt_version", "precision", "profile", "onnx_sha256",
                                 "onnx_path"};

template <typename T>
void read_optional(const json& data, const char* key, T& out) {
    auto it = data.find(key);
    if (it != data.end() && !it->is_null()) out = it->get<T>();
}

std::string text_or(const json& object, const char* key, const char* missing = "") {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : missing;
}

EngineMeta from_json(const json& data) {
    if (!data.is_object()) throw std::invalid_argument("the top level is not a JSON object");
    for (const char* key : kRequired) {
        if (!data.contains(key)) throw std::invalid_argument(std::string("missing field '") + key + "'");
    }
    EngineMeta meta;
    meta.tensorrt_flavour = data.at("tensorrt_flavour").get<std::string>();
    meta.tensorrt_version = data.at("tensorrt_version").get<std::string>();
    meta.precision = data.at("precision").get<std::string>();
    meta.onnx_sha256 = data.at("onnx_sha256").get<std::string>();
    meta.onnx_path = data.at("onnx_path").get<std::string>();
    for (const auto& [name, shapes] : data.at("profile").items()) {
        ProfileShapes p;
        p.min = shapes.at("min").get<std::vector<std::int64_t>>();
        p.opt = shapes.at("opt").get<std::vector<std::int64_t>>();
        p.max = shapes.at("max").get<std::vector<std::int64_t>>();
        meta.profile[name] = p;
    }
    read_optional(data, "targets", meta.targets);
    read_optional(data, "gpu_name", meta.gpu_name);
    read_optional(data, "gpu_compute_capability", meta.gpu_compute_capability);
    read_optional(data, "hardware_compatible", meta.hardware_compatible);
    read_optional(data, "version_compatible", meta.version_compatible);
    read_optional(data, "onnx_metadata", meta.onnx_metadata);
    read_optional(data, "trtmatte_version", meta.trtmatte_version);
    read_optional(data, "rebuild_command", meta.rebuild_command);
    read_optional(data, "sidecar_version", meta.sidecar_version);
    if (auto it = data.find("plugins"); it != data.end() && !it->is_null()) {
        for (const json& p : *it) {
            if (!p.is_object()) throw std::invalid_argument("a 'plugins' entry is not an object");
            // "?" for a missing version, as the Python loader's plugin.get("version", "?")
            meta.plugins.push_back({text_or(p, "name"), text_or(p, "version", "?"), text_or(p, "namespace"),
                                    text_or(p, "library")});
        }
    }
    return meta;
}

}  // namespace

std::string sidecar_path(const std::string& plan) { return plan + ".json"; }

EngineMeta parse_sidecar(const std::string& text, const std::string& where) {
    try {
        return from_json(json::parse(text));
    } catch (const std::exception& exc) {  // json::exception (parse, type, out_of_range) or ours
        throw Error(Errc::Incompatible, where + " is not a valid trtmatte sidecar (" + exc.what() +
                                            "); rebuild the engine with `trtmatte build`");
    }
}

EngineMeta read_sidecar(const std::string& plan) {
    const std::string path = sidecar_path(plan);
    std::error_code ignored;
    std::ifstream in(path, std::ios::binary);
    if (!std::filesystem::is_regular_file(path, ignored) || !in) {
        throw Error(Errc::NotFound, plan + " has no sidecar " + filename(path) +
                                        ": trtmatte cannot check what it was built for; rebuild it with "
                                        "`trtmatte build MODEL.onnx -o " + plan + "`");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_sidecar(text.str(), path);
}

}  // namespace trtmatte
