"""The fused-blend kernel's per-pixel code (plugins/fused_blend/blend_math.h), run on the CPU through
libtrtmatte_blend_cpu.so and compared with an independent NumPy reference; the CMake build, with
device code checked for every listed GPU architecture. The kernel itself runs on a GPU only
(tests/gpu/plugin_kernel.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError
from trtmatte.fused_blend import library
from trtmatte.fused_blend.fatbin import architectures
from trtmatte.fused_blend.blend_op import FusedBlendAttrs, reference_alpha

from helpers.plugin_build import built_library, cmake_build

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURES = [75, 80, 86, 87, 89, 90, 120]
NVCC = os.environ.get("CUDACXX") or shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc") else None)


@pytest.fixture(scope="session")
def cpu_lib():
    return built_library(library.CPU_LIBRARY)


def inputs(shape, dtype, seed=0, scale=6.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * scale).astype(dtype) for _ in range(3)]


def check_against_reference(out, ref, alpha_dtype):
    assert out.dtype == ref.dtype and out.shape == ref.shape
    if alpha_dtype == "uint8":
        diff = np.abs(out.astype(int) - ref.astype(int))
        assert diff.max() <= 1  # float32 vs float64 at a .5 rounding boundary
        assert (diff == 0).mean() > 0.999
    elif alpha_dtype == "float16":
        assert np.abs(out.astype(np.float64) - ref.astype(np.float64)).max() <= 2 ** -11  # one half-ulp at 1.0
    else:
        assert np.abs(out.astype(np.float64) - ref.astype(np.float64)).max() <= 1e-6


# ---- the math: all dtype combinations, both input kinds ----

@pytest.mark.parametrize("in_dtype", ["float32", "float16"])
@pytest.mark.parametrize("alpha_dtype", ["float32", "float16", "uint8"])
@pytest.mark.parametrize("logits", [True, False])
def test_math_matches_numpy(cpu_lib, in_dtype, alpha_dtype, logits):
    fg, bg, beta = inputs((2, 1, 37, 53), in_dtype)  # odd sizes
    if not logits:  # probabilities in [0, 1] incl. exact 0 and 1
        fg, bg = (np.clip(a / 12 + 0.5, 0, 1).astype(in_dtype) for a in (fg, bg))
    attrs = FusedBlendAttrs(fg_bg_logits=logits, alpha_dtype=alpha_dtype)
    out = library.run_cpu(fg, bg, beta, attrs, cpu_lib)
    ref = reference_alpha(fg, bg, beta, attrs)
    check_against_reference(out, ref, alpha_dtype)
    assert np.unique(out).size > 50  # a real spread of values, not a constant


def test_blend_formula_and_edges(cpu_lib):
    """Probabilities 0/1 and beta logits +-inf give exact eq. 2 values; large logits do not overflow."""
    f = np.array([0, 1, 0, 1, 1, 0, 0.25], np.float32).reshape(1, 1, 1, -1)
    b = np.array([0, 0, 1, 1, 0, 1, 0.5], np.float32).reshape(1, 1, 1, -1)
    t = np.array([np.inf, np.inf, -np.inf, -np.inf, 0, 0, 100], np.float32).reshape(1, 1, 1, -1)
    out = library.run_cpu(f, b, t, FusedBlendAttrs(fg_bg_logits=False), cpu_lib).ravel()
    # beta=1 -> F; beta=0 -> 1-B; beta=0.5 -> mean
    np.testing.assert_array_equal(out, [0, 1, 0, 0, 1, 0, 0.25])
    big = np.array([-100, 100, -1e30, 1e30, -np.inf, np.inf], np.float32).reshape(1, 1, 1, -1)
    for dtype in ("float32", "float16"):
        with np.errstate(over="ignore"):
            x = big.astype(dtype)  # +-1e30 -> +-inf in float16
        for alpha_dtype in ("float32", "float16", "uint8"):
            attrs = FusedBlendAttrs(alpha_dtype=alpha_dtype)
            out = library.run_cpu(x, -x, x, attrs, cpu_lib).ravel()  # F = B' = beta -> 1 or 0
            assert np.isfinite(out.astype(np.float32)).all()
            np.testing.assert_array_equal(out, reference_alpha(x, -x, x, attrs).ravel())
            assert set(out.astype(float).tolist()) <= {0.0, 1.0, 255.0}


def test_clamp_applies_to_probabilities_out_of_range(cpu_lib):
    f = np.array([2.0, -1.0], np.float32).reshape(1, 1, 1, 2)
    out = library.run_cpu(f, np.zeros_like(f) + 1, np.full_like(f, 50), FusedBlendAttrs(fg_bg_logits=False), cpu_lib)
    np.testing.assert_array_equal(out.ravel(), [1.0, 0.0])


def test_nan_handling(cpu_lib):
    """Documented: NaN in any input -> NaN in float outputs (the clamp lets it through), 0 in uint8."""
    x = np.array([np.nan, 0.0, 0.0], np.float32).reshape(1, 1, 1, 3)
    for args in ((x, np.zeros_like(x), np.zeros_like(x)), (np.zeros_like(x), x, np.zeros_like(x)),
                 (np.zeros_like(x), np.zeros_like(x), x)):
        for alpha_dtype in ("float32", "float16"):
            out = library.run_cpu(*args, FusedBlendAttrs(alpha_dtype=alpha_dtype), cpu_lib).ravel()
            assert np.isnan(out[0]) and not np.isnan(out[1:]).any()
        out = library.run_cpu(*args, FusedBlendAttrs(alpha_dtype="uint8"), cpu_lib).ravel()
        assert out[0] == 0 and (out[1:] == 128).all()  # sigmoid(0) = 0.5 everywhere -> 127.5 -> 128 (half to even)


@pytest.mark.parametrize("shape,crop", [((3, 1, 7, 9), (5, 4)), ((1, 1, 33, 1), (1, 1)), ((2, 1, 8, 8), (8, 8))])
def test_crop_keeps_top_left(cpu_lib, shape, crop):
    fg, bg, beta = inputs(shape, "float32", seed=1)
    for alpha_dtype in ("float32", "uint8"):
        attrs = FusedBlendAttrs(alpha_dtype=alpha_dtype, crop_hw=crop)
        out = library.run_cpu(fg, bg, beta, attrs, cpu_lib)
        assert out.shape == (shape[0], 1, *crop)
        full = library.run_cpu(fg, bg, beta, FusedBlendAttrs(alpha_dtype=alpha_dtype), cpu_lib)
        np.testing.assert_array_equal(out, full[:, :, : crop[0], : crop[1]])


@pytest.mark.parametrize("shape", [(0, 1, 5, 5), (2, 1, 0, 7), (1, 1, 4, 0)])
def test_empty_tensors(cpu_lib, shape):
    fg, bg, beta = (np.zeros(shape, np.float16) for _ in range(3))
    out = library.run_cpu(fg, bg, beta, FusedBlendAttrs(alpha_dtype="uint8"), cpu_lib)
    assert out.shape == shape and out.size == 0


def test_bad_arguments_rejected(cpu_lib):
    lib = library.load_cpu_library(cpu_lib)
    buf = np.zeros(16, np.float32)
    p = buf.ctypes.data
    assert lib.trtmatte_fused_blend_cpu(p, p, p, 0, p, 0, 1, 2, 2, 2, 2, 1) == 0
    for args in ((p, p, p, 7, p, 0, 1, 2, 2, 2, 2, 1),  # unknown input dtype
                 (p, p, p, 2, p, 0, 1, 2, 2, 2, 2, 1),  # uint8 is an output dtype only
                 (p, p, p, 0, p, 0, 1, 2, 2, 3, 2, 1),  # crop larger than the input
                 (p, p, p, 0, p, 0, -1, 2, 2, 2, 2, 1),  # negative size
                 (None, p, p, 0, p, 0, 1, 2, 2, 2, 2, 1)):  # null pointer, non-empty
        assert lib.trtmatte_fused_blend_cpu(*args) == 1, args
    with pytest.raises(ValueError, match="crop_hw"):
        library.run_cpu(*inputs((1, 1, 3, 3), "float32"), FusedBlendAttrs(crop_hw=(4, 4)), cpu_lib)


# ---- the FP16 conversions the CPU twin uses (the GPU uses CUDA's intrinsics, also round-to-nearest-even) ----

def test_half_to_float_exhaustive(cpu_lib):
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    ours = library.half_to_float(bits, cpu_lib)
    ref = bits.view(np.float16).astype(np.float32)
    nan = np.isnan(ref)
    assert (np.isnan(ours) == nan).all()
    np.testing.assert_array_equal(ours[~nan].view(np.uint32), ref[~nan].view(np.uint32))  # signed zeros too


def test_float_to_half_round_to_nearest_even(cpu_lib):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    # plus every half value, the midpoints between neighbours (ties), and the overflow/underflow edges
    halves = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    halves = halves[np.isfinite(halves)]
    mids = np.nextafter(halves, np.inf, dtype=np.float32)
    ties = ((halves[:-1].astype(np.float64) + halves[1:]) / 2).astype(np.float32)
    edges = np.array([65504, 65519.99, 65520, 1e9, 2**-24, 2**-25, 2**-25 * 1.0001, 2**-26, 0.0, -0.0, np.inf], np.float32)
    values = np.concatenate([raw, halves, mids, ties, edges, -edges])
    ours = library.float_to_half(values, cpu_lib)
    with np.errstate(over="ignore"):
        ref = values.astype(np.float16)
    nan = np.isnan(values)
    assert np.isnan(ours[nan].view(np.float16)).all()
    np.testing.assert_array_equal(ours[~nan], ref[~nan].view(np.uint16))


# ---- build ----

def test_cmake_builds_device_code_for_every_architecture():
    if NVCC is None:
        pytest.skip("nvcc not found (install the CUDA toolkit, or set CUDACXX): only the CPU library was built")
    build, seconds = cmake_build()
    kernel = build / "lib" / library.KERNEL_LIBRARY
    assert kernel.is_file()
    found = architectures(kernel)
    assert found["sass"] == ARCHITECTURES, found
    assert set(found["ptx"]) >= {max(ARCHITECTURES)}  # forward compatibility with GPUs after sm_120
    assert architectures(build / "lib" / library.CPU_LIBRARY) == {"sass": [], "ptx": []}
    assert seconds < 300, f"configure + build took {seconds:.0f} s"
    # the loader accepts the built kernel library (its ABI version matches) without a GPU
    assert library.load_kernel_library(str(kernel)).trtmatte_fused_blend_abi_version() == library.ABI_VERSION


def test_cmake_says_in_one_line_that_tensorrt_is_missing():
    if NVCC is None:
        pytest.skip("nvcc not found: the TensorRT check is after the CUDA one")
    build, _ = cmake_build()
    cache = (build / "CMakeCache.txt").read_text()
    if "TensorRT_INCLUDE_DIR:PATH=TensorRT_INCLUDE_DIR-NOTFOUND" not in cache:
        pytest.skip("TensorRT headers are installed here: the plugin library was built instead")
    r = subprocess.run(["cmake", str(build)], capture_output=True, text=True, timeout=300)
    lines = [line for line in r.stdout.splitlines() if "TensorRT" in line]
    assert len(lines) == 1 and "-DTensorRT_ROOT" in lines[0] and "not the FusedBlend plugin" in lines[0]
    assert not (build / "lib" / library.PLUGIN_LIBRARY).exists()


# ---- loading errors ----

def test_missing_library_error_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv(library.ENV_DIR, str(tmp_path))
    monkeypatch.setattr(library, "REPO", tmp_path / "no_checkout")
    with pytest.raises(TrtmatteError) as err:
        library.find_library(library.KERNEL_LIBRARY)
    msg = str(err.value)
    assert "\n" not in msg and "cmake -S . -B build && cmake --build build" in msg and library.ENV_DIR in msg
    with pytest.raises(TrtmatteError, match="TensorRT headers are needed too"):
        library.plugin_library_path()


def test_wrong_library_error_says_how_to_build(tmp_path, cpu_lib):
    junk = tmp_path / library.CPU_LIBRARY
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(TrtmatteError, match=r"cannot load .*: rebuild it; build it with `cmake -S \. -B build"):
        library.load_cpu_library(str(junk))
    # a real library without the expected entry points (the CPU library is not the kernel library)
    with pytest.raises(TrtmatteError, match="trtmatte_fused_blend.*rebuild it") as err:
        library.load_kernel_library(cpu_lib)
    assert "\n" not in str(err.value)


# ---- the kernel itself, where a GPU exists (tests/gpu/plugin_kernel.py does it at scale) ----

@pytest.mark.gpu  # no GPU: skipped by tests/conftest.py before cpu_lib builds anything
@pytest.mark.parametrize("in_dtype", ["float32", "float16"])
@pytest.mark.parametrize("alpha_dtype", ["float32", "float16", "uint8"])
def test_kernel_on_gpu_matches_cpu_twin(cpu_lib, in_dtype, alpha_dtype):
    torch = pytest.importorskip("torch", reason="PyTorch allocates the kernel's device buffers; not installed")
    if not torch.cuda.is_available():
        pytest.skip("needs PyTorch with CUDA to hold the kernel's buffers: this torch sees no CUDA GPU (a CPU-only build?)")
    kernel = built_library(library.KERNEL_LIBRARY)
    torch_dtype = {"float32": torch.float32, "float16": torch.float16, "uint8": torch.uint8}
    for shape, crop, offset in (((2, 1, 37, 53), (0, 0), 0), ((1, 1, 64, 64), (0, 0), 1), ((2, 1, 37, 53), (30, 41), 0)):
        attrs = FusedBlendAttrs(alpha_dtype=alpha_dtype, crop_hw=crop)
        host = inputs(shape, in_dtype, seed=5)
        size = int(np.prod(shape))
        # offset > 0 misaligns every pointer: the scalar path instead of the 4-wide loads
        dev = [torch.from_numpy(a.reshape(-1)).cuda() for a in host]
        dev = [torch.cat([torch.zeros(offset, dtype=d.dtype, device="cuda"), d])[offset:offset + size] for d in dev]
        out_shape = (shape[0], 1, *(crop if attrs.cropped else shape[2:]))
        out = torch.empty(int(np.prod(out_shape)) + offset, dtype=torch_dtype[alpha_dtype], device="cuda")[offset:]
        library.launch(dev[0].data_ptr(), dev[1].data_ptr(), dev[2].data_ptr(), in_dtype, out.data_ptr(), shape, attrs,
                       torch.cuda.current_stream().cuda_stream, kernel)
        torch.cuda.synchronize()
        got = out.cpu().numpy().reshape(out_shape)
        want = library.run_cpu(*host, attrs, cpu_lib)
        assert np.abs(got.astype(np.float64) - want.astype(np.float64)).max() <= (1 if alpha_dtype == "uint8" else 2e-6 if alpha_dtype == "float32" else 2 ** -11)
