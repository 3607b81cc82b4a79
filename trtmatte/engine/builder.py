"""``trtmatte build``: ONNX -> TensorRT plan + sidecar + layer report, written atomically.

Precision is not a builder flag: the network is strongly typed, so FP16 tensors and INT8 Q/DQ in
the ONNX decide it (TensorRT 11 dropped weakly typed networks and calibrators; docs/design.md).
"""
from __future__ import annotations

import datetime
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._version import __version__
from ..contract.graphio import load_onnx
from ..contract.metadata import graph_precision, read_metadata
from ..errors import TrtmatteError
from ..fileio import atomic_output, check_writable, sha256_file
from .flavour import current_gpu, get_flavour
from .layer_report import LayerReport, parse_builder_log
from .logging_hooks import NO_GPU_NOISE, make_capture_logger, make_progress_monitor
from .parser import parse_onnx
from .plugin_loading import check_plugin_nodes, load_plugin_libraries, plugin_nodes
from .sidecar import EngineMeta, layers_path, write_sidecar

DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX = (320, 320), (800, 800), (1024, 1024)


@dataclass
class BuildOptions:
    min_hw: tuple[int, int] = DEFAULT_MIN
    opt_hw: tuple[int, int] = DEFAULT_OPT
    max_hw: tuple[int, int] = DEFAULT_MAX
    batch: tuple[int, int, int] = (1, 1, 1)  # min, opt, max
    workspace_mib: int | None = None  # None: TensorRT's default (the device's memory)
    optimization_level: int = 3
    timing_cache: str | None = None
    plugins: list[str] = field(default_factory=list)
    compute_capabilities: list[str] | None = None  # RTX targets
    hardware_compatible: bool = False  # standard TensorRT only
    version_compatible: bool = False  # standard TensorRT only
    dla_core: int | None = None  # standard TensorRT on Jetson: run on this DLA core (Flavour.configure_dla)
    gpu_fallback: bool = False  # with dla_core: layers the DLA cannot run go to the GPU
    flavour: str | None = None
    progress: bool = False

    def profile(self, static_dims: list[int]) -> dict[str, list[int]]:
        """min/opt/max of an input: the NHWC ``image`` [n, h, w, 3], or the ``trimap`` [n, h, w],
        which follows the image's N, H and W at every corner. Static dims of the ONNX win."""
        if len(static_dims) not in (3, 4):
            raise TrtmatteError(f"a network input has shape {static_dims}: trtmatte graphs take [N, H, W, 3] "
                                "images and [N, H, W] trimaps")
        shapes = {}
        for key, hw, n in (("min", self.min_hw, self.batch[0]), ("opt", self.opt_hw, self.batch[1]),
                           ("max", self.max_hw, self.batch[2])):
            dims = [n, hw[0], hw[1], 3][:len(static_dims)]
            shapes[key] = [s if s > 0 else d for s, d in zip(static_dims, dims)]
        return shapes

    def validate(self) -> None:
        for a, b, what in ((self.min_hw, self.opt_hw, "min <= opt"), (self.opt_hw, self.max_hw, "opt <= max")):
            if not all(0 < x <= y for x, y in zip(a, b)):
                raise TrtmatteError(f"profile shapes must satisfy {what} and be positive: "
                                    f"min {self.min_hw}, opt {self.opt_hw}, max {self.max_hw}")
        if not 0 < self.batch[0] <= self.batch[1] <= self.batch[2]:
            raise TrtmatteError(f"batch range must satisfy 0 < min <= opt <= max, got {self.batch}")
        if not 0 <= self.optimization_level <= 5:
            raise TrtmatteError(f"builder optimization level must be 0..5, got {self.optimization_level}")


@dataclass
class BuildResult:
    plan: Path
    meta: EngineMeta
    report: LayerReport | None


def onnx_precision(onnx_path: str | os.PathLike) -> tuple[str, dict[str, str]]:
    """fp32 / fp16 / int8 from the graph itself, and trtmatte's metadata."""
    graph = load_onnx(onnx_path, "reading the ONNX graph", weights=False)
    return graph_precision(graph), read_metadata(graph)


def rebuild_command(onnx_path, plan, opts: BuildOptions) -> str:
    args = ["trtmatte", "build", os.fspath(onnx_path), "-o", os.fspath(plan),
            "--min", "x".join(map(str, opts.min_hw)), "--opt", "x".join(map(str, opts.opt_hw)),
            "--max", "x".join(map(str, opts.max_hw)), "--batch", ",".join(map(str, opts.batch))]
    for lib in opts.plugins:
        args += ["--plugin", lib]
    if opts.dla_core is not None:
        args += ["--dla-core", str(opts.dla_core)] + (["--allow-gpu-fallback"] if opts.gpu_fallback else [])
    return shlex.join(args)


def build_engine(onnx_path: str | os.PathLike, plan_path: str | os.PathLike, opts: BuildOptions | None = None) -> BuildResult:
    opts = opts or BuildOptions()
    opts.validate()
    plan_path = Path(plan_path)
    check_writable(plan_path)
    flavour = get_flavour(opts.flavour)
    flavour.check_dla(opts.dla_core, opts.gpu_fallback)  # refused before minutes of parsing
    trt = flavour.module
    graph = load_onnx(onnx_path, "reading the ONNX graph", weights=False)
    precision, onnx_meta = graph_precision(graph), read_metadata(graph)
    nodes = plugin_nodes(graph)
    if flavour.is_rtx:
        check_plugin_nodes(flavour, onnx_path, nodes)  # before --plugin's own refusal: the graph is the cause
    plugins = load_plugin_libraries(flavour, opts.plugins)
    check_plugin_nodes(flavour, onnx_path, nodes)
    del graph
    logger = make_capture_logger(trt)
    parsed = parse_onnx(onnx_path, flavour.name, logger=logger)
    builder, network = parsed.builder, parsed.network

    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # layer report with types and tactics
    if opts.workspace_mib:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mib << 20)
    config.builder_optimization_level = opts.optimization_level

    profile = builder.create_optimization_profile()
    shapes = {}
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shapes[tensor.name] = opts.profile(list(tensor.shape))
        profile.set_shape(tensor.name, *(tuple(shapes[tensor.name][k]) for k in ("min", "opt", "max")))
    config.add_optimization_profile(profile)

    meta_target = flavour.configure_targets(config, current_gpu(), compute_capabilities=opts.compute_capabilities,
                                            hardware_compatible=opts.hardware_compatible,
                                            version_compatible=opts.version_compatible, plugin_libraries=opts.plugins)
    meta_target.update(flavour.configure_dla(builder, config, opts.dla_core, opts.gpu_fallback))

    cache = None
    notes = []
    if opts.timing_cache and not flavour.supports_timing_cache:
        notes.append(f"timing cache {opts.timing_cache} not used: {flavour.label} has no timing cache")
    elif opts.timing_cache:
        blob = Path(opts.timing_cache).read_bytes() if os.path.isfile(opts.timing_cache) else b""
        cache = config.create_timing_cache(blob)
        config.set_timing_cache(cache, ignore_mismatch=False)
    if opts.progress:
        config.progress_monitor = make_progress_monitor(trt)

    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    if plan is None:
        errors = [m for m in logger.texts(trt.Logger.ERROR) if NO_GPU_NOISE not in m]
        reason = " ".join(errors[-1].split()) if errors else "no error message from TensorRT"
        raise TrtmatteError(f"{flavour.label} failed to build {onnx_path}: {reason}")

    with atomic_output(plan_path) as tmp:
        with open(tmp, "wb") as f:
            f.write(plan)
    if cache is not None:
        with atomic_output(opts.timing_cache) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))

    report = parse_builder_log(logger.texts())
    if report is not None:
        with atomic_output(layers_path(plan_path)) as tmp:
            tmp.write_text(report.to_json())
    meta = EngineMeta(
        tensorrt_flavour=flavour.name, tensorrt_version=flavour.version, precision=precision, profile=shapes,
        onnx_sha256=sha256_file(onnx_path), onnx_path=os.path.abspath(onnx_path), onnx_metadata=onnx_meta,
        plugins=plugins, trtmatte_version=__version__,
        build_seconds=round(seconds, 2), plan_bytes=plan_path.stat().st_size, plan_sha256=sha256_file(plan_path),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        rebuild_command=rebuild_command(onnx_path, plan_path, opts), notes=notes, **meta_target)
    write_sidecar(plan_path, meta)
    del cache
    return BuildResult(plan_path, meta, report)
