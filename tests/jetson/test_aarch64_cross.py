"""cpp/ for aarch64 (Jetson), without a Jetson: cross-built with Debian's cross toolchain
(cpp/cmake/toolchains/aarch64-linux-gnu.cmake) and run under qemu user-mode emulation.

What runs, and what is only compiled:
* libtrtmatte (ONNX Runtime backend) and the GPU-free C/C++ unit tests (sidecar, compat, buffers,
  C ABI): built for aarch64 and **run** under ``qemu-aarch64-static -L /usr/aarch64-linux-gnu``
  through ctest (CMAKE_CROSSCOMPILING_EMULATOR).
* The ONNX Runtime backend **end to end** under emulation: tests/jetson/matte_raw.c through the C ABI,
  with onnxruntime's own aarch64 ``libonnxruntime.so`` (from the pinned onnxruntime wheel for
  manylinux_2_28_aarch64, downloaded once with pip into ~/.cache/trtmatte-tests, or
  $TRTMATTE_TESTS_CACHE), on a 96x128 crop of a real photo with the bundled graph; its alpha must
  equal the x86-64 build's within 1/255. Emulated onnxruntime costs about 2 ms per pixel here, so
  the photo is small: 96x128 takes ~25 s under qemu, 150x225 took ~75 s.
* The TensorRT backend (tensorrt_library.cpp, tensorrt_session.cpp) and the FusedBlend plugin's host
  code: **compiled only**, for aarch64 against the TensorRT 10.3 headers (JetPack 6), as object
  files (no aarch64 CUDA runtime or TensorRT library exists here to link or run them). The
  plugin's device code for sm_87 is checked by the fatbin tests of tests/fused_blend.

Missing tools fail (never skip) naming scripts/install-system-packages.sh; pip needing PyPI (first
run only, the wheel is cached) fails with that said. One cross build (-j2), one x86-64 build of
libtrtmatte alone, each once per module: about a minute in all on 2 cores.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TOOLCHAIN = REPO / "cpp" / "cmake" / "toolchains" / "aarch64-linux-gnu.cmake"
SYSROOT = Path("/usr/aarch64-linux-gnu")
TENSORRT_10_3 = REPO / "third_party" / "tensorrt" / "10.3" / "include"
GRAPH = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"
CUDA_HOME = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
INSTALL_HINT = "run sh scripts/install-system-packages.sh --aarch64 (as root, or with sudo)"
EM_AARCH64, EM_X86_64 = 183, 62  # ELF e_machine
ORT_PLATFORM = "manylinux_2_28_aarch64"
# Outside the tree and outside trtmatte's own cache (~/.cache/trtmatte/engines): test downloads only.
CACHE = Path(os.environ.get("TRTMATTE_TESTS_CACHE", Path.home() / ".cache" / "trtmatte-tests")) / "aarch64"
# The photo: scikit-image's immunohistochemistry, cropped (not resized, so no resampler is involved)
# to a 48x384 strip where the bundled model's alpha spreads over 28 levels (onnxruntime 1.24, x86-64).
# The bundled graph brings a longer side under 384 up to 384 (its min_side), so a strip whose longer
# side is already 384 keeps the emulated run small (64x384 working pixels, ~2 ms each under qemu);
# a near-constant alpha would make the 1/255 comparison say nothing.
PHOTO, CROP = "immunohistochemistry", (slice(240, 288), slice(32, 416))


def run(cmd: list, what: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)
    if r.returncode != 0:
        pytest.fail(f"{what} failed (exit {r.returncode}): {' '.join(map(str, cmd))}\n{(r.stdout + r.stderr)[-3000:]}",
                    pytrace=False)
    return r


def elf_machine(path: Path) -> int:
    """e_machine of an ELF file (little-endian, offset 18)."""
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return struct.unpack_from("<H", head, 18)[0]


def pinned_onnxruntime() -> str:
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip().startswith("onnxruntime=="):
            return line.split("==", 1)[1].split("#")[0].strip()
    pytest.fail("constraints.txt pins no onnxruntime version", pytrace=False)


def aarch64_onnxruntime() -> Path:
    """onnxruntime's aarch64 C library from its manylinux_2_28_aarch64 wheel (cached)."""
    version = pinned_onnxruntime()
    target = CACHE / f"onnxruntime-{version}-aarch64" / f"libonnxruntime.so.{version}"
    if target.is_file():
        return target
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--platform", ORT_PLATFORM,
           "--python-version", py, "--no-deps", f"onnxruntime=={version}", "-d", str(wheels)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"could not download onnxruntime {version}'s aarch64 wheel from PyPI (this test needs PyPI, or a "
                    f"wheel already in {wheels}): {' '.join(cmd)}\n{r.stderr[-1500:]}", pytrace=False)
    wheel = next(iter(sorted(wheels.glob(f"onnxruntime-{version}-*aarch64*.whl"))), None)
    assert wheel is not None, list(wheels.iterdir())
    with zipfile.ZipFile(wheel) as z:
        member = next(n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime.so."))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".partial")
        tmp.write_bytes(z.read(member))
        tmp.replace(target)
    return target


def configure_and_build(build: Path, *extra: str, what: str, targets: tuple[str, ...] = ()) -> None:
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    # -O1: glue around ONNX Runtime, whose own optimised code does the work
    run(["cmake", "-S", REPO, "-B", build, *generator, "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_FLAGS_RELEASE=-O1",
         "-DCMAKE_C_FLAGS_RELEASE=-O1", "-DTRTMATTE_BUILD_PLUGINS=OFF", "-DTRTMATTE_BUILD_CPP=ON",
         "-DTRTMATTE_BUILD_EXAMPLES=OFF", "-DTRTMATTE_WITH_ONNXRUNTIME=ON", *extra], f"configuring {what}")
    run(["cmake", "--build", build, "-j2", *(a for t in targets for a in ("--target", t))], f"building {what}")


def missing_tools() -> list[str]:
    missing = [t for t in ("cmake", "aarch64-linux-gnu-g++", "aarch64-linux-gnu-gcc", "qemu-aarch64-static", "gcc")
               if shutil.which(t) is None]
    if not (SYSROOT / "lib" / "libc.so.6").is_file():
        missing.append(f"{SYSROOT}/lib/libc.so.6 (libc6-dev-arm64-cross)")
    return missing


@pytest.fixture(scope="module")
def tools():
    missing = missing_tools()
    if missing and os.geteuid() == 0:
        # The cross tools are not part of the default system packages: as root (CI), ask for them.
        run(["sh", REPO / "scripts" / "install-system-packages.sh", "--aarch64"],
            "installing the aarch64 cross tools", timeout=1200)
        missing = missing_tools()
    if missing:
        pytest.fail(f"missing for the aarch64 cross build: {', '.join(missing)}: {INSTALL_HINT}", pytrace=False)


@pytest.fixture(scope="module")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="trtmatte_aarch64_"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def ort_aarch64(tools):
    return aarch64_onnxruntime()


def cuda_headers_missing() -> str | None:
    if (CUDA_HOME / "include" / "cuda_runtime_api.h").is_file():
        return None
    return (f"TensorRT's headers include cuda_runtime_api.h: no CUDA toolkit headers at {CUDA_HOME} "
            "(set CUDA_HOME, or install the CUDA toolkit)")


@pytest.fixture(scope="module")
def aarch64_build(tools, workdir, ort_aarch64) -> Path:
    """cpp/ cross-built: libtrtmatte (ONNX Runtime backend), the unit tests, and (with the CUDA
    toolkit's headers) the TensorRT sources + FusedBlend plugin compile-checked against the
    TensorRT 10.3 headers. With plugins and examples off, the default target is exactly these."""
    check = []
    if not cuda_headers_missing():
        cudarts = sorted((CUDA_HOME / "lib64").glob("libcudart.so*")) + sorted((CUDA_HOME / "lib").glob("libcudart.so*"))
        cudart = next(iter(cudarts), None)
        check = [f"-DTRTMATTE_TENSORRT_CHECK_INCLUDE_DIRS={TENSORRT_10_3}", f"-DCUDAToolkit_ROOT={CUDA_HOME}",
                 # FindCUDAToolkit insists on a cudart library even though the check objects link nothing;
                 # no aarch64 one exists here, so it is handed the build machine's, which nothing links.
                 *([f"-DCUDA_CUDART={cudart}"] if cudart else [])]
    build = workdir / "aarch64"
    configure_and_build(
        build, f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}", "-DTRTMATTE_BUILD_TESTS=ON", "-DTRTMATTE_WITH_TENSORRT=OFF",
        f"-DTRTMATTE_ONNXRUNTIME_LIBRARY={ort_aarch64}", *check, what="cpp/ for aarch64")
    return build


@pytest.fixture(scope="module")
def x86_build(tools, workdir) -> Path:
    build = workdir / "x86_64"
    configure_and_build(build, "-DTRTMATTE_WITH_TENSORRT=OFF", what="cpp/ for x86-64", targets=("trtmatte",))
    return build


def compile_driver(build: Path, compiler: str, out: Path) -> Path:
    lib = build / "lib"
    run([compiler, "-O1", HERE / "matte_raw.c", "-I", REPO / "cpp" / "include", "-L", lib, "-ltrtmatte",
         f"-Wl,-rpath,{lib}", "-o", out], f"compiling matte_raw with {compiler}")
    return out


def test_cross_build_is_aarch64(aarch64_build):
    """libtrtmatte, the test programs, and the TensorRT backend + plugin objects (TensorRT 10.3) are aarch64."""
    missing = cuda_headers_missing()
    if missing:
        pytest.fail(f"the TensorRT 10.3 compile check was not built: {missing}", pytrace=False)
    library = (aarch64_build / "lib" / "libtrtmatte.so").resolve()
    programs = [aarch64_build / "bin" / n for n in ("test_sidecar", "test_compat", "test_buffers", "test_c_api", "check_plan")]
    checks = sorted(aarch64_build.glob("cpp/CMakeFiles/trtmatte_tensorrt_check_10_3_0.dir/**/*.o"))
    assert {p.name for p in checks} == {"tensorrt_library.cpp.o", "tensorrt_session.cpp.o", "FusedBlendPlugin.cpp.o"}, checks
    for path in [library, *programs, *checks]:
        assert elf_machine(path) == EM_AARCH64, f"{path} is not aarch64 (e_machine {elf_machine(path)})"


def test_unit_tests_pass_under_emulation(aarch64_build):
    """ctest runs each aarch64 test program through qemu-aarch64-static (the toolchain's emulator)."""
    r = run(["ctest", "--output-on-failure", "--test-dir", aarch64_build], "ctest (aarch64, emulated)", timeout=300)
    # sidecar, compat, buffers, lru_cache, c_api (no examples, no TensorRT backend in this build)
    assert "100% tests passed" in r.stdout and "out of 5" in r.stdout, r.stdout


@pytest.fixture(scope="module")
def photo_raw(workdir):
    """A small real photo (a 48x384 crop of scikit-image's immunohistochemistry, see CROP) as raw RGB."""
    data = pytest.importorskip("skimage.data", reason="scikit-image is needed for its bundled photos")

    rgb = np.ascontiguousarray(getattr(data, PHOTO)()[CROP])
    assert rgb.shape == (48, 384, 3), rgb.shape
    path = workdir / f"{PHOTO}.rgb"
    path.write_bytes(rgb.tobytes())
    return path, rgb


def test_onnxruntime_backend_end_to_end_under_emulation(aarch64_build, x86_build, ort_aarch64, photo_raw, workdir):
    """The aarch64 build mattes a real photo with onnxruntime's aarch64 library under qemu; its alpha
    equals the x86-64 build's (with the x86-64 onnxruntime wheel) within 1/255, and the x86-64
    build's equals onnxruntime's Python API on the same graph."""
    import onnxruntime

    path, rgb = photo_raw
    h, w = rgb.shape[:2]
    arm = compile_driver(aarch64_build, "aarch64-linux-gnu-gcc", workdir / "matte_raw_aarch64")
    x86 = compile_driver(x86_build, "gcc", workdir / "matte_raw_x86_64")
    assert elf_machine(arm) == EM_AARCH64 and elf_machine(x86) == EM_X86_64
    x86_ort = sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))[-1]
    outputs = {}
    for name, cmd, library in (("aarch64", ["qemu-aarch64-static", "-L", SYSROOT, arm], ort_aarch64),
                               ("x86_64", [x86], x86_ort)):
        out = workdir / f"alpha_{name}.raw"
        env = {**os.environ, "TRTMATTE_ONNXRUNTIME_LIBRARY": str(library)}
        r = run([*cmd, GRAPH, path, h, w, out], f"matte_raw ({name})", timeout=600, env=env)
        version = onnxruntime.__version__ if name == "x86_64" else pinned_onnxruntime()
        assert r.stdout.startswith(f"onnxruntime {version} ") and "late_fusion_lite" in r.stdout, r.stdout
        outputs[name] = np.frombuffer(out.read_bytes(), np.uint8).reshape(h, w)
    x86_alpha = outputs["x86_64"].astype(int)
    # a real matte, so equality below means something: measured a range of 28 over 26 levels (see CROP)
    assert x86_alpha.max() - x86_alpha.min() >= 20 and len(np.unique(x86_alpha)) >= 20, \
        f"alpha nearly constant (range {x86_alpha.min()}-{x86_alpha.max()}, {len(np.unique(x86_alpha))} levels)"
    session = onnxruntime.InferenceSession(str(GRAPH), providers=["CPUExecutionProvider"])
    python = session.run(None, {"image": rgb[None]})[0][0]
    assert np.abs(x86_alpha - python.astype(int)).max() <= 1, "the x86-64 build differs from onnxruntime's Python API"
    diff = np.abs(outputs["aarch64"].astype(int) - x86_alpha)
    assert diff.max() <= 1, \
        f"aarch64 alpha differs from x86-64 by up to {diff.max()}/255 ({np.count_nonzero(diff > 1)} pixels)"
