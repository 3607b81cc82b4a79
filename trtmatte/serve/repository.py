"""Triton model repositories for trtmatte models (``trtmatte triton-repo`` and ``trtmatte serve``).

    OUT/
      README.md                    how to serve it (the tritonserver line, plugins, a query)
      trtmatte/
        config.pbtxt
        1/model.plan               tensorrt_plan: + model.plan.json (sidecar), plugin library
        1/model.onnx               onnxruntime_onnx
        1/model.py + model file    python: a trtmatte Matter in Triton's Python backend

The repository is assembled in a hidden folder beside OUT and renamed into place at the end, so
a failed run leaves nothing behind.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TrtmatteError
from ..fileio import check_new_folder
from ..contract.ort_rounding import FLOAT16_BODY, has_float16_body
from .model_config import IMAGE, RGBA, TRIMAP, ModelConfig, Tensor, alpha_tensor, default_preferred

PYTHON_MODEL = '''\
"""Triton Python-backend model: trtmatte's Matter (settings: the parameters in ../config.pbtxt)."""
from trtmatte.serve.python_backend import TritonPythonModel  # noqa: F401  (the class Triton looks for)
'''
ORT_DTYPES = {"tensor(uint8)": "uint8", "tensor(float)": "float32", "tensor(float16)": "float16"}
DEFAULT_MAX_BATCH = 8
SUFFIXES = {"engine": ".plan", "onnx": ".onnx", "weights": ""}
WARMUP = (64, 64)
PYTHON_SERVE = "trtmatte serve --repository $PWD"  # the README's line for a Python-backend repository  # one zero image run at load: the first client does not pay the first run's setup


@dataclass
class ModelSource:
    """Which model file (exactly one of engine / onnx / weights, or none: the bundled model)."""

    engine: str | None = None
    onnx: str | None = None
    weights: str | None = None

    @property
    def flag(self) -> str | None:
        given = [k for k in ("engine", "onnx", "weights") if getattr(self, k)]
        if len(given) > 1:
            raise TrtmatteError(f"give one model file, not --{' and --'.join(given)}")
        return given[0] if given else None

    @property
    def path(self) -> Path:
        path = Path(getattr(self, self.flag))
        if not path.is_file():
            raise TrtmatteError(f"--{self.flag} {path}: no such file")
        return path


@dataclass
class RepoOptions:
    name: str = "trtmatte"
    max_batch: int | None = None  # default: the engine profile's max batch, else 8
    preferred_batch: tuple[int, ...] | None = None
    max_queue_delay_us: int = 100
    instances: int = 1
    parameters: dict[str, str] = field(default_factory=dict)  # python kind: Matter settings
    gpus: tuple[int, ...] = ()  # python kind: KIND_GPU, `instances` on each of these devices
    max_queue_size: int = 0
    queue_timeout_us: int = 0

    def queueing(self) -> dict:
        return {"max_queue_size": self.max_queue_size, "queue_timeout_us": self.queue_timeout_us}


def graph_io(path: Path) -> tuple[list[str], str, bool, dict[str, str]]:
    """(input names, alpha dtype, dynamic batch, metadata_props) of an exported graph, read with
    onnxruntime (the core install has it; onnx may be absent on a serving node)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
        raise TrtmatteError(f"{path} is not a readable ONNX graph ({str(exc).splitlines()[0][:200]}): "
                            "export one with `trtmatte export`") from None
    inputs = [i.name for i in session.get_inputs()]
    alpha = next((o for o in session.get_outputs() if o.name == "alpha"), None)
    if alpha is None or "image" not in inputs:
        raise TrtmatteError(f"{path} is not a trtmatte graph (needs input 'image' and output 'alpha'): "
                            "export one with `trtmatte export`")
    dtype = ORT_DTYPES.get(alpha.type)
    if dtype is None:
        raise TrtmatteError(f"{path}: output 'alpha' is {alpha.type}; Triton configs here take uint8, float or float16")
    batch = session.get_inputs()[0].shape[0]
    return inputs, dtype, not isinstance(batch, int), dict(session.get_modelmeta().custom_metadata_map)


def config_for_plan(plan: Path, options: RepoOptions) -> tuple[ModelConfig, dict[str, Path]]:
    from ..engine.sidecar import read_sidecar, sidecar_path

    meta = read_sidecar(plan)
    if meta.tensorrt_flavour != "tensorrt":
        raise TrtmatteError(f"{plan} was built by {meta.tensorrt_flavour} {meta.tensorrt_version}, and Triton's "
                            "tensorrt_plan backend runs standard TensorRT plans: build the plan with standard TensorRT "
                            "on the GPU node (`trtmatte build`), or give --onnx (onnxruntime_onnx) or --python")
    shapes = meta.profile.get("image")
    if not shapes:
        raise TrtmatteError(f"{plan}'s sidecar has no profile for input 'image': rebuild it with `trtmatte build`")
    max_batch = shapes["max"][0] if options.max_batch is None else options.max_batch
    if max_batch > shapes["max"][0]:
        raise TrtmatteError(f"--max-batch {max_batch} exceeds the engine profile's batch {shapes['max'][0]}: "
                            f"rebuild with a larger --batch or lower --max-batch")
    preferred = options.preferred_batch or tuple(sorted({b for b in (shapes["opt"][0], max_batch) if 1 < b <= max_batch}))
    inputs = meta.onnx_metadata.get("trtmatte.inputs", "image").split(",")
    dtype = meta.onnx_metadata.get("trtmatte.alpha_dtype", "uint8")
    config = ModelConfig(options.name, "tensorrt_plan", max_batch, preferred, options.max_queue_delay_us,
                         options.instances, gpu=True, gpus=options.gpus, inputs=model_inputs(inputs),
                         outputs=(alpha_tensor(dtype),), warmup=tuple(shapes["min"][1:3]), **options.queueing())
    files = {"model.plan": plan, "model.plan.json": sidecar_path(plan)}
    for plugin in meta.plugins:
        library = Path(plugin.get("library", ""))
        if not library.is_file():
            raise TrtmatteError(f"{plan} needs the plugin library {library}, which is not there: pass the plan's "
                                "plugins beside it, or rebuild the plan without --fused-blend")
        files[library.name] = library
    return config, files


def model_inputs(names: list[str], optional_trimap: bool = False) -> tuple[Tensor, ...]:
    inputs = [IMAGE]
    if "trimap" in names:
        inputs.append(TRIMAP)
    elif optional_trimap:
        inputs.append(Tensor(TRIMAP.name, TRIMAP.dtype, TRIMAP.dims, optional=True))
    return tuple(inputs)


def config_for_onnx(graph: Path, options: RepoOptions) -> tuple[ModelConfig, dict[str, Path]]:
    inputs, dtype, dynamic_batch, metadata = graph_io(graph)
    if has_float16_body(metadata):
        raise TrtmatteError(f"{graph} {FLOAT16_BODY}: serve it with --python (trtmatte rounds those nodes in float32), "
                            "or quantize with --int8-body fp32 for onnxruntime")
    max_batch = DEFAULT_MAX_BATCH if options.max_batch is None else options.max_batch
    if not dynamic_batch and max_batch != 1:
        raise TrtmatteError(f"{graph} has a fixed batch size: re-export it with a dynamic batch, or pass --max-batch 1")
    # Triton's onnxruntime backend sizes each instance's intra-op pool from this parameter
    threads = options.parameters.get("threads")
    config = ModelConfig(options.name, "onnxruntime_onnx", max_batch,
                         options.preferred_batch or default_preferred(max_batch), options.max_queue_delay_us,
                         options.instances, inputs=model_inputs(inputs), outputs=(alpha_tensor(dtype),),
                         parameters={"intra_op_thread_count": threads} if threads else {}, warmup=WARMUP,
                         **options.queueing())
    return config, {"model.onnx": graph}


def config_for_python(source: ModelSource, options: RepoOptions) -> tuple[ModelConfig, dict[str, Path]]:
    """The Python backend running a Matter; the model file goes into the version folder under a
    fixed name (``write_repository`` copies it, or links it for ``serve``), so the config names
    no path of this machine."""
    params = {k: v for k, v in options.parameters.items() if v not in (None, "")}
    files: dict[str, Path] = {}
    flag = source.flag
    if flag:
        path = source.path.resolve()
        name = f"model{SUFFIXES[flag] or path.suffix}"
        files[name] = path
        if flag == "engine":
            from ..engine.sidecar import sidecar_path

            files[f"{name}.json"] = sidecar_path(path)
        params[flag] = name
    if params.get("trimap_model"):  # --trimap auto's Late Fusion model, likewise
        path = Path(params["trimap_model"]).resolve()
        if not path.is_file():
            raise TrtmatteError(f"--trimap-model {path}: no such file")
        params["trimap_model"] = f"trimap_model{path.suffix}"
        files[params["trimap_model"]] = path
    max_batch = DEFAULT_MAX_BATCH if options.max_batch is None else options.max_batch
    # The trimap input is optional: a trimap model answers a request without one with an error
    # naming it, a trimap-free model refuses one; so one config serves both families.
    # Ragged: the model regroups a list by size itself (serve/service.py), so Triton may put
    # requests of any sizes in one list. Without it the dynamic batcher compares the shapes of
    # queued requests (HasEqualInputs) on every scheduling pass, which with several sizes queued
    # under load burned as much CPU as the model (docs/serving.md).
    inputs = tuple(dataclasses.replace(t, ragged=True) for t in model_inputs([], optional_trimap=True))
    config = ModelConfig(options.name, "python", max_batch, options.preferred_batch or default_preferred(max_batch),
                         options.max_queue_delay_us, options.instances, gpus=options.gpus,
                         inputs=inputs, outputs=(alpha_tensor(), RGBA), parameters=params, **options.queueing())
    config.check()  # the user's mistakes first, then the model file is read
    if needs_trimap(source, params) is False:  # a trimap model's warm-up would need one: it warms at its first request
        config.warmup = WARMUP
    return config, files


def needs_trimap(source: ModelSource, params: dict[str, str]) -> bool | None:
    """Whether requests must carry a trimap (the warm-up request must then carry one, which a
    trimap-free model would refuse); None: not known before the model opens (a checkpoint)."""
    if params.get("trimap") == "auto" or (source.flag is None and not params.get("variant")):
        return False  # images only: auto trimap, or the bundled trimap-free model
    if source.flag == "onnx":
        return "trimap" in graph_io(source.path)[0]
    if source.flag == "engine":
        from ..engine.sidecar import read_sidecar

        return "trimap" in read_sidecar(source.path).onnx_metadata.get("trtmatte.inputs", "image").split(",")
    return None


def build_config(source: ModelSource, options: RepoOptions, python: bool):
    flag = source.flag
    if python or flag in (None, "weights"):
        return config_for_python(source, options)
    if flag == "engine":
        return config_for_plan(source.path, options)
    return config_for_onnx(source.path, options)


def write_repository(out: str | os.PathLike, config: ModelConfig, files: dict[str, Path], readme: str = "",
                     link: bool = False) -> Path:
    """OUT/<name>/config.pbtxt, OUT/<name>/1/<files> (+ model.py for the Python backend), OUT/README.md.
    ``link``: the files are symbolic links to where they are (``serve``'s throw-away repository)."""
    out = check_new_folder(out, "choose a new OUT", noun="folder")
    parent = out.parent if str(out.parent) else Path(".")
    text = config.text()
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=parent))
    try:
        version = staging / config.name / "1"
        version.mkdir(parents=True)
        (staging / config.name / "config.pbtxt").write_text(text)
        if config.kind == "python":
            (version / "model.py").write_text(PYTHON_MODEL)
        for name, src in files.items():
            if link:
                os.symlink(Path(src).resolve(), version / name)
            else:
                shutil.copy2(src, version / name)
        if readme:
            (staging / "README.md").write_text(readme)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def repository_readme(config: ModelConfig, files: dict[str, Path], note: str = "") -> str:
    """The README of a repository: what it holds and the lines to serve and query it."""
    version = f"{config.name}/1"
    plugins = [name for name in files if name.endswith(".so")]
    serve = "tritonserver --model-repository=$PWD"
    if plugins:
        serve += "".join(f" \\\n    --backend-config=tensorrt,plugins=$PWD/{version}/{p}" for p in plugins)
    lines = [f"# Triton model repository: {config.name} ({config.kind})", "",
             "Written by `trtmatte triton-repo`. Input `image` uint8 [H, W, 3] (batched [B, H, W, 3]), output "
             "`alpha` [H, W]: the graph holds the pre- and post-processing, so no ensemble is needed.", ""]
    if note:
        lines += [note, ""]
    if config.kind == "python":
        lines += ["Serve it (from this folder), either in NVIDIA's Triton container with trtmatte installed in its "
                  "Python (`pip install trtmatte`):", "", "```sh", serve, "```", "",
                  "or anywhere trtmatte is installed, with the tritonserver of `pip install --no-deps nvidia-pytriton` "
                  "(or `--tritonserver PATH`); it sets up the Python backend for this Python and stops on a dead "
                  "model (docs/serving.md in trtmatte):", "", "```sh", PYTHON_SERVE, "```", ""]
    else:
        lines += ["Serve it (from this folder):", "", "```sh", serve, "```", ""]
    lines += [
              "Query it with tritonclient (`pip install 'tritonclient[http]'`):", "", "```python",
              *client_example(config.name).splitlines(), "```", ""]
    return "\n".join(lines)


def client_example(name: str = "trtmatte", url: str = "localhost:8000") -> str:
    # trtmatte's own decoder on the client: EXIF orientation, 16-bit and the pixel limit as in `trtmatte matte`
    return (f'import tritonclient.http as httpclient\nfrom trtmatte.media.image import read_rgb\n'
            f'client = httpclient.InferenceServerClient("{url}")\n'
            f'image = read_rgb("photo.jpg")[None]  # [1, H, W, 3] uint8, upright\n'
            f'request = httpclient.InferInput("image", list(image.shape), "UINT8"); request.set_data_from_numpy(image)\n'
            f'alpha = client.infer("{name}", [request]).as_numpy("alpha")[0]  # [H, W] uint8\n')
