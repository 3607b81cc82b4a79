"""FP16 and INT8 on TensorRT 11: `trtmatte build` never relies on a precision builder flag.

TensorRT 11.0 removed BuilderFlag kFP16/kINT8/kBF16/kFP8/kINT4 (deprecated since 10.1) and
implicit INT8 calibration; precision lives in the ONNX graph (float16 tensors, Q/DQ pairs) of a
strongly typed network, which TensorRT 10.x builds the same way. Checked statically against the
vendored headers (third_party/tensorrt/10.3 and 11.1; no TensorRT 11 wheel runs here), in
milliseconds: every builder flag trtmatte's Python or C++ code names exists in both versions and
none is a precision flag, and every network it creates is strongly typed.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEADERS = {v: REPO / "third_party" / "tensorrt" / v / "include" / "NvInfer.h" for v in ("10.3", "11.1")}
PRECISION_FLAGS = {"FP16", "INT8", "BF16", "FP8", "INT4"}
SOURCES = [p for d in ("trtmatte", "cpp", "plugins") for p in (REPO / d).rglob("*")
           if p.suffix in (".py", ".cpp", ".h", ".cu") and p.is_file()]


def enum_members(header: Path, enum: str) -> set[str]:
    text = header.read_text(errors="replace")
    body = re.search(rf"enum class {enum}\s*:\s*\w+\s*\{{(.*?)\}};", text, re.S)
    assert body, f"{enum} not found in {header}"
    return {m[1:] for m in re.findall(r"^\s*(k[A-Z0-9_]+)", body.group(1), re.M)}


@pytest.fixture(scope="module")
def flags():
    missing = [str(h) for h in HEADERS.values() if not h.is_file()]
    if missing:
        pytest.skip(f"vendored TensorRT headers missing: {', '.join(missing)}")
    return {v: enum_members(h, "BuilderFlag") for v, h in HEADERS.items()}


def test_tensorrt_11_has_no_precision_flags_and_both_build_strongly_typed(flags):
    """The facts the design rests on, read from the headers themselves."""
    assert PRECISION_FLAGS <= flags["10.3"]
    assert not PRECISION_FLAGS & flags["11.1"]
    for header in HEADERS.values():
        assert "STRONGLY_TYPED" in enum_members(header, "NetworkDefinitionCreationFlag")


def test_build_names_only_flags_both_versions_have(flags):
    used: dict[str, list[str]] = {}
    for path in SOURCES:
        for flag in re.findall(r"BuilderFlag(?:\.|::)k?([A-Z][A-Z0-9_]*)", path.read_text(errors="replace")):
            used.setdefault(flag, []).append(str(path.relative_to(REPO)))
    assert used, "no BuilderFlag found: the scan lost the engine code"
    for flag, where in used.items():
        assert flag not in PRECISION_FLAGS, (flag, where)
        assert flag in flags["10.3"] and flag in flags["11.1"], (flag, where)


def test_every_network_is_strongly_typed():
    calls = []
    for path in SOURCES:
        text = path.read_text(errors="replace")
        for match in re.finditer(r"(create_network|createNetworkV2)\s*\(([^)]*\)?)", text):
            calls.append((str(path.relative_to(REPO)), match.group(2)))
    assert calls, "no network creation found: the scan lost the engine code"
    for where, arguments in calls:
        assert "STRONGLY_TYPED" in arguments, (where, arguments)
