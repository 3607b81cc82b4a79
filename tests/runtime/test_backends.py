"""One session interface for every backend: onnxruntime end to end on a tiny exported graph, the
PyTorch CPU session through the pipeline, Matter's backend choice, and the CUDA layer's one-line
error on a machine without a GPU."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trtmatte.errors import TrtmatteError
from trtmatte.models import get_config
from trtmatte.runtime.matter import Environment, Matter, candidates
from trtmatte.runtime.pipelined import Pipeline, as_submitter

from helpers.tiny_model import TinyMatting

PRE = get_config("late_fusion").preprocessing
CPU_ONLY = Environment(tensorrt=None, gpu=None, ort_cuda=False, torch_cuda=False)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    for module in ("onnxruntime", "onnx", "onnxscript", "onnxsim"):
        pytest.importorskip(module, reason=f"{module} is needed to export and run the tiny graph (pip install -e '.[test]')")
    from trtmatte.export import ExportOptions, export_onnx

    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    export_onnx(TinyMatting(), "late_fusion", PRE, path, ExportOptions(alpha_dtype="float32"))
    return path


def reference(images):
    from trtmatte.runtime.torch_session import TorchSession

    return TorchSession(TinyMatting().eval(), PRE, "tiny").run(images)


def test_onnxruntime_backend_end_to_end(tiny_onnx):
    from trtmatte.runtime import OrtSession

    session = OrtSession(tiny_onnx)
    assert session.info.backend == "onnxruntime" and session.info.precision == "fp32"
    assert session.info.device.startswith("cpu")
    x = np.random.default_rng(0).integers(0, 256, (2, 45, 70, 3), dtype=np.uint8)
    alpha, timing = session.run_timed(x)
    assert alpha.shape == (2, 45, 70) and alpha.dtype == np.float32 and timing.total_s > 0
    assert timing.compute_s is None  # a CPU backend has no H2D/D2H split to report
    assert np.abs(alpha - reference(x)).max() < 1e-5
    # and pipelined: the serial backend keeps order and isolates a bad item
    items = [x[:1], np.zeros((1, 10, 10), np.uint8), x[1:]]
    results = list(Pipeline(as_submitter(session)).run(items))
    assert [r.ok for r in results] == [True, False, True]
    assert "images must be [N, H, W, 3]" in str(results[1].error)
    assert np.array_equal(results[2].value, alpha[1:])


def test_threads_reach_onnxruntime_and_are_checked(tiny_onnx):
    from trtmatte import Matter

    with Matter("onnxruntime", onnx=tiny_onnx, threads=1) as one, Matter("onnxruntime", onnx=tiny_onnx) as default:
        assert one.session.session.get_session_options().intra_op_num_threads == 1
        assert default.session.session.get_session_options().intra_op_num_threads == 0  # onnxruntime's: per core
    with pytest.raises(TrtmatteError, match="--threads must be at least 1"):
        Matter("onnxruntime", onnx=tiny_onnx, threads=0)


def test_onnxruntime_run_failure_is_one_line(tiny_onnx, monkeypatch):
    """A failure inside onnxruntime's run (out of memory, a kernel's own check) names the graph and
    the batch instead of surfacing onnxruntime's exception."""
    from onnxruntime.capi.onnxruntime_pybind11_state import RuntimeException

    from trtmatte.runtime import OrtSession

    session = OrtSession(tiny_onnx)

    def fail(*args, **kwargs):
        raise RuntimeException("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code\nstack")
    monkeypatch.setattr(session.session, "run", fail)
    with pytest.raises(TrtmatteError) as err:
        session.run(np.zeros((2, 45, 70, 3), np.uint8))
    message = str(err.value)
    assert "\n" not in message and str(tiny_onnx) in message and "2 image(s) of 45x70" in message
    assert "RUNTIME_EXCEPTION" in message and err.value.__cause__ is None


def test_onnxruntime_cuda_without_provider_is_one_line(tiny_onnx):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider; the error path needs one without it")
    from trtmatte.runtime import OrtSession

    with pytest.raises(TrtmatteError, match="CUDA execution provider.*onnxruntime-gpu"):
        OrtSession(tiny_onnx, device="cuda")


def test_torch_cpu_session_submit_collect_and_refusals():
    from trtmatte.runtime.torch_session import TorchSession

    session = TorchSession(TinyMatting().eval(), PRE, "tiny")
    x = np.random.default_rng(1).integers(0, 256, (1, 40, 50, 3), dtype=np.uint8)
    session.submit(0, x)
    assert np.array_equal(session.collect(0), session.run(x))
    assert session.info.label.startswith("torch ") and "PyTorch-CUDA" not in session.info.device
    with pytest.raises(TrtmatteError, match="fp16 on the torch backend needs --device cuda"):
        TorchSession(TinyMatting(), PRE, "tiny", precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(TrtmatteError, match="no usable CUDA GPU; use --device cpu"):
            TorchSession(TinyMatting(), PRE, "tiny", device="cuda")


@pytest.mark.parametrize("env,kwargs,first,skipped", [
    (CPU_ONLY, {"onnx": "m.onnx"}, ("onnxruntime", "cpu"), ["tensorrt: not installed", "torch: needs --weights"]),
    (Environment("tensorrt_rtx", None, False, False), {"onnx": "m.onnx"}, ("onnxruntime", "cpu"),
     ["tensorrt: no CUDA GPU"]),
    (Environment("tensorrt", "NVIDIA H100", True, True), {"onnx": "m.onnx"}, ("tensorrt", "NVIDIA H100"), []),
    (Environment(None, "NVIDIA H100", True, True), {"onnx": "m.onnx"}, ("onnxruntime", "cuda"), ["tensorrt: not installed"]),
    (Environment(None, "NVIDIA H100", False, True), {"weights": "w.safetensors"}, ("torch", "cuda"),
     ["onnxruntime: needs --onnx"]),
    (Environment(None, "NVIDIA H100", False, True), {"weights": "w", "device": "cpu"}, ("torch", "cpu"), []),
    (CPU_ONLY, {"variant": "late_fusion", "random_weights": True}, ("torch", "cpu"), []),
])
def test_auto_prefers_tensorrt_then_onnxruntime_then_torch(env, kwargs, first, skipped):
    cands, passed = candidates("auto", env, **kwargs)
    assert (cands[0].backend, cands[0].device) == first
    for s in skipped:
        assert s in passed


def test_explicit_backend_and_unknown_backend():
    cands, passed = candidates("torch", CPU_ONLY, onnx="m.onnx")
    assert cands == [] and passed == ["torch: needs --weights"]
    with pytest.raises(TrtmatteError, match="unknown backend 'tensorflow'"):
        candidates("tensorflow", CPU_ONLY)


def test_matter_picks_onnxruntime_here_and_says_why(tiny_onnx):
    with Matter(onnx=tiny_onnx, env=Environment("tensorrt_rtx", None, False, False)) as matter:
        assert matter.backend == "onnxruntime"
        assert matter.reason.startswith("onnxruntime on cpu: no CUDA execution provider")
        assert "tensorrt: no CUDA GPU" in matter.reason
        x = np.random.default_rng(2).integers(0, 256, (33, 40, 3), dtype=np.uint8)
        assert matter(x).shape == (1, 33, 40)


def test_matter_falls_back_when_a_candidate_fails(tiny_onnx):
    # TensorRT "present" with a GPU, but the engine cannot open here: auto moves on and says why.
    env = Environment("tensorrt_rtx", "NVIDIA H100", False, False)
    with Matter(engine=tiny_onnx.with_suffix(".plan"), onnx=tiny_onnx, env=env) as matter:
        assert matter.backend == "onnxruntime"
        assert "passed over: " in matter.reason and "tensorrt: engine" in matter.reason
    with pytest.raises(TrtmatteError, match="engine .* not found"):
        Matter("tensorrt", engine=tiny_onnx.with_suffix(".plan"), env=env)


def test_matter_with_nothing_to_run(monkeypatch, tmp_path):
    from trtmatte.checkpoints import bundled

    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path)  # an installation without the demo model
    with pytest.raises(TrtmatteError, match="no backend can run .*give --onnx MODEL.onnx"):
        Matter(env=CPU_ONLY)


def test_matter_falls_back_to_the_bundled_model():
    from trtmatte.checkpoints.bundled import bundled_graph_path, bundled_path

    assert bundled_graph_path().is_file() and bundled_path().is_file()  # both ship with the package
    image = np.full((40, 56, 3), 128, np.uint8)
    # on the CPU, onnxruntime on the bundled graph (no torch needed) ...
    with Matter(env=CPU_ONLY) as matter:
        assert matter.backend == "onnxruntime" and matter.session.metadata["variant"] == "late_fusion_lite"
        from_graph = matter(image)
        assert from_graph.shape == (1, 40, 56) and 0 <= from_graph.min() <= from_graph.max() <= 1
    # ... and the same model from its checkpoint on PyTorch, when asked for
    with Matter("torch", env=CPU_ONLY) as matter:
        assert str(bundled_path()) in matter.session.weights_note
        assert np.abs(matter(image) - from_graph).max() <= 1 / 255 + 1e-6


def test_bundled_graph_is_the_export_of_the_bundled_checkpoint():
    from trtmatte.checkpoints.bundled import bundled_graph_path, bundled_path
    from trtmatte.contract import read_metadata_file
    from trtmatte.fileio import sha256_file

    meta = read_metadata_file(bundled_graph_path())
    assert meta["weights_sha256"] == sha256_file(bundled_path())
    assert meta["variant"] == "late_fusion_lite" and meta["alpha_dtype"] == "uint8"
    # the working-size range, set at export from the training recipe (its --crop): smaller inputs go up to it
    import json

    from trtmatte.checkpoints.bundled import read_provenance
    from trtmatte.checkpoints.native import recipe_min_side

    assert json.loads(meta["preprocessing"])["min_side"] == recipe_min_side(read_provenance(bundled_path())) == 384


def test_auto_ranks_gpu_paths_before_cpu_paths():
    env = Environment(None, "NVIDIA H100", False, True)  # PyTorch-CUDA, onnxruntime CPU only
    cands, _ = candidates("auto", env, onnx="m.onnx", weights="w.safetensors")
    assert [(c.backend, c.device) for c in cands] == [("torch", "cuda"), ("onnxruntime", "cpu")]
    cands, _ = candidates("auto", CPU_ONLY, onnx="m.onnx", weights="w.safetensors")
    assert [(c.backend, c.device) for c in cands] == [("onnxruntime", "cpu"), ("torch", "cpu")]


def test_matter_run_files_in_order_with_a_bad_file(tiny_onnx, tmp_path):
    from PIL import Image

    paths = []
    for i, (h, w) in enumerate([(30, 40), (20, 20), (50, 30)]):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)).save(p)
        paths.append(p)
    paths.insert(1, tmp_path / "missing.png")
    with Matter(onnx=tiny_onnx, env=CPU_ONLY) as matter:
        results = list(matter.run_files(paths))
    assert [r.ok for r in results] == [True, False, True, True]
    assert results[1].stage == "prepare" and "missing.png" in str(results[1].error)
    assert [r.value.shape for r in results if r.ok] == [(30, 40), (20, 20), (50, 30)]


def test_import_trtmatte_stays_light_and_exports_matter():
    import subprocess
    import sys

    code = ("import sys, trtmatte; heavy = [m for m in ('torch', 'onnxruntime', 'cuda.bindings') if m in sys.modules];"
            "print(heavy); from trtmatte import Matter; print(Matter.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.split()
    assert out == ["[]", "Matter"]


def test_cuda_layer_without_gpu_is_one_line():
    pytest.importorskip("cuda.bindings.runtime", reason="cuda-python is not installed (pip install -e '.[gpu]')")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present; this checks the no-GPU error")
    from trtmatte.runtime.cuda import CudaError, CudaRuntime

    with pytest.raises(CudaError) as info:
        CudaRuntime()
    msg = str(info.value)
    assert msg.split(":")[0] in ("cudaErrorNoDevice", "cudaErrorInsufficientDriver") and "\n" not in msg
    assert "use --backend onnxruntime or --device cpu" in msg


def test_cuda_call_names_the_error():
    from trtmatte.runtime.cuda import CudaError, cuda_call

    class Err:
        name, value = "cudaErrorMemoryAllocation", 2
    with pytest.raises(CudaError, match="^cudaErrorMemoryAllocation \\(in cudaMalloc\\)$"):
        cuda_call((Err(), None), "cudaMalloc")

    class Ok:
        name, value = "cudaSuccess", 0
    assert cuda_call((Ok(), 42), "x") == 42 and cuda_call((Ok(),), "y") is None
    assert cuda_call((Ok(), 1, 2), "z") == (1, 2)


def test_matte_cli_backend_auto(tiny_onnx, tmp_path, capsys):
    from PIL import Image

    from trtmatte.cli.main import main

    src, out = tmp_path / "in.png", tmp_path / "alpha.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(src)
    assert main(["matte", str(src), "-o", str(out), "--backend", "auto", "--onnx", str(tiny_onnx)]) == 0
    printed = capsys.readouterr().out
    assert "backend: onnxruntime" in printed and "auto: onnxruntime on cpu" in printed
    assert np.asarray(Image.open(out)).shape == (40, 52)
