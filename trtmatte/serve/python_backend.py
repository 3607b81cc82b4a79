"""The Triton Python-backend model: a :class:`trtmatte.Matter` behind Triton's request API.

Triton runs this inside its Python-backend stub process; the repository's ``model.py`` is one
import of :class:`TritonPythonModel` (serve/repository.py writes it). The model's settings come
from ``parameters`` in config.pbtxt (the same model/backend flags as ``trtmatte matte``); model
files named there are resolved against the version folder, so a repository can be moved as a whole.

The file named by ``$TRTMATTE_SERVE_STATUS`` (set by ``trtmatte serve``, so no path of the server
shows in the model's config) receives, once the model is open, the backend Matter
chose and why, or the one-line error that stopped it: the server's parent process prints that
instead of Triton's "failed to load all models".

Tensors cross the stub through DLPack, not ``as_numpy()`` / ``Tensor(name, array)``: Triton 2.51's
stub converts NumPy arrays with pybind11 built against NumPy 1.x's ABI, which misreads NumPy 2
arrays (every input element read as the first one, outputs of size 0: measured here). DLPack is
the same zero-copy hand-over and is independent of NumPy's ABI, so it works with NumPy 1 and 2.
"""
from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path

import numpy as np

from ..errors import TrtmatteError
from .service import DEFAULT_MAX_BATCH_PIXELS, DEFAULT_MAX_PIXELS, MattingService, Request

MODEL_FILE_PARAMETERS = ("onnx", "engine", "weights", "trimap_model")
STATUS_ENV = "TRTMATTE_SERVE_STATUS"


# The stub marks a consumed capsule "used_dlpack" where the DLPack protocol says "used_dltensor";
# NumPy's capsule destructor then reports "PyCapsule_GetPointer called with incorrect name" once per
# output. Renaming it to the standard name after the hand-over makes the destructor the no-op it is
# meant to be (the stub owns the tensor by then and calls its deleter). The name must outlive every
# capsule, hence module level.
_USED_NAME = ctypes.create_string_buffer(b"used_dltensor")
_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.argtypes, _capsule_is_valid.restype = (ctypes.py_object, ctypes.c_char_p), ctypes.c_int
_capsule_set_name = ctypes.pythonapi.PyCapsule_SetName
_capsule_set_name.argtypes, _capsule_set_name.restype = (ctypes.py_object, ctypes.c_char_p), ctypes.c_int


def to_triton(pb_utils, name: str, array: np.ndarray):
    """A Triton output tensor from a NumPy array, through DLPack (see the module's docstring)."""
    capsule = np.ascontiguousarray(array).__dlpack__()
    tensor = pb_utils.Tensor.from_dlpack(name, capsule)
    if _capsule_is_valid(capsule, b"used_dlpack"):
        _capsule_set_name(capsule, _USED_NAME)
    return tensor


def from_triton(tensor) -> np.ndarray:
    return np.from_dlpack(tensor)


def read_parameters(model_config: dict) -> dict[str, str]:
    return {key: value.get("string_value", "") for key, value in model_config.get("parameters", {}).items()}


def resolve_model_files(params: dict[str, str], version_dir: Path) -> dict[str, str]:
    """Relative model paths are relative to the version folder (``1/model.onnx``)."""
    resolved = dict(params)
    for key in MODEL_FILE_PARAMETERS:
        if params.get(key):
            path = Path(params[key])
            resolved[key] = str(path if path.is_absolute() else version_dir / path)
    return resolved


def cpu_threads(params: dict[str, str], instances: int) -> int | None:
    """The ``threads`` parameter, else the cores shared out between the model's instances: Triton
    runs each Python-backend instance as its own process, and N onnxruntime (or PyTorch) pools of
    one thread per core each would oversubscribe the CPU N times. None: one instance, the
    library's default."""
    if params.get("threads"):
        return int(params["threads"])
    return max(1, (os.cpu_count() or 1) // instances) if instances > 1 else None


def open_service(params: dict[str, str], log=print, instances: int = 1) -> tuple[MattingService, object]:
    """(service, matter) from the config's parameters; ``instances``: the model's instance count."""
    from ..runtime.matter import Matter
    from ..runtime.ort_session import OrtSession
    from ..trimap import AutoTrimapOptions

    # No onnxruntime memory arena in a server: the arena keeps the peak of the largest batch ever
    # run (measured: 2.2 GB resident after one 1024x1024 image, never given back); without it each run's
    # memory is returned. This process runs only this model.
    OrtSession.MEMORY_ARENA = False
    auto = None
    if params.get("trimap") == "auto":
        auto = AutoTrimapOptions(float(params.get("trimap_confidence") or AutoTrimapOptions().confidence),
                                 int(params.get("trimap_dilate") or AutoTrimapOptions().dilation))
        auto.check()
    matter = Matter(params.get("backend") or "auto", onnx=params.get("onnx") or None,
                    engine=params.get("engine") or None, weights=params.get("weights") or None,
                    variant=params.get("variant") or None, device=params.get("device") or None,
                    precision=params.get("precision") or "fp32", max_side=int(params.get("max_side") or 0) or None, log=log, auto_trimap=auto,
                    trimap_model=params.get("trimap_model") or None, threads=cpu_threads(params, instances))
    service = MattingService(matter, max_pixels=int(params.get("max_pixels") or DEFAULT_MAX_PIXELS),
                             max_batch_pixels=int(params.get("max_batch_pixels") or DEFAULT_MAX_BATCH_PIXELS),
                             needs_trimap=matter.needs_trimap, model=f"the {matter.info.variant} model")
    return service, matter


def write_status(path: str, status: dict) -> None:
    if not path:
        return
    tmp = f"{path}.{os.getpid()}.part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(status, f)
    os.replace(tmp, path)


def read_request(pb_utils, request) -> Request:
    """A service Request; a request without ``image`` (Triton lets one through when it carries the
    optional ``trimap`` only) has images None, which the service refuses by name."""
    image = pb_utils.get_input_tensor_by_name(request, "image")
    trimap = pb_utils.get_input_tensor_by_name(request, "trimap")
    return Request(None if image is None else from_triton(image), None if trimap is None else from_triton(trimap),
                   want_rgba="rgba" in request.requested_output_names())


class TritonPythonModel:
    """Triton's Python-backend interface (initialize / execute / finalize)."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        version_dir = Path(args["model_repository"]) / args["model_version"]
        params = resolve_model_files(read_parameters(config), version_dir)
        status_file = os.environ.get(STATUS_ENV, "")
        if args.get("model_instance_kind") == "GPU":
            # one instance per listed GPU (instance_group gpus): this stub process sees only its own
            os.environ["CUDA_VISIBLE_DEVICES"] = str(args.get("model_instance_device_id", "0"))
        try:
            groups = config.get("instance_group", [])
            instances = sum(int(g.get("count", 1)) * max(1, len(g.get("gpus", []))) for g in groups) or 1
            self.service, self.matter = open_service(params, instances=instances)
        except TrtmatteError as exc:
            write_status(status_file, {"error": str(exc)})
            raise
        info = self.matter.info
        write_status(status_file, {"backend": self.matter.backend, "reason": self.matter.reason,
                                   "variant": info.variant, "label": info.label,
                                   "needs_trimap": self.service.needs_trimap, "instance": args.get("model_instance_name")})
        print(f"trtmatte: {args.get('model_instance_name')}: {self.matter.reason}", flush=True)

    def execute(self, requests):
        import triton_python_backend_utils as pb_utils

        try:
            replies = self.service.handle([read_request(pb_utils, request) for request in requests])
        except Exception as exc:  # noqa: BLE001 -- a bug must not reach a client as a traceback with paths
            message = f"trtmatte: internal error ({type(exc).__name__}): see the server's log"
            print(f"trtmatte: execute failed: {exc!r}", flush=True)
            error = pb_utils.TritonError(message, pb_utils.TritonError.INTERNAL)
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        for reply in replies:
            if reply.error:
                code = pb_utils.TritonError.INVALID_ARG if reply.invalid else pb_utils.TritonError.INTERNAL
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(reply.error, code)))
                continue
            tensors = [to_triton(pb_utils, "alpha", reply.alpha)]
            if reply.rgba is not None:
                tensors.append(to_triton(pb_utils, "rgba", reply.rgba))
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def finalize(self) -> None:
        self.matter.close()
