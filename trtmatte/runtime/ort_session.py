"""onnxruntime backend for exported whole-pipeline graphs (CPU by default)."""
from __future__ import annotations

import os

import numpy as np

from .._lazy import require
from ..errors import TrtmatteError
from .session import MattingSession, SessionInfo


def read_graph_metadata(path: str | os.PathLike) -> dict[str, str]:
    """trtmatte's ``metadata_props`` of an exported graph, without loading the weights."""
    onnx = require("onnx", "reading ONNX metadata")
    model = onnx.load(str(path), load_external_data=False)
    return {p.key[len("trtmatte."):]: p.value for p in model.metadata_props if p.key.startswith("trtmatte.")}


class OrtSession(MattingSession):
    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, threads: int | None = None):
        ort = require("onnxruntime", "the onnxruntime backend")
        if not os.path.isfile(path):
            raise TrtmatteError(f"ONNX file {path} not found (create it with `trtmatte export`)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3  # warnings about unused initializers are not the user's problem
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise TrtmatteError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}") from None
        inputs = self.session.get_inputs()
        if [i.name for i in inputs] != ["image"] or inputs[0].type != "tensor(uint8)":
            raise TrtmatteError(f"{path} is not a trtmatte whole-pipeline graph (expects one uint8 input 'image'); "
                                "export it with `trtmatte export`")
        self.metadata = read_graph_metadata(path)
        self.output_names = [o.name for o in self.session.get_outputs()]
        provider = self.session.get_providers()[0].replace("ExecutionProvider", "").lower()
        device = f"{provider} ({os.cpu_count()} cores)" if provider == "cpu" else provider
        self.info = SessionInfo("onnxruntime", "fp32", device, self.metadata.get("variant", "?"), ort.__version__)

    def run_raw(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """All graph outputs as the graph produces them (alpha may be uint8 x255)."""
        images = self.check_images(images)
        return dict(zip(self.output_names, self.session.run(None, {"image": images})))

    def run(self, images: np.ndarray) -> np.ndarray:
        alpha = self.run_raw(images)["alpha"]
        if alpha.dtype == np.uint8:
            return alpha.astype(np.float32) / 255.0
        return alpha.astype(np.float32)
