"""The core install (`pip install trtmatte`: numpy, Pillow, onnxruntime, tqdm) works without PyTorch.

A Jetson or Triton node that only runs exported graphs must not need torch, onnx, OpenCV, ... So
``import trtmatte``, ``trtmatte --help`` and ``trtmatte matte --backend onnxruntime`` run here in a
subprocess where every package outside the core install is hidden, and ``--backend torch`` there
fails with a one-line error naming the missing package.

How packages are hidden: a ``sitecustomize`` put first on PYTHONPATH wraps the meta-path finders so
that a hidden module is simply *not found* (``import torch`` raises ModuleNotFoundError,
``importlib.util.find_spec("torch")`` is None, ``importlib.metadata.version("torch")`` raises
PackageNotFoundError), as in a venv without it. (Fake ``torch.py`` modules that raise, as in
tests/cli/test_cli.py, would still be found by ``find_spec`` and by package metadata.) Every lookup
of a hidden module made directly by trtmatte code is logged with the trtmatte frames that led to
it, so a failure says which module reached for torch.

The packaging tests check pyproject.toml and constraints.txt: ranges in pyproject, exact pins in
constraints.txt, and nothing outside the core in the core dependencies.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "trtmatte"

# The core install: what `pip install trtmatte` brings, and all the subprocess may import.
CORE = {"numpy": "numpy", "pillow": "PIL", "onnxruntime": "onnxruntime", "tqdm": "tqdm"}

# Every distribution an extra may name -> the top-level modules it provides. The subprocess hides
# all of them; test_every_extra_dependency_is_hidden makes a new extra dependency land here too.
NON_CORE = {
    "torch": ("torch",),
    "torchvision": ("torchvision",),  # not a dependency; its ImageNet files are read with torch alone
    "safetensors": ("safetensors",),
    "onnx": ("onnx",),
    "onnxscript": ("onnxscript", "onnx_ir"),
    "onnxsim": ("onnxsim",),
    "onnxconverter-common": ("onnxconverter_common",),
    "opencv-python-headless": ("cv2",),
    "opencv-python": ("cv2",),
    "scipy": ("scipy",),
    "scikit-image": ("skimage",),
    "matplotlib": ("matplotlib",),
    "h5py": ("h5py",),
    "tensorrt-rtx-cu12": ("tensorrt_rtx",),
    "tensorrt": ("tensorrt",),
    "cuda-python": ("cuda",),
    "cuda-bindings": ("cuda",),
    "cupy-cuda12x": ("cupy",),
    "pytest": ("pytest", "_pytest"),
    "pytest-benchmark": ("pytest_benchmark",),
    "nvidia-pytriton": ("pytriton",),
    "tritonclient": ("tritonclient",),
    "av": ("av",),
    "pymatting": ("pymatting",),
    "atheris": ("atheris",),
    "numba": ("numba",),
    "llvmlite": ("llvmlite",),
    "ray": ("ray",),
    "nvidia-modelopt": ("modelopt",),
    "onnx-graphsurgeon": ("onnx_graphsurgeon",),
    "onnxslim": ("onnxslim",),
    "polygraphy": ("polygraphy",),
    "ml-dtypes": ("ml_dtypes",),
    "lief": ("lief",),
}
HIDDEN_MODULES = sorted({m for mods in NON_CORE.values() for m in mods})

HIDER = r'''
"""Test-only: hide packages outside trtmatte's core install (tests/packaging/test_without_torch.py)."""
import os, re, sys, traceback

_HIDDEN = frozenset(os.environ["TRTMATTE_HIDDEN_MODULES"].split(","))
_DISTS = frozenset(os.environ["TRTMATTE_HIDDEN_DISTS"].split(","))
_PKG = os.environ["TRTMATTE_PACKAGE_DIR"] + os.sep
_LOG = os.environ["TRTMATTE_POISON_LOG"]


def _norm(name):
    return re.sub(r"[-_.]+", "-", name or "").lower()


def _log(name):
    # the frame that asked for the module, skipping this file, importlib and frozen frames
    stack = traceback.extract_stack()
    frames = [f for f in stack
              if f.filename != __file__ and not f.filename.startswith("<frozen") and "importlib" not in f.filename]
    if frames and frames[-1].filename.startswith(_PKG):
        # importlib.util.find_spec: a probe that imports nothing; anything else is an import attempt
        probe = any(f.name == "find_spec" and (f.filename == "<frozen importlib.util>"
                                               or f.filename.endswith(os.path.join("importlib", "util.py")))
                    for f in stack)
        chain = " < ".join(f"{os.path.relpath(f.filename, os.path.dirname(_PKG.rstrip(os.sep)))}:{f.lineno}"
                           for f in reversed(frames) if f.filename.startswith(_PKG))
        with open(_LOG, "a") as log:
            log.write(f"{name} from {chain} ({'find_spec probe' if probe else 'import'})\n")


class _Hiding:
    """Wraps one meta-path finder: hidden modules are not found, hidden distributions have no metadata."""

    def __init__(self, inner, first):
        self._inner, self._first = inner, first

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _HIDDEN:
            if self._first:
                _log(name)
            return None
        find = getattr(self._inner, "find_spec", None)
        return find(name, path, target) if find else None

    def find_distributions(self, *args, **kwargs):
        find = getattr(self._inner, "find_distributions", None)
        if find is None:
            return iter(())
        return (d for d in find(*args, **kwargs) if _norm(d.metadata["Name"]) not in _DISTS)


sys.meta_path[:] = [_Hiding(f, i == 0) for i, f in enumerate(sys.meta_path)]
# imported before us by a site-packages .pth (cuda-bindings' redirector imports `cuda`)
for _name in [n for n in sys.modules if n.partition(".")[0] in _HIDDEN]:
    del sys.modules[_name]
with open(os.environ["TRTMATTE_HIDER_MARKER"], "a") as marker:
    marker.write(f"{os.getpid()}\n")
'''


class Hidden:
    """The environment for a subprocess without the non-core packages, and what it logged."""

    def __init__(self, root: Path):
        (root / "hide").mkdir()
        (root / "hide" / "sitecustomize.py").write_text(HIDER)
        self.log = root / "imports.log"
        self.marker = root / "hider.marker"
        path = [str(root / "hide"), str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(path),
                    "TRTMATTE_HIDDEN_MODULES": ",".join(HIDDEN_MODULES),
                    "TRTMATTE_HIDDEN_DISTS": ",".join(NON_CORE),
                    "TRTMATTE_PACKAGE_DIR": str(PACKAGE_DIR),
                    "TRTMATTE_POISON_LOG": str(self.log),
                    "TRTMATTE_HIDER_MARKER": str(self.marker)}

    def run(self, *argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
        if self.marker.exists():
            self.marker.unlink()
        r = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, env=self.env, timeout=300)
        assert self.marker.is_file(), f"the hiding sitecustomize did not run for {argv}: {r.stderr}"
        return r

    def python(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(sys.executable, *args, **kw)

    def imports(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture()
def hidden(tmp_path) -> Hidden:
    return Hidden(tmp_path)


def test_hidden_packages_look_uninstalled(hidden):
    """The harness itself: hidden packages are absent in every way a program can look, the core is
    present, and a trtmatte module asking for a hidden one is logged."""
    code = (
        "import importlib, importlib.util, importlib.metadata as md\n"
        f"for name in {HIDDEN_MODULES!r}:\n"
        "    assert importlib.util.find_spec(name) is None, name\n"
        "    try:\n        importlib.import_module(name)\n    except ModuleNotFoundError as e:\n"
        "        assert e.name == name, (name, e.name)\n"
        "    else:\n        raise AssertionError(name + ' imported')\n"
        "for dist in ('torch', 'onnx', 'scipy'):\n"
        "    try:\n        md.version(dist)\n    except md.PackageNotFoundError:\n        pass\n"
        "    else:\n        raise AssertionError(dist + ' has metadata')\n"
        f"for name in {sorted(CORE.values())!r}:\n"
        "    importlib.import_module(name)\n"
        "import onnxruntime; onnxruntime.InferenceSession\n"
        "from trtmatte._lazy import require\n"
        "try:\n    require('torch', 'testing')\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    r = hidden.python("-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("DependencyMissing torch is not installed"), r.stdout
    assert re.match(r"torch from trtmatte/_lazy\.py:\d+", hidden.imports()), hidden.imports()


def test_import_and_help_without_torch(hidden):
    r = hidden.python("-c", "import trtmatte; print(trtmatte.__version__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == __import__("trtmatte").__version__
    commands = [[sys.executable, "-m", "trtmatte", "--help"], [sys.executable, "-m", "trtmatte", "matte", "--help"]]
    script = Path(sys.executable).with_name("trtmatte")  # the console script, where trtmatte is installed
    if script.is_file():
        commands += [[str(script), "--help"], [str(script), "matte", "--help"]]
    for argv in commands:
        r = hidden.run(*argv)
        assert r.returncode == 0 and "usage: trtmatte" in r.stdout, (argv, r.stderr)
    assert hidden.imports() == "", "trtmatte imported packages outside the core install:\n" + hidden.imports()


def mean_alpha_graph(path: Path) -> None:
    """A minimal trtmatte whole-pipeline graph, built directly with onnx.helper (no torch export):
    uint8 image [N, H, W, 3] -> alpha = round(mean over RGB) as uint8 [N, H, W]."""
    onnx = pytest.importorskip("onnx", reason="onnx (trtmatte[export]) builds the test graph")
    from onnx import TensorProto, helper

    dims = ["N", "H", "W"]
    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
         helper.make_node("ReduceMean", ["pixels", "channel_axis"], ["mean"], keepdims=0),
         helper.make_node("Round", ["mean"], ["rounded"]),
         helper.make_node("Cast", ["rounded"], ["alpha"], to=TensorProto.UINT8)],
        "mean_alpha",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, dims + [3])],
        [helper.make_tensor_value_info("alpha", TensorProto.UINT8, dims)],
        initializer=[helper.make_tensor("channel_axis", TensorProto.INT64, [1], [3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="trtmatte-tests")
    model.ir_version = 8  # opset 18's IR: loads on every onnxruntime the core range admits
    helper.set_model_props(model, {"trtmatte.variant": "late_fusion", "trtmatte.alpha_dtype": "uint8"})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def test_matte_onnxruntime_without_torch(hidden, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    graph = tmp_path / "mean_alpha.onnx"
    mean_alpha_graph(graph)
    rng = np.random.default_rng(14)
    image = rng.integers(0, 256, (45, 67, 3), dtype=np.uint8)  # odd sizes: nothing is resized
    src = tmp_path / "photo.png"
    Image.fromarray(image).save(src)
    expected = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"]).run(
        None, {"image": image[None]})[0][0]
    assert expected.shape == (45, 67) and len(np.unique(expected)) > 50

    out = tmp_path / "alpha.png"
    r = hidden.python("-m", "trtmatte", "matte", str(src), "-o", str(out), "--backend", "onnxruntime",
                      "--onnx", str(graph), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    with Image.open(out) as im:
        assert im.mode == "L" and im.size == (67, 45)
        alpha = np.asarray(im)
    np.testing.assert_array_equal(alpha, expected)
    # an explicit --backend onnxruntime has no reason to import, or even probe, torch/TensorRT/CUDA
    assert hidden.imports() == "", "trtmatte reached for packages outside the core install:\n" + hidden.imports()


def test_torch_backend_without_torch_is_one_line_error(hidden, tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(src)
    out = tmp_path / "alpha.png"
    r = hidden.python("-m", "trtmatte", "matte", str(src), "-o", str(out), "--backend", "torch", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtmatte: error: "), r.stderr
    assert "torch is not installed" in lines[0] and re.search(r"pip install \S*torch", lines[0]), lines[0]
    assert not out.exists()
    assert "torch from trtmatte/" in hidden.imports()  # the error came from asking for torch


# --- pyproject.toml and constraints.txt ---------------------------------------------------------

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def project() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def requirements(project):
    """(where, Requirement) for the core and every extra, self-references (trtmatte[...]) left out."""
    from packaging.requirements import Requirement

    out = [("dependencies", Requirement(s)) for s in project["dependencies"]]
    for extra, items in project["optional-dependencies"].items():
        out += [(f"[{extra}]", Requirement(s)) for s in items]
    return [(where, req) for where, req in out if _norm(req.name) != "trtmatte"]


@pytest.fixture(scope="module")
def constraints() -> dict[str, str]:
    pins = {}
    for n, line in enumerate((REPO / "constraints.txt").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", line)
        assert m, f"constraints.txt:{n}: {line!r} is not an exact pin NAME==VERSION"
        assert _norm(m[1]) not in pins, f"constraints.txt:{n}: {m[1]} pinned twice"
        pins[_norm(m[1])] = m[2]
    return pins


def test_core_dependencies_are_the_core(project):
    from packaging.requirements import Requirement

    core = {_norm(Requirement(s).name) for s in project["dependencies"]}
    assert core == set(CORE), core
    assert not core & {_norm(d) for d in NON_CORE}


def test_dependencies_are_ranges_not_pins(requirements):
    for where, req in requirements:
        exact = [str(s) for s in req.specifier if s.operator in ("==", "===")]
        assert not exact, f"{where}: {req} pins exactly; state a range here and the pin in constraints.txt"


def test_constraints_pin_every_requirement_inside_its_range(requirements, constraints):
    from packaging.version import Version

    for where, req in requirements:
        name = _norm(req.name)
        assert name in constraints, f"{where}: {req.name} is not pinned in constraints.txt"
        version = Version(constraints[name])
        assert req.specifier.contains(version, prereleases=True), \
            f"{where}: {req} does not admit the tested {req.name}=={version}"


def test_every_extra_dependency_is_hidden(requirements):
    """So the no-torch tests above hide any package a new extra brings."""
    for where, req in requirements:
        if where != "dependencies":
            assert _norm(req.name) in NON_CORE, f"{where}: {req.name} is missing from NON_CORE in {__file__}"


def test_known_version_facts(project, requirements, constraints):
    from packaging.version import Version

    ranges = {_norm(req.name): req.specifier for where, req in requirements if where == "dependencies"}
    assert ranges["onnxruntime"].contains(Version("1.23.2")), "Jetson (JetPack 6, cp310) wheels end at 1.23.2"
    assert constraints["torch"] == "2.13.0", "the CPU build on local disk; others pull a multi-GB CUDA build"
    extras = project["optional-dependencies"]
    from packaging.requirements import Requirement

    # the tritonserver wheel (numpy<2 for PyTriton's API) is installed with --no-deps, never by an extra
    assert not any(_norm(Requirement(r).name) == "nvidia-pytriton" for reqs in extras.values() for r in reqs)
    assert "pip install -q --no-deps -c constraints.txt nvidia-pytriton" in (REPO / ".ci" / "run").read_text()

    for extra in ("quantize", "data", "rtx", "gpu", "bench", "serve", "video", "cutout"):  # no PyTorch in these
        for req in map(Requirement, extras[extra]):
            assert _norm(req.name) != "torch" and not (_norm(req.name) == "trtmatte" and "torch" in req.extras), \
                f"[{extra}] pulls torch: {req}"


def test_ci_runs_the_readme_test_command():
    command = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert "pip install -q -c constraints.txt -e '.[test]'" in command, command
    assert command in (REPO / "README.md").read_text(), "README's test command differs from .ci/run's"
