"""``trtmatte.Matter``: one object that picks the best backend available and says why.

    from trtmatte import Matter
    matter = Matter()                               # the bundled demo model; or onnx=, engine=, weights=
    print(matter.reason)                            # e.g. "onnxruntime on cpu: ... (tensorrt: not installed)"
    alpha = matter.matte("photo.jpg")               # path, PIL image or uint8 array -> float alpha [H, W]
    cutout = matter.cutout("photo.jpg")             # uint8 RGBA with estimated foreground colours
    jobs.matte_video(matter, "clip.mp4", "alpha.mp4")  # trtmatte.jobs: frame by frame, audio copied
    alpha = matter(images)                          # uint8 [H, W, 3] or [N, H, W, 3] -> float alpha [N, H, W]
    for r in matter.run_files(paths): ...           # pipelined: decode ahead, results in input order

``auto`` runs the fastest backend it can open, GPU paths first: TensorRT (an engine, or an ONNX
graph built once into a cached engine) when TensorRT and a GPU are present, onnxruntime's CUDA
provider, PyTorch on CUDA; then on the CPU onnxruntime before PyTorch. A candidate that fails to
open is skipped with its reason.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .._lazy import INSTALL_HINTS
from ..errors import TrtmatteError
from ..shapes import check_max_side
from ..trimap import AutoTrimapOptions
from .session import Batch, MattingSession, renamed_keywords

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
DEVICES = ("cpu", "cuda")
TORCH_PRECISIONS = ("fp32", "fp16", "fp16-autocast")  # other backends take precision from the graph or engine
RANK = {("tensorrt", "gpu"): 0, ("onnxruntime", "gpu"): 1, ("torch", "gpu"): 2, ("onnxruntime", "cpu"): 3,
        ("torch", "cpu"): 4}
# A backend without its model flag: auto passes it over with the short reason; an explicit
# --backend fails with the long one.
MISSING = {"tensorrt": "needs --engine or --onnx", "onnxruntime": "needs --onnx", "torch": "needs --weights"}
MISSING_HINT = {"tensorrt": "needs --engine PLAN or --onnx MODEL.onnx (built once, then cached)",
                "onnxruntime": "needs --onnx MODEL.onnx (create it with `trtmatte export`)",
                "torch": "needs --weights CHECKPOINT (trtmatte .safetensors or the authors' Keras .h5)"}


@dataclass(frozen=True)
class Environment:
    """What this machine offers, probed once (tests pass their own)."""

    tensorrt: str | None  # "tensorrt 10.x" / "tensorrt_rtx 1.7", or None
    gpu: str | None  # the CUDA GPU's name, or None
    ort_cuda: bool  # onnxruntime has the CUDA execution provider
    torch_cuda: bool
    torch: bool = True  # PyTorch is installed (core installs run graphs and engines without it)

    @classmethod
    def probe(cls, backend: str = "auto") -> "Environment":
        """Probe what choosing ``backend`` depends on (everything for auto). An explicit backend
        probes only its own stack: running an ONNX graph never imports TensorRT or PyTorch."""
        from .. import _lazy
        from ..engine.flavour import current_gpu, installed_flavour

        trt = installed_flavour() if backend in ("auto", "tensorrt") else None
        gpu = current_gpu() if backend in ("auto", "tensorrt", "torch") else None
        ort_cuda = False
        if backend in ("auto", "onnxruntime") and _lazy.is_available("onnxruntime"):
            ort_cuda = "CUDAExecutionProvider" in _lazy.require("onnxruntime").get_available_providers()
        torch = backend in ("auto", "torch") and _lazy.is_installed("torch")
        # torch is imported only where a GPU is: a CPU build of PyTorch says no
        torch_cuda = torch and gpu is not None and _lazy.require("torch").cuda.is_available()
        return cls(trt, gpu.name if gpu else None, ort_cuda, torch_cuda, torch)


@dataclass(frozen=True)
class Candidate:
    backend: str
    device: str
    why: str


def candidates(backend: str, env: Environment, *, onnx=None, engine=None, weights=None, variant=None,
               device: str | None = None, random_weights: bool = False) -> tuple[list[Candidate], list[str]]:
    """Backends to try in order, and the reasons others were passed over. Pure: no imports, no I/O.

    ``auto`` passes over what this machine cannot run. An explicit ``tensorrt`` is tried whatever
    the probe says: an ONNX graph is built into the cache (TensorRT-RTX needs no GPU for that),
    and the loader then says in one line why the plan cannot run here, if it cannot."""
    if backend not in BACKENDS:
        raise TrtmatteError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    skipped: list[str] = []
    out: list[Candidate] = []
    want = BACKENDS[1:] if backend == "auto" else (backend,)
    for name in want:
        if name == "tensorrt":
            if not (engine or onnx):
                skipped.append(f"tensorrt: {MISSING['tensorrt']}")
            elif device == "cpu":
                skipped.append("tensorrt: --device cpu")
            elif backend == "tensorrt":
                out.append(Candidate("tensorrt", env.gpu or "cuda", "--backend tensorrt"))
            elif env.tensorrt is None:
                skipped.append("tensorrt: not installed")
            elif env.gpu is None:
                skipped.append("tensorrt: no CUDA GPU")
            else:
                out.append(Candidate("tensorrt", env.gpu, f"{env.tensorrt} and {env.gpu} present"))
        elif name == "onnxruntime":
            if not onnx:
                skipped.append(f"onnxruntime: {MISSING['onnxruntime']}")
            elif device == "cuda" or (device is None and env.ort_cuda):
                if env.ort_cuda:
                    out.append(Candidate("onnxruntime", "cuda", "onnxruntime's CUDA execution provider is installed"))
                else:
                    skipped.append("onnxruntime: --device cuda but no CUDA execution provider")
            else:
                why = "--device cpu" if device == "cpu" else "no CUDA execution provider (onnxruntime-gpu) installed"
                out.append(Candidate("onnxruntime", "cpu", why))
        else:
            if not (weights or (variant and random_weights)):
                skipped.append(f"torch: {MISSING['torch']}")
            elif not env.torch and backend == "auto":  # explicit: opening it says how to install it
                skipped.append(f"torch: not installed ({INSTALL_HINTS['torch']})")
            elif device == "cuda" and not env.torch_cuda:
                skipped.append("torch: --device cuda but PyTorch sees no CUDA GPU")
            else:
                dev = device or ("cuda" if env.torch_cuda else "cpu")
                out.append(Candidate("torch", dev, "PyTorch sees a CUDA GPU" if dev == "cuda" and device is None
                                     else f"device {dev}"))
    # Fastest first: any GPU path beats any CPU path (PyTorch-CUDA is far faster than onnxruntime's
    # CPU), and on the CPU onnxruntime beats PyTorch (1.3-1.8x measured, docs/results.md).
    out.sort(key=lambda c: RANK[(c.backend, "cpu" if c.device == "cpu" else "gpu")])
    return out, skipped


class Matter:
    @renamed_keywords
    def __init__(self, backend: str = "auto", *, onnx: str | os.PathLike | None = None,
                 engine: str | os.PathLike | None = None, weights: str | os.PathLike | None = None,
                 variant: str | None = None, device: str | None = None, precision: str = "fp32",
                 max_side: int | None = None, contexts: int = 1, cuda_graphs: bool = False, random_weights: bool = False,
                 env: Environment | None = None, log: Callable[[str], None] | None = None,
                 auto_trimap: AutoTrimapOptions | None = None, trimap_model: str | os.PathLike | None = None,
                 threads: int | None = None):
        """``random_weights``: with no ``weights``, PyTorch may run a randomly initialised ``variant``
        (for timing only; said in the session's ``weights_note``). ``auto_trimap``: the model takes
        a trimap and Late Fusion derives it (``trimap_model``: a Late Fusion graph exported with
        --debug-outputs, an engine of one, or a checkpoint; default the bundled demo checkpoint),
        so the Matter takes images only (runtime/auto_trimap_session.py). ``threads``: CPU threads of
        onnxruntime's intra-op pool, or PyTorch's (``torch.set_num_threads``: for the whole process);
        None leaves the library's default (one per core). ``contexts``: calls in flight at once (GPU
        sessions; the pipelined mode uses 2), ``cuda_graphs``: capture and replay a CUDA graph per
        input shape; the C++ Options' names (``slots``/``graphs`` are deprecated aliases)."""
        if backend not in BACKENDS:
            raise TrtmatteError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if device is not None and device not in DEVICES:
            raise TrtmatteError(f"unknown device {device!r}: use {' or '.join(DEVICES)}")
        check_max_side(max_side)
        if threads is not None and threads < 1:
            raise TrtmatteError(f"--threads must be at least 1, not {threads}")
        env = env or Environment.probe(backend)
        if not (onnx or engine or weights or random_weights):
            # No model given: the bundled demo model, as a graph (onnxruntime/TensorRT, no torch
            # needed) and as a checkpoint (PyTorch); the ranking below picks the faster here.
            from ..checkpoints.bundled import BUNDLED, bundled_files, missing_message

            onnx, weights = bundled_files(variant)
            has_bundle = variant is None or variant in BUNDLED
            bundled_missing = missing_message(variant) if has_bundle and not (onnx or weights) else None
        else:
            bundled_missing = None
        cands, skipped = candidates(backend, env, onnx=onnx, engine=engine, weights=weights, variant=variant,
                                    device=device, random_weights=random_weights)
        self.log = log or (lambda msg: None)
        errors: list[str] = []
        for cand in cands:
            try:
                self.session = self._open(cand, onnx=onnx, engine=engine, weights=weights, variant=variant,
                                          precision=precision, max_side=max_side, contexts=contexts, cuda_graphs=cuda_graphs,
                                          threads=threads)
            except TrtmatteError as exc:
                if backend != "auto" or len(cands) == 1:
                    raise  # nothing to fall back to: the backend's own one-line error says it best
                errors.append(f"{cand.backend}: {exc}")
                continue
            passed = "; ".join(skipped + errors)
            self.backend = cand.backend
            self.reason = f"{cand.backend} on {cand.device}: {cand.why}" + (f" (passed over: {passed})" if passed else "")
            if auto_trimap is not None:
                self.session = self._with_auto_trimap(auto_trimap, trimap_model, device)
            return
        detail = "; ".join(skipped + errors)
        if backend != "auto":
            if skipped == [f"{backend}: {MISSING[backend]}"]:
                raise TrtmatteError(f"--backend {backend} {MISSING_HINT[backend]}")
            raise TrtmatteError(f"--backend {backend} cannot run here: {detail}")
        if bundled_missing:
            detail = bundled_missing
        raise TrtmatteError(f"no backend can run{' (' + detail + ')' if detail else ''}: "
                            "give --onnx MODEL.onnx, --engine PLAN or --weights CKPT")

    def _open(self, cand: Candidate, *, onnx, engine, weights, variant, precision, max_side, contexts, cuda_graphs,
              threads) -> MattingSession:
        if cand.backend != "torch" and max_side:
            raise TrtmatteError("--max-side is baked into an exported graph: re-export with `trtmatte export --max-side`")
        if cand.backend == "tensorrt":
            from .tensorrt_session import TensorRTSession

            plan = engine
            if not plan:
                from ..engine.cache import EngineCache

                plan, hit = EngineCache().get_or_build(onnx)
                self.log(f"engine: {plan} ({'cached' if hit else 'built now, cached for next time'})")
            return TensorRTSession(plan, contexts=contexts, cuda_graphs=cuda_graphs)
        if cand.backend == "onnxruntime":
            from .ort_session import OrtSession

            if precision != "fp32":
                raise TrtmatteError("onnxruntime's precision is the graph's: pass an fp16/int8 graph from `trtmatte quantize`")
            return OrtSession(onnx, device=cand.device, threads=threads)
        if threads:
            from .._lazy import require

            require("torch", "the PyTorch backend").set_num_threads(threads)
        return open_torch(weights, variant, cand.device, precision=precision, max_side=max_side,
                          contexts=contexts, cuda_graphs=cuda_graphs, log=self.log)

    def _with_auto_trimap(self, options: AutoTrimapOptions, trimap_model, device) -> MattingSession:
        from .auto_trimap_session import AutoTrimapSession

        matting = self.session
        if not matting.needs_trimap:
            matting.close()
            raise TrtmatteError(f"--trimap auto feeds a trimap model, but {matting.info.variant} is trimap-free: "
                                "drop --trimap")
        try:
            source = open_trimap_source(trimap_model, device, self.log)
            session = AutoTrimapSession(source, matting, options)
        except BaseException:
            matting.close()
            raise
        self.reason += f"; trimap: auto from {source.info.label} ({source.info.variant})"
        return session

    @property
    def info(self):
        return self.session.info

    @property
    def needs_trimap(self) -> bool:
        """Whether each call needs a trimap (a trimap model without --trimap auto)."""
        return bool(getattr(self.session, "needs_trimap", False))

    def __repr__(self) -> str:
        info = self.session.info
        return (f"Matter(model={info.variant!r}, backend={info.backend!r}, precision={info.precision!r}, "
                f"device={info.device!r})")

    def __call__(self, images: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        """The batch door (what the video job and pipelines call): uint8 [H, W, 3] or [N, H, W, 3]
        -> float alpha [N, H, W], always with the batch axis (one image gives [1, H, W]); use
        :meth:`matte` for one image as [H, W]."""
        return Batch(images, trimap).call(self.session.run)

    def matte(self, image, trimap=None) -> np.ndarray:
        """Float alpha [H, W] in [0, 1] of one image: a uint8 array, a PIL image or a file path;
        ``trimap`` (trimap models) likewise: a file path, a PIL image or a uint8 [H, W] array."""
        return Batch(as_rgb(image), as_trimap(trimap)).call(self.session.run)[0]

    def cutout(self, image, output_type: str = "rgba", background=None, trimap=None) -> np.ndarray:
        """The uint8 picture of ``output_type`` (rgba cutout, fg colours, composite over
        ``background``, alpha). ``background``: what the CLI takes, through the one parser
        :func:`trtmatte.compose.as_background`: a colour name, '#rrggbb', 'r,g,b', an (r, g, b)
        tuple, an image path, a PIL image or an RGB array; white if None."""
        from ..compose import as_background, render

        background = as_background(background)  # a bad background fails before the model runs
        rgb = as_rgb(image)
        return render(output_type, rgb, Batch(rgb, as_trimap(trimap)).call(self.session.run)[0], background)

    def run_files(self, paths: Iterable[str | os.PathLike], workers: int = 2,
                  trimaps: Iterable[str | os.PathLike] | None = None) -> Iterator[Any]:
        """Pipelined over image files: ItemResult per path, in order (alpha [H, W] in ``value``);
        ``trimaps``: the trimap file of each path, for trimap models."""
        from ..media.image import read_rgb, read_trimap
        from .pipelined import Pipeline, as_submitter

        def prepare(item):
            path, trimap = item
            return Batch(read_rgb(path)[None], None if trimap is None else read_trimap(trimap)[None])
        items = zip(paths, trimaps) if trimaps is not None else ((p, None) for p in paths)
        for result in Pipeline(as_submitter(self.session), prepare, workers).run(items):
            if result.ok:
                result.value = result.value[0]
            yield result

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def as_rgb(image) -> np.ndarray:
    """uint8 [H, W, 3] from a file path, a PIL image (EXIF orientation applied) or an array
    ([H, W] grey, [H, W, 3] RGB, [H, W, 4] RGBA whose alpha is dropped)."""
    if isinstance(image, (str, os.PathLike)):
        from ..media.image import read_rgb

        return read_rgb(image)
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image, without importing PIL here
        from ..media.image import upright_rgb

        return upright_rgb(image)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise TrtmatteError(f"images must be uint8 (0..255), got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise TrtmatteError(f"an image must be [H, W], [H, W, 3] or [H, W, 4], got {list(array.shape)}")
    return np.ascontiguousarray(array[..., :3])


def as_trimap(trimap) -> np.ndarray | None:
    """uint8 [H, W] from a file path, a PIL image or an array; None stays None."""
    if trimap is None:
        return None
    if isinstance(trimap, (str, os.PathLike)):
        from ..media.image import read_trimap

        return read_trimap(trimap)
    if hasattr(trimap, "convert") and hasattr(trimap, "mode"):  # a PIL image
        from ..media.image import upright_trimap

        return upright_trimap(trimap)
    return np.asarray(trimap)


def open_trimap_source(path, device: str | None = None, log: Callable[[str], None] = lambda m: None) -> MattingSession:
    """The Late Fusion session ``--trimap auto`` takes F and B from: a graph exported with
    --debug-outputs (onnxruntime, or TensorRT where auto picks it), an engine of one, a checkpoint
    (PyTorch), or by default the bundled demo checkpoint (PyTorch: its bundled graph has no F, B)."""
    from .._lazy import is_installed

    if path is None:
        from ..checkpoints.bundled import bundled_files, missing_message

        _, weights = bundled_files()
        if weights is None:
            raise TrtmatteError(f"--trimap auto: {missing_message()}; give --trimap-model LF.onnx")
        if not is_installed("torch"):
            raise TrtmatteError("--trimap auto uses the bundled Late Fusion checkpoint through PyTorch, which is not "
                                "installed: give --trimap-model LF.onnx (exported with --debug-outputs)")
        return Matter("torch", weights=weights, device=device, log=log).session
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
    if suffix == "onnx":
        return Matter("auto", onnx=path, device=device, log=log).session
    if suffix in ("plan", "engine", "trt"):
        return Matter("tensorrt", engine=path, log=log).session
    return Matter("torch", weights=path, device=device, log=log).session


@renamed_keywords
def open_torch(weights, variant, device: str, *, precision="fp32", max_side=None, contexts=1, cuda_graphs=False,
               max_shape=(1, 800, 800, 3), log: Callable[[str], None] = lambda m: None):
    """A TorchSession from a checkpoint, or (no weights) a randomly initialised registry variant,
    which is stated in ``weights_note`` and the log because its mattes mean nothing."""
    from .._lazy import require

    torch = require("torch", "the PyTorch backend")

    from ..models import create_model, get_config
    from .torch_session import TorchSession

    if weights:
        from ..checkpoints.native import load_model

        model, info = load_model(weights, variant)
        pre, name = info.preprocessing, info.variant
        note = f"{info.path} ({info.variant}; {info.provenance.get('weights', 'provenance not recorded')})"
    else:
        torch.manual_seed(0)
        model, name = create_model(variant), variant
        pre = get_config(variant).preprocessing
        note = f"randomly initialised {variant} (no --weights): timing only, the mattes mean nothing"
    if max_side:
        pre = dataclasses.replace(pre, max_side=max_side)
    log(f"weights: {note}")
    return TorchSession(model, pre, name, device, precision=precision, contexts=contexts, cuda_graphs=cuda_graphs,
                        max_shape=max_shape, weights_note=note)
