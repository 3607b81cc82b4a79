"""The TensorRT API that trtmatte's Python engine/runtime/plugin code uses must exist in TensorRT 10.3
(JetPack 6 on Jetson Orin), unless a version or flavour guard keeps it away from 10.3 and the name is
listed, with the reason, in ``trtmatte.engine.flavour.NOT_IN_TENSORRT_10_3``.

No TensorRT 10.3 Python package exists for this machine, so the check is static: an AST walk over
trtmatte/engine, trtmatte/runtime and trtmatte/fused_blend collects
  * ``trt.X`` and ``trt.X.Y`` (the module is reached as ``trt``, ``self.trt``, ``loaded.trt`` or
    ``flavour.module``),
  * attributes and methods used on TensorRT objects whose type the walk can tell: values made by a
    TensorRT factory (``trt.Builder(...)``, ``builder.create_builder_config()``, ...), the fields of
    trtmatte's holders (``parsed.network``, ``loaded.engine``, ``slot.context``, ...) and the
    parameters trtmatte names after them (``config``, ``context``),
and looks each up in the vendored 10.3 headers (third_party/tensorrt/10.3/include): TensorRT's Python
names are the C++ names in snake_case (``create_builder_config`` = ``createBuilderConfig``; a property
``x`` is ``getX``/``setX``; ``num_`` is ``Nb``; enum members drop the ``k``). The few bindings named
otherwise are in BINDING_NAMES. Names reached through ``getattr(obj, "name", default)`` are guarded by
construction and not collected. The ONNX parser is not checked: 10.3's include folder has no
NvOnnxParser.h (it lived in the parser's own repository then).
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import pytest

from trtmatte.engine.flavour import NOT_IN_TENSORRT_10_3

REPO = Path(__file__).resolve().parents[2]
HEADERS_10_3 = REPO / "third_party" / "tensorrt" / "10.3" / "include"
HEADERS_11_1 = REPO / "third_party" / "tensorrt" / "11.1" / "include"
SCANNED = [REPO / "trtmatte" / d for d in ("engine", "runtime", "fused_blend")]

# Python binding name -> C++ name, where the binding does not follow the snake_case rule.
BINDING_NAMES = {
    "Builder": "IBuilder", "Runtime": "IRuntime", "Logger": "ILogger",
    "set_shape": "setDimensions",  # IOptimizationProfile.set_shape(name, min, opt, max)
    "get_tensor_name": "getIOTensorName",
    "shape": "getDimensions",  # ITensor.shape
    "dtype": "getType",  # ITensor.dtype
    "get_tensor_profile_shape": "getProfileShape",
    "create_network": "createNetworkV2",
    "get_tensor_dtype": "getTensorDataType",
    "get_tensor_mode": "getTensorIOMode",
    "execute_async_v3": "enqueueV3",
}
# The values of trt.Logger's severities are ILogger::Severity members.
NESTED_ENUMS = {"ILogger": "Severity"}

# What a TensorRT call returns, for the types the walk follows: (receiver type, method) -> type.
RETURNS = {
    ("module", "Builder"): "IBuilder", ("module", "Runtime"): "IRuntime", ("module", "OnnxParser"): "IParser",
    ("module", "get_plugin_registry"): "IPluginRegistry",
    ("IBuilder", "create_builder_config"): "IBuilderConfig", ("IBuilder", "create_network"): "INetworkDefinition",
    ("IBuilder", "create_optimization_profile"): "IOptimizationProfile",
    ("IBuilder", "build_serialized_network"): "IHostMemory",
    ("IBuilderConfig", "create_timing_cache"): "ITimingCache", ("IBuilderConfig", "get_timing_cache"): "ITimingCache",
    ("INetworkDefinition", "get_input"): "ITensor", ("INetworkDefinition", "get_output"): "ITensor",
    ("IRuntime", "deserialize_cuda_engine"): "ICudaEngine",
    ("ICudaEngine", "create_execution_context"): "IExecutionContext",
    ("ICudaEngine", "create_engine_inspector"): "IEngineInspector",
}
# Attributes of trtmatte's own holders (ParsedNetwork, LoadedEngine, TrtEngineLayer, _Slot) and the
# parameter names trtmatte gives TensorRT objects.
HOLDER_FIELDS = {"builder": "IBuilder", "network": "INetworkDefinition", "parser": "IParser",
                 "engine": "ICudaEngine", "context": "IExecutionContext", "runtime": "IRuntime"}
PARAMETERS = {"builder": "IBuilder", "config": "IBuilderConfig", "context": "IExecutionContext", "registry": "IPluginRegistry"}
MODULE_NAMES = {"trt"}  # a bare name bound to the TensorRT module
MODULE_FIELDS = {"trt", "module"}  # self.trt, loaded.trt, flavour.module
UNCHECKED_TYPES = {"IParser"}  # no NvOnnxParser.h in the 10.3 headers (module doc)
UNCHECKED_MODULE_NAMES = {"OnnxParser"}  # the same


# --------------------------------------------------------------------------------------------- headers

def _body(text: str, open_brace: int) -> str:
    depth = 0
    for i in range(open_brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace + 1:i]
    return text[open_brace + 1:]


@lru_cache(maxsize=None)
def headers(folder: Path) -> dict:
    """classes: name -> {methods, bases, enums}; enums: name -> members (no k); functions: free names."""
    text = "\n".join(re.sub(r"//[^\n]*|/\*.*?\*/", "", p.read_text(), flags=re.S) for p in sorted(folder.glob("*.h")))
    enums: dict[str, set[str]] = defaultdict(set)
    for m in re.finditer(r"enum class (\w+)\s*:\s*\w+\s*\{([^}]*)\}", text):
        enums[m[1]] |= {e[1:] for e in re.findall(r"\b(k\w+)", m[2])}
    classes: dict[str, dict] = defaultdict(lambda: {"methods": set(), "bases": set(), "enums": set()})
    for m in re.finditer(r"\b(?:class|struct)\s+(?:TRT_DEPRECATED\s+|TENSORRTAPI\s+)*(\w+)\s*(?::([^{;]*))?\{", text):
        body = _body(text, m.end() - 1)
        entry = classes[m[1]]
        entry["methods"] |= set(re.findall(r"\b(\w+)\s*\(", body))
        entry["bases"] |= set(re.findall(r"(?:public|protected)\s+(?:\w+::)*(\w+)", m[2] or ""))
        entry["enums"] |= set(re.findall(r"enum class (\w+)", body))
    functions = set(re.findall(r"\b(\w+)\s*\(", text))
    return {"classes": dict(classes), "enums": dict(enums), "functions": functions}


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def _candidates(py_name: str) -> set[str]:
    """Normalised C++ spellings of a Python binding name: itself, getX/setX/isX, num_ -> Nb."""
    base = BINDING_NAMES.get(py_name, py_name)
    stems = {_norm(base)}
    if "num_" in base:
        stems.add(_norm(base.replace("num_", "nb_")))
    return stems | {p + s for s in stems for p in ("get", "set", "is")}


def _methods(api: dict, cls: str) -> set[str]:
    seen, todo, out = set(), [cls], set()
    while todo:
        c = todo.pop()
        if c in seen or c not in api["classes"]:
            continue
        seen.add(c)
        out |= {_norm(m) for m in api["classes"][c]["methods"]}
        todo += list(api["classes"][c]["bases"])
    return out


def _class_or_enum(api: dict, name: str) -> str | None:
    for candidate in (BINDING_NAMES.get(name, name), "I" + name):
        if candidate in api["classes"] or candidate in api["enums"]:
            return candidate
    return None


def missing(api: dict, use: tuple) -> bool:
    """Whether a collected use (see collect) is absent from these headers."""
    kind = use[0]
    if kind == "module":  # trt.X
        name = use[1]
        return _class_or_enum(api, name) is None and not (_candidates(name) & {_norm(f) for f in api["functions"]})
    if kind == "member":  # trt.X.Y
        owner, member = use[1], use[2]
        cls = _class_or_enum(api, owner)
        if cls is None:
            return True
        if cls in api["enums"]:
            return member not in api["enums"][cls]
        nested = {NESTED_ENUMS.get(cls, "")} | api["classes"][cls]["enums"]
        if any(member in api["enums"].get(e, ()) for e in nested):
            return False
        return not (_candidates(member) & _methods(api, cls))
    cls, member = use[1], use[2]  # ("object", IClass, attribute)
    return not (_candidates(member) & _methods(api, cls))


# --------------------------------------------------------------------------------------------- code

def _is_module(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in MODULE_NAMES) or \
        (isinstance(node, ast.Attribute) and node.attr in MODULE_FIELDS)


class _Collector(ast.NodeVisitor):
    def __init__(self, where: str):
        self.where = where
        self.uses: dict[tuple, set[str]] = defaultdict(set)
        self.types: list[dict[str, str]] = [{}]

    def _add(self, use: tuple, node: ast.AST) -> None:
        self.uses[use].add(f"{self.where}:{node.lineno}")

    def type_of(self, node: ast.AST) -> str | None:
        if _is_module(node):
            return "module"
        if isinstance(node, ast.Name):
            return next((scope[node.id] for scope in reversed(self.types) if node.id in scope), None)
        if isinstance(node, ast.Attribute):
            owner = self.type_of(node.value)
            if owner is None or owner == "module" and node.attr in HOLDER_FIELDS:
                return HOLDER_FIELDS.get(node.attr) if owner is None else None
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return RETURNS.get((self.type_of(node.func.value), node.func.attr))
        if isinstance(node, ast.Subscript):  # contexts[0]
            return self.type_of(node.value)
        return None

    def visit_FunctionDef(self, node):
        scope = {a.arg: PARAMETERS[a.arg] for a in node.args.args + node.args.kwonlyargs if a.arg in PARAMETERS}
        self.types.append(scope)
        self.generic_visit(node)
        self.types.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _bind(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts):  # builder, network = parsed.builder, parsed.network
                self._bind(t, v)
        elif isinstance(target, ast.Name):
            kind = self.type_of(value)
            if kind:
                self.types[-1][target.id] = kind
            else:
                self.types[-1].pop(target.id, None)

    def visit_Assign(self, node):
        self.generic_visit(node)
        for target in node.targets:
            self._bind(target, node.value)

    def visit_ListComp(self, node):  # contexts = [layer.create_context(...) ...]: not TensorRT's
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr.startswith("__"):
            return self.generic_visit(node)
        if _is_module(node.value):
            if node.attr not in UNCHECKED_MODULE_NAMES:
                self._add(("module", node.attr), node)
        elif isinstance(node.value, ast.Attribute) and _is_module(node.value.value) \
                and not node.value.attr.startswith("__"):
            self._add(("member", node.value.attr, node.attr), node)
            return  # trt.X itself is collected as part of trt.X.Y
        else:
            kind = self.type_of(node.value)
            if kind and kind not in ("module", "IHostMemory") and kind not in UNCHECKED_TYPES:
                self._add(("object", kind, node.attr), node)
        self.generic_visit(node)


def collect(paths=SCANNED) -> dict[tuple, set[str]]:
    uses: dict[tuple, set[str]] = defaultdict(set)
    for folder in paths:
        for path in sorted(Path(folder).rglob("*.py")):
            where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
            collector = _Collector(str(where))
            collector.visit(ast.parse(path.read_text(), str(path)))
            for use, where in collector.uses.items():
                uses[use] |= where
    return uses


def _label(use: tuple) -> str:
    return {"module": lambda: f"trt.{use[1]}", "member": lambda: f"trt.{use[1]}.{use[2]}",
            "object": lambda: f"{use[1]}.{use[2]}"}[use[0]]()


def _guard_key(use: tuple) -> str:
    return use[-1] if use[0] != "member" else f"{use[1]}.{use[2]}"


def _guarded(use: tuple) -> bool:
    return _guard_key(use) in NOT_IN_TENSORRT_10_3 or (use[0] != "object" and use[1] in NOT_IN_TENSORRT_10_3)


# --------------------------------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def uses():
    return collect()


def test_every_tensorrt_name_exists_in_10_3(uses):
    api = headers(HEADERS_10_3)
    absent = sorted(f"{_label(u)} ({', '.join(sorted(w))})" for u, w in uses.items() if not _guarded(u) and missing(api, u))
    assert not absent, ("TensorRT API not in TensorRT 10.3 (JetPack 6): guard it (flavour or version) and list it "
                        "with the reason in trtmatte.engine.flavour.NOT_IN_TENSORRT_10_3:\n  " + "\n  ".join(absent))


def test_the_walk_sees_the_api_trtmatte_relies_on(uses):
    """A walk that collects nothing would pass the test above: these uses must be among what it found."""
    labels = {_label(u) for u in uses}
    for expected in ("trt.Builder", "trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED", "IBuilder.create_builder_config",
                     "IBuilderConfig.set_memory_pool_limit", "IBuilderConfig.builder_optimization_level",
                     "IBuilder.build_serialized_network", "IOptimizationProfile.set_shape", "INetworkDefinition.num_inputs",
                     "IRuntime.deserialize_cuda_engine", "ICudaEngine.num_io_tensors", "ICudaEngine.get_tensor_name",
                     "IExecutionContext.set_input_shape", "IExecutionContext.set_tensor_address",
                     "IExecutionContext.execute_async_v3", "trt.Logger.ERROR", "trt.IPluginV3OneBuild",
                     "IBuilderConfig.default_device_type", "IBuilderConfig.DLA_core", "trt.BuilderFlag.GPU_FALLBACK",
                     "trt.DeviceType.DLA", "IBuilder.num_DLA_cores"):
        assert expected in labels, expected
    assert len(uses) >= 50


def test_guarded_names_are_real_and_explained(uses):
    """Each exception is used by the code, really absent from 10.3, and says why it is safe there."""
    api = headers(HEADERS_10_3)
    for name, reason in NOT_IN_TENSORRT_10_3.items():
        used = [u for u in uses if _guard_key(u) == name or (u[0] != "object" and u[1] == name)]
        assert used, f"{name} is listed in NOT_IN_TENSORRT_10_3 but the code no longer uses it: remove it"
        assert any(missing(api, u) for u in used), f"{name} exists in TensorRT 10.3: remove it from NOT_IN_TENSORRT_10_3"
        assert len(reason.split()) >= 5, (name, reason)


@pytest.mark.parametrize("snippet,label", [
    # TensorRT 11 additions: absent from 10.3, present in 11.1's headers
    ("def f(config):\n    config.set_flag(trt.BuilderFlag.MONITOR_MEMORY)\n", "trt.BuilderFlag.MONITOR_MEMORY"),
    ("def f(trt):\n    builder = trt.Builder(None)\n    builder.create_builder_config().max_num_tactics = 1\n",
     "IBuilderConfig.max_num_tactics"),
    ("def f(trt):\n    config = trt.Builder(None).create_builder_config()\n    config.tiling_optimization_level = 1\n",
     "IBuilderConfig.tiling_optimization_level"),
    ("def f(loaded):\n    loaded.engine.get_weight_streaming_automatic_budget\n", None),
])
def test_an_unguarded_newer_api_fails(tmp_path, snippet, label):
    """The check catches a newer API (known to 11.1's headers, unknown to 10.3's), and flags nothing
    that 10.3 has."""
    (tmp_path / "new_code.py").write_text(snippet)
    found = collect([tmp_path])
    api_10, api_11 = headers(HEADERS_10_3), headers(HEADERS_11_1)
    flagged = {_label(u) for u in found if missing(api_10, u)}
    if label is None:  # weight streaming is 10.0+: present in 10.3, not flagged
        assert found and not flagged, flagged
        return
    assert label in flagged, (flagged, found)
    assert not any(missing(api_11, u) for u in found if _label(u) == label)
