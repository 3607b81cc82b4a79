"""Custom (plugin) nodes of an ONNX graph, and loading the plugin libraries that implement them.

The builder calls these before parsing (a graph whose custom node no plugin provides is refused in
one line); the loader calls :func:`load_plugin_libraries` before deserializing a plan that records
plugins. Standard TensorRT only: TensorRT-RTX has no plugin layers (engine/flavour.py).
"""
from __future__ import annotations

import ctypes
import os

from ..errors import TrtmatteError
from .flavour import Flavour

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
    flavour.require_plugins("--plugin")
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
