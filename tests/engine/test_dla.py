"""`trtmatte build --dla-core N [--allow-gpu-fallback]`: what it asks of standard TensorRT's builder
config (checked on a recording stand-in: no machine here has a DLA or standard TensorRT), what the
sidecar, rebuild command and engine cache record, and the one-line refusals (TensorRT-RTX, bad
arguments, a device without that DLA core)."""
from __future__ import annotations

import enum
import json
from types import SimpleNamespace

import pytest

from trtmatte.cli.main import main
from trtmatte.engine.builder import BuildOptions, rebuild_command
from trtmatte.engine.flavour import Flavour
from trtmatte.engine.sidecar import EngineMeta, read_sidecar, sidecar_path
from trtmatte.errors import TrtmatteError


class DeviceType(enum.Enum):  # the members trtmatte touches, named as in TensorRT's bindings
    GPU = 0
    DLA = 1


class BuilderFlag(enum.Enum):
    GPU_FALLBACK = 3
    VERSION_COMPATIBLE = 9


def standard_tensorrt(cores: int):
    """(Flavour of a stand-in standard TensorRT 10.3, builder with ``cores`` DLA cores, config that
    records what is set on it)."""
    module = SimpleNamespace(__name__="tensorrt", __version__="10.3.0", DeviceType=DeviceType, BuilderFlag=BuilderFlag)

    class Config:
        def __init__(self):
            self.flags = []
            self.default_device_type = DeviceType.GPU
            self.DLA_core = -1

        def set_flag(self, flag):
            self.flags.append(flag)

    return Flavour.of(module), SimpleNamespace(num_DLA_cores=cores), Config()


def test_dla_core_configures_the_builder():
    flavour, builder, config = standard_tensorrt(cores=2)
    assert flavour.configure_dla(builder, config, 1) == {"dla_core": 1, "gpu_fallback": False}
    assert config.default_device_type is DeviceType.DLA and config.DLA_core == 1 and config.flags == []


def test_gpu_fallback_sets_the_flag():
    flavour, builder, config = standard_tensorrt(cores=2)
    assert flavour.configure_dla(builder, config, 0, gpu_fallback=True) == {"dla_core": 0, "gpu_fallback": True}
    assert config.default_device_type is DeviceType.DLA and config.DLA_core == 0
    assert config.flags == [BuilderFlag.GPU_FALLBACK]


def test_no_dla_core_leaves_the_config_alone():
    flavour, builder, config = standard_tensorrt(cores=2)
    assert flavour.configure_dla(builder, config, None) == {}
    assert config.default_device_type is DeviceType.GPU and config.DLA_core == -1 and config.flags == []


@pytest.mark.parametrize("cores,core,gpu_fallback,message", [
    (2, 2, False, r"^--dla-core 2: this device has only 2 DLA cores \(0\.\.1\); .*drop --dla-core"),
    (0, 0, False, r"^--dla-core 0: this device has no DLA; .*Orin Nano .* drop --dla-core to build for the GPU$"),
    (2, -1, False, r"^--dla-core must be 0 or more"),
    (2, None, True, r"^--allow-gpu-fallback only applies with --dla-core N: add --dla-core 0"),
])
def test_bad_dla_requests_are_one_line(cores, core, gpu_fallback, message):
    flavour, builder, config = standard_tensorrt(cores)
    with pytest.raises(TrtmatteError, match=message) as err:
        flavour.configure_dla(builder, config, core, gpu_fallback)
    assert "\n" not in str(err.value)
    assert config.default_device_type is DeviceType.GPU and config.flags == []  # nothing half-configured


def test_tensorrt_rtx_refuses_dla():
    rtx = Flavour.of(SimpleNamespace(__name__="tensorrt_rtx", __version__="1.7.1.116"))
    with pytest.raises(TrtmatteError, match=r"^TensorRT-RTX 1\.7\.1\.116 has no DLA support .*standard TensorRT .*"
                                            r"or drop --dla-core$"):
        rtx.check_dla(0)
    rtx.check_dla(None)  # no DLA asked: nothing to refuse


def test_rebuild_command_sidecar_and_cache_key_record_dla():
    opts = BuildOptions(dla_core=1, gpu_fallback=True)
    assert rebuild_command("m.onnx", "m.plan", opts).endswith("--dla-core 1 --allow-gpu-fallback")
    assert "--dla" not in rebuild_command("m.onnx", "m.plan", BuildOptions())
    assert "--allow-gpu-fallback" not in rebuild_command("m.onnx", "m.plan", BuildOptions(dla_core=0))
    meta = json.loads(EngineMeta("tensorrt", "10.3.0", "int8", {}, "0" * 64, "m.onnx", dla_core=1, gpu_fallback=True).to_json())
    assert meta["dla_core"] == 1 and meta["gpu_fallback"] is True
    plain = json.loads(EngineMeta("tensorrt", "10.3.0", "fp16", {}, "0" * 64, "m.onnx").to_json())
    assert plain["dla_core"] is None and plain["gpu_fallback"] is False


def test_old_sidecar_without_dla_fields_still_reads(tmp_path):
    plan = tmp_path / "old.plan"
    plan.write_bytes(b"plan")
    fields = json.loads(EngineMeta("tensorrt", "10.3.0", "fp16", {}, "0" * 64, "m.onnx").to_json())
    del fields["dla_core"], fields["gpu_fallback"]
    sidecar_path(plan).write_text(json.dumps(fields))
    meta = read_sidecar(plan)
    assert meta.dla_core is None and meta.gpu_fallback is False


def test_build_cli_refuses_dla_with_tensorrt_rtx_before_parsing(tiny_onnx, tmp_path, capsys):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (pip install tensorrt-rtx-cu12) is the flavour refused here")
    code = main(["build", str(tiny_onnx), "-o", str(tmp_path / "t.plan"), "--dla-core", "0", "--tensorrt", "tensorrt_rtx",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "has no DLA support" in err and "drop --dla-core" in err, err
    assert not list(tmp_path.iterdir())  # refused before any file was written
    code = main(["build", str(tiny_onnx), "-o", str(tmp_path / "t.plan"), "--allow-gpu-fallback", "--tensorrt",
                 "tensorrt_rtx", "--no-progress"])
    assert code == 1 and "--allow-gpu-fallback only applies with --dla-core" in capsys.readouterr().err
