"""``trtmatte build``: ONNX -> TensorRT plan + sidecar + layer report, written atomically.

Precision is not a builder flag: the network is strongly typed, so FP16 tensors and INT8 Q/DQ in
the ONNX decide it (TensorRT 11 dropped weakly typed networks and calibrators; see DESIGN.md).
"""
from __future__ import annotations

import ctypes
import datetime
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from .._lazy import require
from ..errors import TrtmatteError
from ..fileio import atomic_output, check_writable, sha256_file
from .flavour import Flavour, current_gpu, get_flavour, rtx_targets
from .layer_report import LayerReport, parse_builder_log
from .logging_hooks import NO_GPU_NOISE, make_capture_logger, make_progress_monitor
from .parser import parse_onnx
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
    flavour: str | None = None
    progress: bool = False

    def profile(self, static_dims: list[int]) -> dict[str, list[int]]:
        """min/opt/max for the NHWC ``image`` input; static dims of the ONNX win."""
        shapes = {}
        for key, hw, n in (("min", self.min_hw, self.batch[0]), ("opt", self.opt_hw, self.batch[1]),
                           ("max", self.max_hw, self.batch[2])):
            dims = [n, hw[0], hw[1], 3]
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


def _read_graph(onnx_path: str | os.PathLike):
    """The graph without its weights (fast even for external data)."""
    onnx = require("onnx", "reading the ONNX graph")
    if not os.path.isfile(onnx_path):
        raise TrtmatteError(f"ONNX file {onnx_path} not found (create it with `trtmatte export`)")
    try:
        return onnx.load(os.fspath(onnx_path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise TrtmatteError(f"{onnx_path} is not a readable ONNX file ({type(exc).__name__}); re-export it") from None


def _precision(model) -> tuple[str, dict[str, str]]:
    onnx = require("onnx", "reading the ONNX graph")
    ops = {n.op_type for n in model.graph.node}
    meta = {p.key.removeprefix("trtmatte."): p.value for p in model.metadata_props if p.key.startswith("trtmatte.")}
    if "QuantizeLinear" in ops or "DequantizeLinear" in ops:
        return "int8", meta
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
        return "fp16", meta
    return "fp32", meta


def onnx_precision(onnx_path: str | os.PathLike) -> tuple[str, dict[str, str]]:
    """fp32 / fp16 / int8 from the graph itself, and trtmatte's metadata_props."""
    return _precision(_read_graph(onnx_path))


def plugin_nodes(model) -> list[tuple[str, str, str]]:
    """(op_type, plugin_version, plugin_namespace) of nodes outside the standard ONNX domains: the
    ONNX parser maps them to plugin creators (op_type = plugin name)."""
    found = []
    for node in model.graph.node:
        if node.domain in ("", "ai.onnx"):
            continue
        attrs = {a.name: a.s.decode() for a in node.attribute if a.name in ("plugin_version", "plugin_namespace")}
        entry = (node.op_type, attrs.get("plugin_version", "1"), attrs.get("plugin_namespace", ""))
        if entry not in found:
            found.append(entry)
    return found


def check_plugin_nodes(flavour: Flavour, onnx_path, nodes: list[tuple[str, str, str]]) -> None:
    """Refuse, in one line, a graph whose custom nodes this TensorRT cannot resolve."""
    if not nodes:
        return
    names = ", ".join(f"{ns}::{name}" if ns else name for name, _, ns in nodes)
    if flavour.is_rtx:
        raise TrtmatteError(f"{onnx_path} contains the custom node {names} (exported with --fused-blend), and "
                            f"{flavour.label} has no plugin layers: re-export without --fused-blend, or build with "
                            "standard TensorRT and --plugin build/lib/libtrtmatte_plugins.so")
    registry = flavour.module.get_plugin_registry()
    missing = [f"{ns}::{name}" if ns else name for name, version, ns in nodes
               if registry.get_creator(name, version, ns) is None]
    if missing:
        raise TrtmatteError(f"{onnx_path} contains the custom node {', '.join(missing)} and no plugin provides it: "
                            "pass --plugin build/lib/libtrtmatte_plugins.so (build it with `cmake -S . -B build "
                            "-DTensorRT_ROOT=... && cmake --build build`)")


def _registered_creators(trt) -> set[tuple[str, str, str]]:
    registry = trt.get_plugin_registry()
    creators = getattr(registry, "all_creators", None) or getattr(registry, "plugin_creator_list", [])
    return {(c.name, c.plugin_version, c.plugin_namespace) for c in creators}


_LOADED_LIBRARIES: dict[str, list[tuple[str, str, str]]] = {}  # path -> creators it registered


def _load_library(registry, path: str) -> bool:
    try:
        return registry.load_library(path) is not None
    except Exception:  # the binding raises or returns None depending on the TensorRT version
        return False


def load_plugin_libraries(flavour: Flavour, libraries: list[str]) -> list[dict]:
    """Load IPluginV3 libraries; return what each registered (name, version, namespace, library).
    Standard TensorRT only: not exercised in CI, where only TensorRT-RTX (no plugins) exists.

    A library exporting ``getCreators`` (IPluginV3 dynamic registration, like libtrtmatte_plugins.so)
    is loaded with the registry's ``load_library``, the path TensorRT itself takes for plugins
    serialized into a plan; any other library is dlopen'ed so its static registrars run. Each
    library is loaded once per process: registering a creator twice is an error in TensorRT."""
    if not libraries:
        return []
    if not flavour.supports_plugins:
        raise TrtmatteError(f"{flavour.label} has no plugin layers, so --plugin cannot be used with it; "
                            "build with standard TensorRT (pip install tensorrt) or export without --fused-blend")
    trt = flavour.module
    trt.init_libnvinfer_plugins(None, "")
    registry = trt.get_plugin_registry()
    loaded = []
    for lib in libraries:
        path = os.path.abspath(lib)
        if not os.path.isfile(path):
            raise TrtmatteError(f"plugin library {lib} not found: build it with `cmake -S . -B build && cmake --build build`")
        if path not in _LOADED_LIBRARIES:
            before = _registered_creators(trt)
            try:
                handle = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError as exc:
                raise TrtmatteError(f"cannot load plugin library {lib} ({str(exc).splitlines()[0]}): rebuild it "
                                    "against this TensorRT (`cmake -S . -B build -DTensorRT_ROOT=... && cmake --build build`)") from None
            if hasattr(handle, "getCreators") and not _load_library(registry, path):
                raise TrtmatteError(f"{flavour.label} could not register the plugins of {lib}: rebuild it against this "
                                    "TensorRT (`cmake -S . -B build -DTensorRT_ROOT=... && cmake --build build`)")
            _LOADED_LIBRARIES[path] = sorted(_registered_creators(trt) - before)
        added = _LOADED_LIBRARIES[path]
        loaded += [{"name": n, "version": v, "namespace": ns, "library": path} for n, v, ns in added]
        if not added:  # still record the library: the plan needs it loaded
            loaded.append({"name": "", "version": "", "namespace": "", "library": path})
    return loaded


def rebuild_command(onnx_path, plan, opts: BuildOptions) -> str:
    args = ["trtmatte", "build", os.fspath(onnx_path), "-o", os.fspath(plan),
            "--min", "x".join(map(str, opts.min_hw)), "--opt", "x".join(map(str, opts.opt_hw)),
            "--max", "x".join(map(str, opts.max_hw)), "--batch", ",".join(map(str, opts.batch))]
    for lib in opts.plugins:
        args += ["--plugin", lib]
    return shlex.join(args)


def build_engine(onnx_path: str | os.PathLike, plan_path: str | os.PathLike, opts: BuildOptions | None = None) -> BuildResult:
    opts = opts or BuildOptions()
    opts.validate()
    plan_path = Path(plan_path)
    check_writable(plan_path)
    flavour = get_flavour(opts.flavour)
    trt = flavour.module
    graph = _read_graph(onnx_path)
    precision, onnx_meta = _precision(graph)
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

    gpu = current_gpu()
    meta_target: dict = {}
    if flavour.is_rtx:
        targets = rtx_targets(flavour, opts.compute_capabilities, gpu)
        config.num_compute_capabilities = len(targets)
        for index, target in enumerate(targets):
            config.set_compute_capability(getattr(trt.ComputeCapability, target), index)
        meta_target["targets"] = targets
    else:
        if gpu is None:
            raise TrtmatteError(f"{flavour.label} builds need a CUDA GPU and none was found; "
                                "TensorRT-RTX (pip install tensorrt-rtx-cu12) can build without one")
        if opts.hardware_compatible:
            config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
        if opts.version_compatible:
            config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
        if opts.plugins:
            config.plugins_to_serialize = [os.path.abspath(p) for p in opts.plugins]
        meta_target.update(gpu_name=gpu.name, gpu_compute_capability=gpu.sm,
                           hardware_compatible=opts.hardware_compatible, version_compatible=opts.version_compatible)

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
