"""``trtmatte inspect``: what a plan contains, from the layer report captured at build time, or
from TensorRT's engine inspector when a GPU and TensorRT can deserialize the plan."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import TrtmatteError
from .layer_report import LayerReport, from_inspector_json
from .sidecar import layers_path, read_sidecar


def load_report(plan: str | os.PathLike, prefer_inspector: bool = True) -> LayerReport:
    """The engine inspector's report when the plan can be deserialized here, else the build-time one."""
    if prefer_inspector:
        try:
            from .loader import load

            loaded = load(plan)
        except TrtmatteError:
            loaded = None  # no GPU / no matching TensorRT: fall back to the build-time report
        if loaded is not None:
            inspector = loaded.engine.create_engine_inspector()
            return from_inspector_json(inspector.get_engine_information(loaded.trt.LayerInformationFormat.JSON))
    path = layers_path(plan)
    if not path.is_file():
        raise TrtmatteError(f"{plan} has no layer report ({path.name}) and cannot be deserialized here; "
                            "rebuild it with `trtmatte build`, which writes one")
    return LayerReport.from_json(path.read_text())


def summarize(plan: str | os.PathLike, prefer_inspector: bool = True) -> dict:
    plan = Path(plan)
    if not plan.is_file():
        raise TrtmatteError(f"engine {plan} not found")
    meta = read_sidecar(plan)
    report = load_report(plan, prefer_inspector)
    memory = report.memory
    return {
        "plan": str(plan), "plan_bytes": plan.stat().st_size, "report_source": report.source,
        "tensorrt": f"{meta.tensorrt_flavour} {meta.tensorrt_version}", "precision": meta.precision,
        "targets": meta.targets or [meta.gpu_name], "profile": meta.profile,
        "io": [{"name": t.name, "mode": t.mode, "dtype": t.dtype, "dims": t.dims, **t.profile} for t in report.io],
        "device_memory_bytes": {"activations": memory.get("Total Activation Memory"),
                                "weights": memory.get("Total Weights Memory"),
                                "persistent": memory.get("Total Device Persistent Memory")},
        "precision_counts": report.precision_counts(),
        "layers": [{"name": layer.name, "type": layer.type, "precision": layer.precision,
                    "weights": layer.weights.dtype if layer.weights else None, "tactic": layer.tactic,
                    "onnx": layer.onnx_layers} for layer in report.layers],
    }


def format_summary(s: dict, all_layers: bool = False) -> str:
    mib = lambda b: "?" if b is None else f"{b / 2**20:.1f} MiB"  # noqa: E731
    lines = [f"{s['plan']}: {s['plan_bytes'] / 2**20:.1f} MiB, {s['tensorrt']}, precision {s['precision']}, "
             f"targets {', '.join(s['targets'])} (report: {s['report_source']})"]
    for t in s["io"]:
        ranges = f" min {t.get('min')} opt {t.get('opt')} max {t.get('max')}" if t.get("min") else ""
        lines.append(f"  {t['mode'].lower():<6} {t['name']}: {t['dtype']} {t['dims']}{ranges}")
    m = s["device_memory_bytes"]
    lines.append(f"  device memory: activations {mib(m['activations'])} (at the max shape), weights {mib(m['weights'])}")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(s["precision_counts"].items()))
    lines.append(f"  convolution/GEMM layers by input precision: {counts or 'none'}")
    shown = s["layers"] if all_layers else [layer for layer in s["layers"] if layer["weights"] or layer["type"] in ("correlation", "gemm")]
    lines.append(f"  {'layer':<48} {'type':<12} {'in':<7} {'weights':<8} tactic")
    for layer in shown:
        lines.append(f"  {layer['name'][:48]:<48} {layer['type'][:12]:<12} {layer['precision']:<7} "
                     f"{layer['weights'] or '-':<8} {layer['tactic'][:40]}")
    if not all_layers and len(shown) < len(s["layers"]):
        lines.append(f"  ({len(s['layers']) - len(shown)} other layers: --all to list them)")
    return "\n".join(lines)
