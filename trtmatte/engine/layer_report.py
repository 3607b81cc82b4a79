"""Per-layer precision report of a built engine, captured at build time.

Deserializing a plan needs a GPU, so ``trtmatte inspect`` cannot ask the engine inspector on a
CPU-only machine. With ``ProfilingVerbosity.DETAILED`` the builder logs, at VERBOSE severity, one
message that starts with ``Layers:`` and lists every layer in the inspector's ONELINE format
(``Name: ..., LayerType: ..., Inputs: [ { Name: ..., Dimensions: [...], Datatype: Half, Format:
... } ], Constants: [...], Outputs: [...], TacticName: ..., Metadata: [ONNX Layer: ...]``),
followed by ``I/O Tensors:`` with the profile ranges. This module parses that text (or the
inspector's JSON, where a GPU is present) into a :class:`LayerReport` stored beside the plan.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

# Layer types whose input precision is "the" precision of the math (convolutions, GEMMs).
COMPUTE_LAYER_TYPES = ("correlation", "convolution", "gemm", "matrixmultiply", "caskconvolution", "cublas",
                       "caskgemm", "deconvolution", "runtime_fusion")


@dataclass
class TensorInfo:
    name: str
    dtype: str
    dims: list[int]
    format: str = ""


@dataclass
class LayerInfo:
    name: str
    type: str
    inputs: list[TensorInfo] = field(default_factory=list)
    constants: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    tactic: str = ""
    onnx_layers: list[str] = field(default_factory=list)

    @property
    def is_compute(self) -> bool:
        return self.type.lower() in COMPUTE_LAYER_TYPES

    @property
    def weights(self) -> TensorInfo | None:
        """The weight tensor: the highest-rank constant (scales and biases are rank <= 1 or 4D 1x)."""
        ranked = [c for c in self.constants if len(c.dims) >= 2 and sum(d > 1 for d in c.dims) >= 2]
        return ranked[0] if ranked else None

    @property
    def precision(self) -> str:
        """Input data type of the layer's first input (what the math runs in)."""
        return self.inputs[0].dtype if self.inputs else (self.outputs[0].dtype if self.outputs else "?")


@dataclass
class IOTensor:
    name: str
    mode: str  # Input / Output
    dtype: str
    dims: list[int]
    profile: dict[str, list[int]] = field(default_factory=dict)  # min/opt/max for inputs


@dataclass
class LayerReport:
    layers: list[LayerInfo]
    io: list[IOTensor] = field(default_factory=list)
    source: str = "builder-log"  # or "engine-inspector"
    memory: dict[str, int] = field(default_factory=dict)  # from the builder's INFO lines

    def compute_layers(self) -> list[LayerInfo]:
        return [layer for layer in self.layers if layer.is_compute]

    def conv_layers(self) -> list[LayerInfo]:
        """Compute layers made from ONNX Convs. TensorRT-RTX runs a conv as ``correlation``, a 1x1 conv
        sometimes as ``gemm`` (``__gemm_from_conv1x1``), merges a few into ``runtime_fusion``
        layers and folds tiny ones (1-channel logit convs) into generated ``kgen`` kernels; fused
        epilogues (``kgen``) name their Conv too, hence the layer-type test."""
        return [layer for layer in self.compute_layers()
                if any(re.search(r"conv", name, re.IGNORECASE) for name in layer.onnx_layers)]

    def precision_counts(self) -> dict[str, int]:
        """How many convolution/GEMM layers run in each input precision."""
        return dict(Counter(layer.precision for layer in self.compute_layers()))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "LayerReport":
        d = json.loads(text)
        layers = [LayerInfo(**{**l, "inputs": [TensorInfo(**t) for t in l["inputs"]],
                               "constants": [TensorInfo(**t) for t in l["constants"]],
                               "outputs": [TensorInfo(**t) for t in l["outputs"]]}) for l in d["layers"]]
        return cls(layers, [IOTensor(**t) for t in d.get("io", [])], d.get("source", "builder-log"), d.get("memory", {}))


def _bracketed(text: str, key: str) -> str:
    """The text inside the brackets after ``key: [`` (nesting-aware), or ''."""
    start = text.find(f"{key}: [")
    if start < 0:
        return ""
    i = start + len(key) + 3
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "[":
            depth += 1
        elif text[j] == "]":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return text[i:]


def _dims(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip().lstrip("-").isdigit()]


_TENSOR = re.compile(r"\{ Name: (?P<name>.*?), (?:Location: \w+, )?Dimensions: \[(?P<dims>[^\]]*)\].*?"
                     r"Datatype: (?P<dtype>\w+)(?:, Format: (?P<format>.*?))? \}")


def _tensors(section: str) -> list[TensorInfo]:
    return [TensorInfo(m["name"], m["dtype"], _dims(m["dims"]), (m["format"] or "").strip())
            for m in _TENSOR.finditer(section)]


_LAYER = re.compile(r"^\s*Name: (?P<name>.*?), LayerType: (?P<type>[\w ]+?),")
_TACTIC = re.compile(r"Tactic(?:Name|Value): ([^,]*)")
_IO = re.compile(r"^\s*Name: (?P<name>.*?), IOMode: (?P<mode>\w+), DataType: (?P<dtype>\w+), Dimensions: \[(?P<dims>[^\]]*)\]")
_MEMORY = re.compile(r"(Total Host Persistent Memory|Total Device Persistent Memory|Max Scratch Memory|"
                     r"Total Activation Memory|Total Weights Memory): (\d+)")


def parse_builder_log(messages: list[str]) -> LayerReport | None:
    """Find the ``Layers:`` message among the builder's log messages and parse it."""
    text = next((m for m in messages if m.lstrip().startswith("Layers:")), None)
    if text is None:
        return None
    layers, io = [], []
    for line in text.splitlines():
        m = _LAYER.match(line)
        if m:
            tactic = _TACTIC.search(line)
            layers.append(LayerInfo(m["name"], m["type"].strip(), _tensors(_bracketed(line, "Inputs")),
                                    _tensors(_bracketed(line, "Constants")), _tensors(_bracketed(line, "Outputs")),
                                    tactic.group(1).strip() if tactic else "",
                                    re.findall(r"\[ONNX Layer: ([^\]]*)\]", line)))
            continue
        m = _IO.match(line)
        if m:
            profile = {}
            for key, name in (("MinShape", "min"), ("OptShape", "opt"), ("MaxShape", "max")):
                found = re.search(rf"{key}: \[([^\]]*)\]", line)
                if found:
                    profile[name] = _dims(found.group(1))
            io.append(IOTensor(m["name"], m["mode"], m["dtype"], _dims(m["dims"]), profile))
    memory = {}
    for message in messages:
        for key, value in _MEMORY.findall(message):
            memory[key] = int(value)
    return LayerReport(layers, io, "builder-log", memory)


_INSPECTOR_DTYPES = {"FP32": "Float", "FP16": "Half", "BF16": "BFloat16", "Int8": "Int8", "INT8": "Int8",
                     "Int32": "Int32", "INT32": "Int32", "UInt8": "UInt8", "UINT8": "UInt8", "FP8": "FP8", "Bool": "Bool"}


def _inspector_tensor(t: dict) -> TensorInfo:
    # DETAILED inspector JSON spells the type inside "Format/Datatype", e.g. "Channel major FP16 format (kHWC8)"
    text = t.get("Format/Datatype", "")
    dtype = next((v for k, v in _INSPECTOR_DTYPES.items() if re.search(rf"\b{k}\b", text)), "?")
    return TensorInfo(t.get("Name", ""), dtype, list(t.get("Dimensions", [])), text)


def from_inspector_json(text: str) -> LayerReport:
    """Parse ``IEngineInspector.get_engine_information(LayerInformationFormat.JSON)`` (GPU machines)."""
    layers = []
    for layer in json.loads(text).get("Layers", []):
        if isinstance(layer, str):  # an engine built without DETAILED verbosity lists names only
            layers.append(LayerInfo(layer, "?"))
            continue
        layers.append(LayerInfo(layer.get("Name", ""), layer.get("LayerType", "?"),
                                [_inspector_tensor(t) for t in layer.get("Inputs", [])],
                                [_inspector_tensor(t) for t in layer.get("Constants", [])],
                                [_inspector_tensor(t) for t in layer.get("Outputs", [])],
                                str(layer.get("TacticName", layer.get("TacticValue", ""))),
                                re.findall(r"\[ONNX Layer: ([^\]]*)\]", str(layer.get("Metadata", "")))))
    return LayerReport(layers, [], "engine-inspector")
