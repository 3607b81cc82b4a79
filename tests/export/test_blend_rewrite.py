"""`--fused-blend`: the exported graph with one trtmatte::FusedBlend node (ONNX checker), its
expansion back into plain ONNX ops (onnxruntime matches the plain export), the expansion against the
kernel's CPU twin and NumPy, and TensorRT-RTX refusing the custom node."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is needed for export tests (pip install -e '.[test]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed to run the expanded graphs")

from trtmatte.errors import TrtmatteError  # noqa: E402
from trtmatte.export import ExportOptions, export_onnx  # noqa: E402
from trtmatte.export.blend_rewrite import expand_fused_blend, fuse_blend, fused_blend_nodes, node_attrs  # noqa: E402
from trtmatte.contract.graphio import check_graph  # noqa: E402
from trtmatte.models import get_config  # noqa: E402
from trtmatte.fused_blend import library  # noqa: E402
from trtmatte.fused_blend.blend_op import FusedBlendAttrs, reference_alpha  # noqa: E402

from helpers.plugin_build import built_library  # noqa: E402
from helpers.tiny_model import TinyLateFusion  # noqa: E402

PRE = get_config("late_fusion").preprocessing
REPO = Path(__file__).resolve().parents[2]


def images(n=1, h=45, w=70, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def run(model_or_path, feeds):
    source = model_or_path if isinstance(model_or_path, (str, Path)) else model_or_path.SerializeToString()
    sess = ort.InferenceSession(str(source) if isinstance(source, Path) else source)
    return sess.run(None, feeds)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """TinyLateFusion exported plain and with --fused-blend (float32 alpha), ~10 s each."""
    root = tmp_path_factory.mktemp("fused")
    plain, fused = root / "plain.onnx", root / "fused.onnx"
    export_onnx(TinyLateFusion(), "late_fusion", PRE, plain, ExportOptions(alpha_dtype="float32"))
    report = export_onnx(TinyLateFusion(), "late_fusion", PRE, fused, ExportOptions(alpha_dtype="float32", fused_blend=True))
    return plain, fused, report


def test_fused_graph_has_one_plugin_node_and_passes_the_checker(exports):
    plain, fused, report = exports
    model = onnx.load(str(fused))
    onnx.checker.check_model(model, full_check=True)
    (node,) = fused_blend_nodes(model)
    assert node.op_type == "FusedBlend" and node.domain == "trtmatte"
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs == {"plugin_namespace": b"trtmatte", "plugin_version": b"1", "fg_bg_logits": 1, "alpha_dtype": 1,
                     "crop_hw": [0, 0]}
    assert node_attrs(node) == FusedBlendAttrs()
    assert {o.domain: o.version for o in model.opset_import}["trtmatte"] == 1
    ops = [n.op_type for n in model.graph.node]
    assert "Sigmoid" not in ops
    producers = {out: n.op_type for n in model.graph.node for out in n.output}
    assert all(producers[i] == "Conv" for i in node.input)  # fed by the three logit convs
    n_plain = len(onnx.load(str(plain)).graph.node)
    assert len(model.graph.node) == n_plain - 8 + 1  # 3 Sigmoid + Mul, Sub, Sub, Mul, Add -> 1 node
    assert report.fused_blend["replaced"] and len(report.fused_blend["replaced"]) == 8
    meta = {p.key: p.value for p in model.metadata_props}
    assert '"FusedBlend"' not in meta["trtmatte.fused_blend"] and "trtmatte_FusedBlend" in meta["trtmatte.fused_blend"]


def test_onnxruntime_cannot_run_the_custom_node(exports):
    _, fused, _ = exports
    with pytest.raises(Exception, match="FusedBlend"):
        ort.InferenceSession(str(fused))


@pytest.mark.parametrize("n,h,w", [(1, 45, 70), (3, 33, 200), (1, 900, 130)])  # 900 > cap: downscale path
def test_expanded_graph_matches_plain_export(exports, n, h, w):
    plain, fused, _ = exports
    expanded = expand_fused_blend(onnx.load(str(fused)))
    check_graph(expanded, "expanded graph")
    assert not fused_blend_nodes(expanded) and "trtmatte" not in {o.domain for o in expanded.opset_import}
    x = images(n, h, w)
    (ref,) = run(plain, {"image": x})
    (got,) = run(expanded, {"image": x})
    assert got.dtype == ref.dtype and got.shape == ref.shape == (n, h, w)
    assert ref.std() > 0.02  # alpha varies, so equality means something
    assert np.abs(got - ref).max() <= 1e-6


def test_debug_outputs_keep_their_sigmoids(tmp_path):
    plain, fused = tmp_path / "plain.onnx", tmp_path / "fused.onnx"
    opts = dict(alpha_dtype="uint8", debug_outputs=True)
    export_onnx(TinyLateFusion(), "late_fusion", PRE, plain, ExportOptions(**opts))
    report = export_onnx(TinyLateFusion(), "late_fusion", PRE, fused, ExportOptions(**opts, fused_blend=True))
    assert len(report.fused_blend["sigmoids_kept"]) == 3 and len(report.fused_blend["replaced"]) == 5
    model = onnx.load(str(fused))
    assert [n.op_type for n in model.graph.node].count("Sigmoid") == 3 and len(fused_blend_nodes(model)) == 1
    x = images(2, 40, 64, seed=3)
    ref = run(plain, {"image": x})
    got = run(expand_fused_blend(model), {"image": x})
    assert [r.dtype for r in ref] == [g.dtype for g in got]
    assert np.abs(got[0].astype(int) - ref[0].astype(int)).max() <= 1  # uint8 alpha
    for r, g in zip(ref[1:], got[1:]):  # fg, bg, beta untouched
        np.testing.assert_array_equal(r, g)


# ---- the node's meaning: expansion == kernel (CPU twin) == NumPy, for every attribute combination ----

def single_node_graph(attrs: FusedBlendAttrs, in_dtype: str):
    helper, T = onnx.helper, onnx.TensorProto
    code = {"float32": T.FLOAT, "float16": T.FLOAT16}[in_dtype]
    ins = [helper.make_tensor_value_info(name, code, ["N", 1, "H", "W"]) for name in ("fg", "bg", "beta")]
    out_code = {"float32": T.FLOAT, "float16": T.FLOAT16, "uint8": T.UINT8}[attrs.alpha_dtype]
    out = helper.make_tensor_value_info("alpha", out_code, ["N", 1, "h", "w"])
    fields = attrs.to_fields()
    node = helper.make_node("FusedBlend", ["fg", "bg", "beta"], ["alpha"], name="blend", domain="trtmatte",
                            plugin_namespace="trtmatte", plugin_version="1", fg_bg_logits=int(fields["fg_bg_logits"][0]),
                            alpha_dtype=int(fields["alpha_dtype"][0]), crop_hw=[int(v) for v in fields["crop_hw"]])
    graph = helper.make_graph([node], "fused_blend", ins, [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("trtmatte", 1)])


@pytest.fixture(scope="module")
def cpu_lib():
    return built_library(library.CPU_LIBRARY)


@pytest.mark.parametrize("in_dtype", ["float32", "float16"])
@pytest.mark.parametrize("attrs", [FusedBlendAttrs(), FusedBlendAttrs(alpha_dtype="uint8", crop_hw=(13, 21)),
                                   FusedBlendAttrs(fg_bg_logits=False, alpha_dtype="float16"),
                                   FusedBlendAttrs(alpha_dtype="float32", crop_hw=(1, 1))])
def test_expansion_matches_kernel_and_numpy(cpu_lib, attrs, in_dtype):
    rng = np.random.default_rng(7)
    fg, bg, beta = ((rng.standard_normal((2, 1, 17, 23)) * 5).astype(in_dtype) for _ in range(3))
    if not attrs.fg_bg_logits:
        fg, bg = (np.clip(a / 10 + 0.5, 0, 1).astype(in_dtype) for a in (fg, bg))
    model = single_node_graph(attrs, in_dtype)
    check_graph(model, "single FusedBlend node")
    expanded = expand_fused_blend(copy.deepcopy(model))
    check_graph(expanded, "expanded node")
    (onnx_alpha,) = run(expanded, {"fg": fg, "bg": bg, "beta": beta})
    kernel_alpha = library.run_cpu(fg, bg, beta, attrs, cpu_lib)
    ref = reference_alpha(fg, bg, beta, attrs)
    assert onnx_alpha.dtype == kernel_alpha.dtype == ref.dtype and onnx_alpha.shape == kernel_alpha.shape == ref.shape
    # float16 inputs: onnxruntime computes in float16, the kernel in float32
    tol = {"uint8": 1, "float16": 2e-3, "float32": 1e-6 if in_dtype == "float32" else 2e-3}[attrs.alpha_dtype]
    assert np.abs(onnx_alpha.astype(np.float64) - kernel_alpha.astype(np.float64)).max() <= tol
    assert np.abs(kernel_alpha.astype(np.float64) - ref.astype(np.float64)).max() <= max(tol, 2 ** -11 if attrs.alpha_dtype == "float16" else 0)


def test_graph_without_blend_is_refused():
    helper, T = onnx.helper, onnx.TensorProto
    x = helper.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])
    w = helper.make_tensor("w", T.FLOAT, [1, 3, 1, 1], [0.1, 0.2, 0.3])
    nodes, outs = [], []
    for i in range(3):
        nodes += [helper.make_node("Conv", ["x", "w"], [f"c{i}"]), helper.make_node("Sigmoid", [f"c{i}"], [f"s{i}"])]
        outs.append(helper.make_tensor_value_info(f"s{i}", T.FLOAT, None))
    model = helper.make_model(helper.make_graph(nodes, "g", [x], outs, [w]), opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(TrtmatteError, match="has no blend subgraph.*export without --fused-blend") as err:
        fuse_blend(model, "test graph")
    assert "\n" not in str(err.value)


# ---- TensorRT-RTX refuses the custom node, for real ----

def test_rtx_build_refuses_fused_graph(exports, tmp_path):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (pip install tensorrt-rtx-cu12) is the flavour that refuses")
    from trtmatte.engine.builder import BuildOptions, build_engine

    _, fused, _ = exports
    for plugins in ([], ["build/lib/libtrtmatte_plugins.so"]):
        with pytest.raises(TrtmatteError) as err:
            build_engine(fused, tmp_path / "x.plan", BuildOptions(flavour="tensorrt_rtx", plugins=plugins))
        msg = str(err.value)
        assert "\n" not in msg and "trtmatte::FusedBlend" in msg and "has no plugin layers" in msg
        assert "re-export without --fused-blend" in msg
    assert not (tmp_path / "x.plan").exists()


def test_rtx_build_cli_one_line(exports, tmp_path):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (pip install tensorrt-rtx-cu12) is the flavour that refuses")
    _, fused, _ = exports
    r = subprocess.run([sys.executable, "-m", "trtmatte", "build", str(fused), "-o", str(tmp_path / "x.plan"),
                        "--tensorrt", "tensorrt_rtx", "--no-progress"], capture_output=True, text=True, timeout=300,
                       cwd=REPO)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("trtmatte: error: ") and "without --fused-blend" in lines[0], r.stderr


def test_export_help_lists_fused_blend():
    r = subprocess.run([sys.executable, "-m", "trtmatte", "export", "--help"], capture_output=True, text=True,
                       timeout=120, cwd=REPO)
    assert r.returncode == 0 and "--fused-blend" in r.stdout
