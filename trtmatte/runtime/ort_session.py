"""onnxruntime backend for exported whole-pipeline graphs: CPU by default; ``device="cuda"`` uses the
CUDA execution provider (onnxruntime-gpu) with I/O binding, so the output is written once into
memory onnxruntime owns instead of being staged per run."""
from __future__ import annotations

import os

import numpy as np

from .._lazy import require
from ..errors import TrtmatteError
from ..contract.metadata import stamped_precision
from ..contract.names import ALPHA, IMAGE, METADATA_PREFIX, TRIMAP
from ..contract.ort_rounding import has_float16_body
from .session import MattingSession, SessionInfo


def _load(ort, path, model, options, providers):
    """An InferenceSession of ``model`` (a path or serialized bytes), errors in one line."""
    try:
        return ort.InferenceSession(model, options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise TrtmatteError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}") from None


def _quantizing_in_float32(path) -> bytes:
    """The serialized graph at ``path`` with its float16 QuantizeLinear nodes in float32. Needs onnx
    (not in the core install): without it, one line says why and what to do instead."""
    from .._lazy import is_installed
    from ..contract.ort_rounding import FLOAT16_BODY, quantize_in_float32

    if not is_installed("onnx"):
        raise TrtmatteError(f"{path} {FLOAT16_BODY}: install onnx (pip install onnx) so trtmatte runs those nodes in "
                            "float32, or quantize with --int8-body fp32 for onnxruntime")
    from ..contract.graphio import load_onnx

    model = load_onnx(path, "running a float16-body INT8 graph in onnxruntime")
    quantize_in_float32(model)
    return model.SerializeToString()


class OrtSession(MattingSession):
    has_raw_outputs = True
    # onnxruntime's CPU memory arena keeps the largest run's memory for reuse; a server turns it off
    # for the process (serve/python_backend.py) so memory is given back after an outsized batch.
    MEMORY_ARENA = True

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, threads: int | None = None,
                 device: str = "cpu", memory_arena: bool | None = None):
        ort = require("onnxruntime", "the onnxruntime backend")
        if device not in ("cpu", "cuda"):
            raise TrtmatteError(f"unknown onnxruntime device {device!r}: use cpu or cuda")
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise TrtmatteError("--device cuda needs onnxruntime's CUDA execution provider, which this onnxruntime "
                                    "lacks (install onnxruntime-gpu instead of onnxruntime), or use --device cpu")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if not os.path.isfile(path):
            raise TrtmatteError(f"ONNX file {path} not found (create it with `trtmatte export`)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.enable_cpu_mem_arena = self.MEMORY_ARENA if memory_arena is None else memory_arena
        options.log_severity_level = 3  # warnings about unused initializers are not the user's problem
        providers = providers or ["CPUExecutionProvider"]
        self.path = os.fspath(path)
        self.session = _load(ort, path, str(path), options, providers)
        custom = self.session.get_modelmeta().custom_metadata_map
        if has_float16_body(custom):  # onnxruntime would truncate its float16 QuantizeLinear nodes
            self.session = _load(ort, path, _quantizing_in_float32(path), options, providers)
        inputs = self.session.get_inputs()
        self.input_names = [i.name for i in inputs]
        if self.input_names not in ([IMAGE], [IMAGE, TRIMAP]) or any(i.type != "tensor(uint8)" for i in inputs):
            raise TrtmatteError(f"{path} is not a trtmatte whole-pipeline graph (expects uint8 input '{IMAGE}', and "
                                f"'{TRIMAP}' for trimap models); export it with `trtmatte export`")
        self.needs_trimap = TRIMAP in self.input_names
        # onnxruntime hands out the graph's metadata_props itself: no onnx package needed to run a graph
        self.metadata = {k[len(METADATA_PREFIX):]: v for k, v in custom.items() if k.startswith(METADATA_PREFIX)}
        self.output_names = [o.name for o in self.session.get_outputs()]
        provider = self.session.get_providers()[0].replace("ExecutionProvider", "").lower()
        device = f"{provider} ({os.cpu_count()} cores)" if provider == "cpu" else provider
        self.io_binding = self.session.io_binding() if provider == "cuda" else None
        self.info = SessionInfo("onnxruntime", stamped_precision(self.metadata), device,
                                self.metadata.get("variant", "?"), ort.__version__)

    def run_raw_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> dict[str, np.ndarray]:
        feeds = {IMAGE: np.ascontiguousarray(images)}
        if trimap is not None:
            feeds[TRIMAP] = trimap
        try:
            if self.io_binding is not None:
                binding = self.io_binding
                for name, value in feeds.items():
                    binding.bind_cpu_input(name, value)
                for name in self.output_names:
                    binding.bind_output(name, "cpu")
                self.session.run_with_iobinding(binding)
                return dict(zip(self.output_names, binding.copy_outputs_to_cpu()))
            return dict(zip(self.output_names, self.session.run(None, feeds)))
        except Exception as exc:  # onnxruntime's Fail/RuntimeException (out of memory, a kernel's own check)
            raise TrtmatteError(f"onnxruntime failed to run {self.path} on {images.shape[0]} image(s) of "
                                f"{images.shape[1]}x{images.shape[2]}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                ) from None

    def run_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        alpha = self.run_raw_impl(images, trimap)[ALPHA]
        if alpha.dtype == np.uint8:
            return alpha.astype(np.float32) / 255.0
        return alpha.astype(np.float32)
