"""Fixtures of the C++ tests: one CMake build of cpp/ per session, the ONNX graph and real photos
they run, and Python's onnxruntime alpha for each photo (what the C++ side must reproduce).

The build is configured the way CI proves things: the TensorRT backend against the vendored
TensorRT 11.1 headers, every TensorRT translation unit and the plugin compile-checked against the
10.3 and 11.1 headers, the ONNX Runtime backend pointed at the onnxruntime wheel's library. A
missing system package fails (never skips) with the command that installs it."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run scripts/install-system-packages.sh (as root, or with sudo)"
TENSORRT_HEADERS = {"10.3": REPO / "third_party/tensorrt/10.3/include", "11.1": REPO / "third_party/tensorrt/11.1/include"}
CUDA_HOME = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
PHOTOS = ("astronaut", "chelsea", "coffee")  # scikit-image's bundled photos


@dataclass(frozen=True)
class CppBuild:
    dir: Path
    seconds: float
    configure_log: str
    with_tensorrt: bool

    def bin(self, name: str) -> Path:
        return self.dir / "bin" / name

    @property
    def library(self) -> Path:
        return self.dir / "lib" / "libtrtmatte.so"


def onnxruntime_library() -> Path:
    """The onnxruntime wheel's C library (onnxruntime/capi/libonnxruntime.so.<version>)."""
    import onnxruntime

    found = sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))
    if not found:
        pytest.fail(f"the onnxruntime wheel at {Path(onnxruntime.__file__).parent} has no capi/libonnxruntime.so.*")
    return found[-1]


def cuda_toolkit() -> bool:
    """TensorRT's headers include cuda_runtime_api.h: without the CUDA toolkit they cannot compile."""
    return (CUDA_HOME / "include" / "cuda_runtime_api.h").is_file()


def run(cmd: list[str], what: str, timeout: float = 900, **kwargs) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if r.returncode != 0:
        log = r.stdout + r.stderr
        hint = next((line for line in log.splitlines() if "install-system-packages" in line), "")
        pytest.fail(f"{what} failed ({' '.join(map(str, cmd))}): {hint.strip() or log[-3000:]}", pytrace=False)
    return r


_build: list[CppBuild] = []


@pytest.fixture(scope="session")
def cpp_build() -> CppBuild:
    if _build:
        return _build[0]
    for tool in ("cmake", "g++"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: {INSTALL_HINT}", pytrace=False)
    build = Path(tempfile.mkdtemp(prefix="trtmatte_cpp_"))
    atexit.register(shutil.rmtree, build, True)
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    with_tensorrt = cuda_toolkit()
    tensorrt = ([f"-DTensorRT_ROOT={REPO / 'third_party/tensorrt/11.1'}", "-DTRTMATTE_WITH_TENSORRT=ON",
                 f"-DTRTMATTE_TENSORRT_CHECK_INCLUDE_DIRS={';'.join(map(str, TENSORRT_HEADERS.values()))}",
                 f"-DCUDAToolkit_ROOT={CUDA_HOME}"]
                if with_tensorrt else ["-DTRTMATTE_WITH_TENSORRT=OFF"])
    start = time.perf_counter()
    # -O1: the tests run C++ glue around ONNX Runtime, whose own optimised code does the work.
    configure = run(["cmake", "-S", str(REPO), "-B", str(build), *generator, "-DCMAKE_BUILD_TYPE=Release",
                     "-DCMAKE_CXX_FLAGS_RELEASE=-O1", "-DCMAKE_C_FLAGS_RELEASE=-O1",
                     "-DTRTMATTE_BUILD_PLUGINS=OFF", "-DTRTMATTE_BUILD_CPP=ON", "-DTRTMATTE_BUILD_TESTS=ON",
                     "-DTRTMATTE_WARNINGS_AS_ERRORS=ON",
                     "-DTRTMATTE_WITH_ONNXRUNTIME=ON", f"-DTRTMATTE_ONNXRUNTIME_LIBRARY={onnxruntime_library()}",
                     *tensorrt], "configuring cpp/")
    run(["cmake", "--build", str(build), "-j2"], "building cpp/")
    _build.append(CppBuild(build, time.perf_counter() - start, configure.stdout, with_tensorrt))
    return _build[0]


@pytest.fixture(scope="session")
def graph() -> Path:
    """The bundled demo model's whole-pipeline export (uint8 image in, uint8 alpha out)."""
    try:
        from trtmatte.checkpoints.bundled import bundled_files

        found = bundled_files()[0]
    except (ImportError, AttributeError):  # an older package without the helper: look for the file
        found = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"
        found = found if found.is_file() else None
    if found is None:
        pytest.fail("the bundled demo graph trtmatte/weights/late_fusion_lite_demo.onnx is missing from this checkout")
    return Path(found)


@pytest.fixture(scope="session", params=["float32", "float16"])
def float_alpha_graph(request, graph, tmp_path_factory) -> Path:
    """The bundled graph with its uint8 alpha turned into float32 / float16 alpha (x / 255), as
    `trtmatte export --alpha-dtype` graphs have it: the C++ side must convert it back itself."""
    onnx = pytest.importorskip("onnx", reason="rewriting the graph's output needs the onnx package")
    from onnx import TensorProto, helper, numpy_helper

    dtype = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}[request.param]
    model = onnx.load(str(graph))
    for node in model.graph.node:
        node.output[:] = ["alpha_uint8" if name == "alpha" else name for name in node.output]
    model.graph.initializer.append(numpy_helper.from_array(np.array(255, np.float32), "alpha_scale"))
    model.graph.node.extend([helper.make_node("Cast", ["alpha_uint8"], ["alpha_f32"], to=TensorProto.FLOAT),
                             helper.make_node("Div", ["alpha_f32", "alpha_scale"], ["alpha_unit"]),
                             helper.make_node("Cast", ["alpha_unit"], ["alpha"], to=dtype)])
    next(o for o in model.graph.output if o.name == "alpha").type.tensor_type.elem_type = dtype
    path = tmp_path_factory.mktemp("float_alpha") / f"late_fusion_lite_{request.param}.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray]]:
    """name -> (PNG path, uint8 RGB) for scikit-image's astronaut, chelsea and coffee."""
    data = pytest.importorskip("skimage.data", reason="scikit-image is needed for its bundled photos")
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    out = {}
    for name in PHOTOS:
        rgb = getattr(data, name)()
        Image.fromarray(rgb).save(root / f"{name}.png")  # lossless: stb and Pillow decode the same pixels
        out[name] = (root / f"{name}.png", rgb)
    return out


@pytest.fixture(scope="session")
def python_alpha(graph, photos) -> dict[str, np.ndarray]:
    """Alpha of every photo from Python's onnxruntime (trtmatte.runtime.OrtSession), float in [0, 1]."""
    from trtmatte.runtime.ort_session import OrtSession

    session = OrtSession(graph)
    return {name: session.run(rgb[None])[0] for name, (_, rgb) in photos.items()}


@pytest.fixture(scope="session")
def diff_255():
    """max |C++ uint8 alpha - Python float alpha x 255| (the tests allow 1: one rounding step)."""
    def diff(cpp_uint8: np.ndarray, python_float: np.ndarray) -> float:
        assert cpp_uint8.shape == python_float.shape, (cpp_uint8.shape, python_float.shape)
        return float(np.abs(cpp_uint8.astype(np.float64) - python_float.astype(np.float64) * 255.0).max())
    return diff


@pytest.fixture(scope="session")
def ada_graph(tmp_path_factory) -> Path:
    """A tiny AdaMatting (trimap model) exported with the real exporter: uint8 'image' and 'trimap'
    in, uint8 alpha out, dynamic N, H, W, known regions imposed. Narrow widths and a 64 px working
    side keep it to milliseconds a call; the last conv's weights are scaled up because an untrained
    network's alpha sits at 0.5 everywhere, which would make a parity check say nothing."""
    for module in ("torch", "onnx", "onnxscript"):
        pytest.importorskip(module, reason=f"{module} is needed to export the tiny AdaMatting graph")
    import dataclasses

    import torch

    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config
    from trtmatte.models.adamatting import AdaMattingNet

    torch.manual_seed(0)
    net = AdaMattingNet(stem_width=8, stem_kernel=3, stages=((4, 8, 1), (4, 8, 1), (8, 16, 1), (8, 16, 1)),
                        decoder_widths=(16, 16, 8, 8, 8), propagation_width=4).eval()
    with torch.no_grad():
        net.propagation.out.weight.mul_(40.0)
    pre = dataclasses.replace(get_config("adamatting_lite").preprocessing, max_side=64)
    path = tmp_path_factory.mktemp("adamatting") / "tiny_adamatting.onnx"
    export_onnx(net, "adamatting_lite", pre, path, ExportOptions(simplify=False))
    return path


@pytest.fixture(scope="session")
def ada_inputs(photos, tmp_path_factory) -> dict[str, tuple[Path, np.ndarray, Path, np.ndarray]]:
    """name -> (image PNG, uint8 RGB, trimap PNG, uint8 trimap) for small versions of the photos,
    each trimap drawn from the photo's own rough outline (trtmatte.trimap.from_rough_mask), as the
    AdaMatting parity checks draw them."""
    from PIL import Image

    from trtmatte.trimap import from_rough_mask

    root = tmp_path_factory.mktemp("ada_inputs")
    out = {}
    for name, size in (("astronaut", (96, 80)), ("chelsea", (151, 100))):
        rgb = np.asarray(Image.fromarray(photos[name][1]).resize(size))
        trimap = from_rough_mask(rgb, band=4)
        Image.fromarray(rgb).save(root / f"{name}.png")
        Image.fromarray(trimap).save(root / f"{name}_trimap.png")
        out[name] = (root / f"{name}.png", rgb, root / f"{name}_trimap.png", trimap)
    return out


@pytest.fixture(scope="session")
def ada_python_alpha(ada_graph, ada_inputs) -> dict[str, np.ndarray]:
    """Alpha of every AdaMatting input from Python's onnxruntime, float in [0, 1]."""
    from trtmatte.runtime.ort_session import OrtSession

    session = OrtSession(ada_graph)
    return {name: session.run(rgb[None], trimap[None])[0] for name, (_, rgb, _, trimap) in ada_inputs.items()}
