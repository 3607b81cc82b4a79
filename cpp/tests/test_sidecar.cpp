// The sidecar reader against JSON as trtmatte/engine/sidecar.py writes it.
#include "check.hpp"
#include "sidecar.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using trtmatte::Errc;

namespace {

// EngineMeta.to_json() of an RTX plan with one plugin, plus a key from a future version.
const char* const kFull = R"({
  "tensorrt_flavour": "tensorrt_rtx", "tensorrt_version": "1.7.1.116", "precision": "fp16",
  "profile": {"image": {"min": [1, 64, 64, 3], "opt": [1, 128, 128, 3], "max": [2, 256, 256, 3]}},
  "onnx_sha256": "ab12", "onnx_path": "/m/late_fusion.onnx", "targets": ["SM86", "SM89"],
  "gpu_name": "", "gpu_compute_capability": "", "hardware_compatible": false, "version_compatible": true,
  "plugins": [{"name": "FusedBlend", "version": "1", "namespace": "trtmatte", "library": "/l/libtrtmatte_plugins.so"}],
  "onnx_metadata": {"variant": "late_fusion_lite", "alpha_dtype": "uint8"},
  "trtmatte_version": "0.1.0", "build_seconds": 12.5, "plan_bytes": 1000, "plan_sha256": "cd34",
  "created": "2025-01-01T00:00:00", "rebuild_command": "trtmatte build m.onnx -o p.plan", "notes": ["x"],
  "sidecar_version": 1, "from_a_later_version": {"anything": [1, 2]}
})";

const char* const kMinimal = R"({"tensorrt_flavour": "tensorrt", "tensorrt_version": "10.3.0.26",
  "precision": "fp32", "profile": {}, "onnx_sha256": "", "onnx_path": "m.onnx"})";

void full_sidecar() {
    const auto meta = trtmatte::parse_sidecar(kFull, "p.plan.json");
    CHECK_EQ(meta.tensorrt_flavour, std::string("tensorrt_rtx"));
    CHECK_EQ(meta.tensorrt_version, std::string("1.7.1.116"));
    CHECK_EQ(meta.precision, std::string("fp16"));
    CHECK_EQ(meta.profile.at("image").min, (std::vector<std::int64_t>{1, 64, 64, 3}));
    CHECK_EQ(meta.profile.at("image").opt, (std::vector<std::int64_t>{1, 128, 128, 3}));
    CHECK_EQ(meta.profile.at("image").max, (std::vector<std::int64_t>{2, 256, 256, 3}));
    CHECK_EQ(meta.targets, (std::vector<std::string>{"SM86", "SM89"}));
    CHECK(meta.version_compatible && !meta.hardware_compatible);
    CHECK_EQ(meta.plugins.size(), std::size_t(1));
    CHECK_EQ(meta.plugins[0].name, std::string("FusedBlend"));
    CHECK_EQ(meta.plugins[0].plugin_namespace, std::string("trtmatte"));
    CHECK_EQ(meta.plugins[0].library, std::string("/l/libtrtmatte_plugins.so"));
    CHECK_EQ(meta.onnx_metadata.at("variant"), std::string("late_fusion_lite"));
    CHECK_EQ(meta.rebuild_command, std::string("trtmatte build m.onnx -o p.plan"));
}

void defaults_for_optional_fields() {
    const auto meta = trtmatte::parse_sidecar(kMinimal, "p.plan.json");
    CHECK(meta.targets.empty() && meta.plugins.empty() && meta.gpu_name.empty() && meta.rebuild_command.empty());
    CHECK(!meta.hardware_compatible && !meta.version_compatible);
    CHECK_EQ(meta.sidecar_version, 1);
    // a plugin entry without a library, as the Python loader tolerates
    const auto partial = trtmatte::parse_sidecar(
        R"({"tensorrt_flavour": "tensorrt", "tensorrt_version": "1", "precision": "fp32", "profile": {},
            "onnx_sha256": "", "onnx_path": "", "plugins": [{"name": "X"}], "targets": null})",
        "p.json");
    CHECK_EQ(partial.plugins.at(0).library, std::string(""));
    CHECK_EQ(partial.plugins.at(0).version, std::string("?"));
}

void invalid_sidecars() {
    const std::string tail = "; rebuild the engine with `trtmatte build`";
    for (const char* text : {"{not json", "[1, 2]", "",
                             R"({"tensorrt_flavour": "tensorrt", "precision": "fp32", "profile": {}, "onnx_sha256": "", "onnx_path": ""})",
                             R"({"tensorrt_flavour": 10, "tensorrt_version": "1", "precision": "fp32", "profile": {}, "onnx_sha256": "", "onnx_path": ""})",
                             R"({"tensorrt_flavour": "tensorrt", "tensorrt_version": "1", "precision": "fp32", "profile": {"image": {"min": [1]}}, "onnx_sha256": "", "onnx_path": ""})",
                             R"({"tensorrt_flavour": "tensorrt", "tensorrt_version": "1", "precision": "fp32", "profile": {}, "onnx_sha256": "", "onnx_path": "", "plugins": [3]})"}) {
        CHECK_THROWS_CONTAINING(trtmatte::parse_sidecar(text, "p.plan.json"), Errc::Incompatible,
                                "p.plan.json is not a valid trtmatte sidecar (");
        CHECK_THROWS_CONTAINING(trtmatte::parse_sidecar(text, "p.plan.json"), Errc::Incompatible, tail);
    }
    CHECK_THROWS_CONTAINING(trtmatte::parse_sidecar(R"({"tensorrt_flavour": "tensorrt"})", "s.json"), Errc::Incompatible,
                            "missing field 'tensorrt_version'");
}

void sidecar_files() {
    const auto dir = std::filesystem::temp_directory_path() / ("trtmatte_sidecar_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string plan = (dir / "model.plan").string();
    CHECK_EQ(trtmatte::sidecar_path(plan), plan + ".json");
    CHECK_THROWS(trtmatte::read_sidecar(plan), Errc::NotFound,
                 plan + " has no sidecar model.plan.json: trtmatte cannot check what it was built for; rebuild it with "
                        "`trtmatte build MODEL.onnx -o " + plan + "`");
    std::ofstream(plan + ".json") << kMinimal;
    CHECK_EQ(trtmatte::read_sidecar(plan).tensorrt_version, std::string("10.3.0.26"));
    std::ofstream(plan + ".json") << "{}";
    CHECK_THROWS_CONTAINING(trtmatte::read_sidecar(plan), Errc::Incompatible, plan + ".json is not a valid trtmatte sidecar");
    std::filesystem::remove_all(dir);
}

}  // namespace

int main() {
    full_sidecar();
    defaults_for_optional_fields();
    invalid_sidecars();
    sidecar_files();
    return check::summary("test_sidecar");
}
