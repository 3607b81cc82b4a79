"""The FusedBlend plugin's logic, tested by calling it: attributes <-> fields, output shapes and
types, supported formats (plain Python, no TensorRT), then the TensorRT Python plugin classes built
on tensorrt_rtx's IPluginV3 bindings (TensorRT-RTX has the Python classes and a registry, but no
plugin layers, so no engine runs them here) and the kernel library's C entry point without a GPU."""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError
from trtmatte.fused_blend import library
from trtmatte.fused_blend.blend_op import (FusedBlendAttrs, output_dtype, output_shape, reference_alpha,
                                          supports_combination)

from helpers.plugin_build import built_library


# ---- attributes / fields ----

@pytest.mark.parametrize("attrs", [FusedBlendAttrs(), FusedBlendAttrs(False, "float16", (5, 6)),
                                   FusedBlendAttrs(True, "uint8", (1, 1))])
def test_fields_round_trip(attrs):
    fields = attrs.to_fields()
    assert list(fields) == ["fg_bg_logits", "alpha_dtype", "crop_hw"]
    assert all(v.dtype == np.int32 for v in fields.values())
    assert FusedBlendAttrs.from_fields(fields.items()) == attrs
    # other integer widths (ONNX parsers may hand INT64), plain ints/lists (ONNX attributes), extra fields
    widened = [(k, v.astype(np.int64)) for k, v in fields.items()] + [("plugin_version", np.array([1], np.int8))]
    assert FusedBlendAttrs.from_fields(widened) == attrs
    plain = [(k, v.tolist() if k == "crop_hw" else int(v[0])) for k, v in fields.items()]
    assert FusedBlendAttrs.from_fields(plain) == attrs


def test_onnx_codes_and_defaults():
    assert FusedBlendAttrs.from_fields([]) == FusedBlendAttrs(True, "float32", (0, 0))
    assert FusedBlendAttrs.from_fields([("alpha_dtype", [10])]).alpha_dtype == "float16"
    assert FusedBlendAttrs.from_fields([("alpha_dtype", 2)]).alpha_dtype == "uint8"


@pytest.mark.parametrize("fields,match", [
    ([("fg_bg_logits", [2])], "fg_bg_logits must be 0 or 1"),
    ([("alpha_dtype", [7])], "alpha_dtype must be an ONNX type code"),
    ([("crop_hw", [4])], "crop_hw must have two values"),
    ([("crop_hw", [4, 0])], r"crop_hw must be \(0, 0\) or two positive"),
    ([("crop_hw", [-1, -1])], "crop_hw must be"),
    ([("alpha_dtype", np.array([1.0]))], "must be integers"),
])
def test_bad_fields_rejected(fields, match):
    with pytest.raises(ValueError, match=match):
        FusedBlendAttrs.from_fields(fields)


def test_tensorrt_refuses_uint8_output():
    FusedBlendAttrs(alpha_dtype="float16").check_tensorrt()
    with pytest.raises(ValueError, match="not available inside TensorRT"):
        FusedBlendAttrs(alpha_dtype="uint8").check_tensorrt()


# ---- shapes, types, formats ----

def test_output_shape():
    a = FusedBlendAttrs()
    assert output_shape(a, [(2, 1, 40, 64)] * 3) == (2, 1, 40, 64)
    assert output_shape(a, [(-1, 1, -1, 64), (2, 1, None, -1), (-1, -1, 40, 64)]) == (2, 1, 40, 64)
    assert output_shape(a, [(-1, 1, -1, -1)] * 3) == (None, 1, None, None)
    crop = FusedBlendAttrs(crop_hw=(30, 50))
    assert output_shape(crop, [(2, 1, 40, 64)] * 3) == (2, 1, 30, 50)
    assert output_shape(crop, [(-1, 1, -1, -1)] * 3) == (None, 1, 30, 50)  # dynamic: checked at run time


@pytest.mark.parametrize("shapes,match", [
    ([(2, 1, 4, 4)] * 2, "takes 3 inputs"),
    ([(2, 1, 4)] * 3, "must be 4-D"),
    ([(2, 1, 4, 4), (2, 1, 4, 5), (2, 1, 4, 4)], "same shape"),
    ([(2, 3, 4, 4)] * 3, "one channel"),
])
def test_output_shape_errors(shapes, match):
    with pytest.raises(ValueError, match=match):
        output_shape(FusedBlendAttrs(), shapes)
    with pytest.raises(ValueError, match="exceeds"):
        output_shape(FusedBlendAttrs(crop_hw=(5, 4)), [(1, 1, 4, 4)] * 3)


def test_output_dtype():
    assert output_dtype(FusedBlendAttrs(alpha_dtype="float16"), ["float32"] * 3) == "float16"
    assert output_dtype(FusedBlendAttrs(), ["float16"] * 3) == "float32"
    for bad in (["float32", "float16", "float32"], ["uint8"] * 3, ["float32"] * 2):
        with pytest.raises(ValueError, match="must all be float32 or all float16"):
            output_dtype(FusedBlendAttrs(), bad)


def test_supports_combination_truth_table():
    a = FusedBlendAttrs(alpha_dtype="float16")
    lin = ["linear"] * 4
    assert supports_combination(a, 0, ["float32"], lin) and supports_combination(a, 0, ["float16"], lin)
    assert not supports_combination(a, 0, ["uint8"], lin) and not supports_combination(a, 0, ["int8"], lin)
    assert not supports_combination(a, 0, ["float32"], ["chw4"])
    assert supports_combination(a, 2, ["float16", "float16", "float16"], lin)
    assert not supports_combination(a, 1, ["float16", "float32"], lin)  # one input dtype
    assert supports_combination(a, 3, ["float32"] * 3 + ["float16"], lin)
    assert not supports_combination(a, 3, ["float32"] * 4, lin)  # the attribute decides the output dtype
    assert not supports_combination(a, 4, ["float32"] * 5, lin * 2)


def test_reference_formula():
    t = np.array([0.0, 100.0, -100.0]).reshape(1, 1, 1, 3)  # beta 0.5, 1, 0
    f, b = np.full_like(t, 0.8), np.full_like(t, 0.6)
    out = reference_alpha(f, b, t, FusedBlendAttrs(fg_bg_logits=False))
    np.testing.assert_allclose(out.ravel(), [0.5 * 0.8 + 0.5 * 0.4, 0.8, 0.4], atol=1e-7)


# ---- the kernel library's C entry point, without a GPU (no launch happens for these) ----

@pytest.fixture(scope="module")
def kernel_lib():
    return built_library(library.KERNEL_LIBRARY)


def test_launcher_validates_before_touching_the_gpu(kernel_lib):
    lib = library.load_kernel_library(kernel_lib)
    # empty tensors: success without any CUDA call
    assert lib.trtmatte_fused_blend(None, None, None, 0, None, 2, 0, 1, 8, 1, 8, 1, None) == 0
    assert lib.trtmatte_fused_blend(None, None, None, 1, None, 0, 3, 0, 8, 0, 8, 1, None) == 0
    # bad arguments: cudaErrorInvalidValue (1)
    assert lib.trtmatte_fused_blend(None, None, None, 0, None, 0, 1, 4, 4, 4, 4, 1, None) == 1  # null pointers
    assert lib.trtmatte_fused_blend(None, None, None, 2, None, 0, 1, 4, 4, 4, 4, 1, None) == 1  # uint8 input
    assert lib.trtmatte_fused_blend(None, None, None, 0, None, 0, 1, 4, 4, 5, 4, 1, None) == 1  # crop > input
    with pytest.raises(TrtmatteError, match="kernel launch failed with CUDA error 1"):
        library.launch(0, 0, 0, "float32", 0, (1, 1, 4, 4), FusedBlendAttrs(), library=kernel_lib)
    library.launch(0, 0, 0, "float16", 0, (0, 1, 4, 4), FusedBlendAttrs(alpha_dtype="uint8"), library=kernel_lib)


# ---- the TensorRT Python plugin classes, on tensorrt_rtx's bindings ----

@pytest.fixture(scope="module")
def trt():
    return pytest.importorskip("tensorrt_rtx", reason="needs a TensorRT Python package with IPluginV3 bindings "
                                                      "(tensorrt or tensorrt_rtx); none installed")


def fields(trt, attrs, keep):
    arrays = attrs.to_fields()
    keep.append(arrays)  # PluginField does not own its buffer
    return trt.PluginFieldCollection([trt.PluginField(k, v, trt.PluginFieldType.INT32) for k, v in arrays.items()])


def desc(trt, dtype, fmt="LINEAR", dims=(1, 1, 4, 4)):
    return SimpleNamespace(desc=SimpleNamespace(type=getattr(trt.DataType, dtype), format=getattr(trt.TensorFormat, fmt)),
                           type=getattr(trt.DataType, dtype), dims=dims)


def test_python_plugin_classes(trt):
    from trtmatte.fused_blend.trt_plugin import plugin_classes

    plugin_cls, creator_cls = plugin_classes(trt)
    assert issubclass(plugin_cls, (trt.IPluginV3, trt.IPluginV3OneCore, trt.IPluginV3OneBuild, trt.IPluginV3OneRuntime))
    creator = creator_cls()
    assert (creator.name, creator.plugin_version, creator.plugin_namespace) == ("FusedBlend", "1", "trtmatte")
    assert [f.name for f in creator.field_names] == ["fg_bg_logits", "alpha_dtype", "crop_hw"]
    keep = []
    attrs = FusedBlendAttrs(alpha_dtype="float16", crop_hw=(3, 2))
    plugin = creator.create_plugin("blend", fields(trt, attrs, keep), trt.TensorRTPhase.BUILD)
    assert plugin.attrs == attrs and plugin.get_capability_interface(trt.PluginCapabilityType.BUILD) is plugin
    assert (plugin.plugin_name, plugin.plugin_version, plugin.plugin_namespace, plugin.num_outputs) == \
        ("FusedBlend", "1", "trtmatte", 1)
    assert plugin.get_output_data_types([trt.DataType.FLOAT] * 3) == [trt.DataType.HALF]
    with pytest.raises(ValueError):
        plugin.get_output_data_types([trt.DataType.FLOAT, trt.DataType.HALF, trt.DataType.FLOAT])
    in_out = [desc(trt, "FLOAT")] * 3 + [desc(trt, "HALF")]
    assert all(plugin.supports_format_combination(pos, in_out, 3) for pos in range(4))
    assert not plugin.supports_format_combination(3, [desc(trt, "FLOAT")] * 4, 3)
    assert not plugin.supports_format_combination(0, [desc(trt, "FLOAT", "CHW32")], 3)
    # serialization: what get_fields_to_serialize returns recreates the same plugin (runtime phase)
    serialized = plugin.get_fields_to_serialize()
    again = creator.create_plugin("blend", serialized, trt.TensorRTPhase.RUNTIME)
    assert again.attrs == attrs and plugin.clone().attrs == attrs and plugin.attach_to_context(None).attrs == attrs
    plugin.on_shape_change([desc(trt, "FLOAT", dims=(2, 1, 8, 8))] * 3, [desc(trt, "HALF")])
    with pytest.raises(ValueError, match="exceeds"):
        plugin.on_shape_change([desc(trt, "FLOAT", dims=(2, 1, 2, 8))] * 3, [desc(trt, "HALF")])
    with pytest.raises(ValueError, match="not available inside TensorRT"):
        creator.create_plugin("blend", fields(trt, FusedBlendAttrs(alpha_dtype="uint8"), keep), trt.TensorRTPhase.BUILD)


def test_python_plugin_enqueue_reaches_the_kernel(trt, kernel_lib, monkeypatch):
    """enqueue -> library.launch -> the C launcher: an empty batch succeeds without a GPU, a non-empty
    one with null pointers comes back as the launcher's invalid-value error."""
    from trtmatte.fused_blend.trt_plugin import plugin_classes

    monkeypatch.setenv(library.ENV_DIR, os.path.dirname(kernel_lib))
    plugin = plugin_classes(trt)[0](FusedBlendAttrs())
    plugin.enqueue([desc(trt, "HALF", dims=(0, 1, 8, 8))] * 3, [desc(trt, "FLOAT")], [0, 0, 0], [0], 0, 0)
    with pytest.raises(TrtmatteError, match="CUDA error 1"):
        plugin.enqueue([desc(trt, "HALF", dims=(1, 1, 8, 8))] * 3, [desc(trt, "FLOAT")], [0, 0, 0], [0], 0, 0)


def test_registering_with_rtx_is_refused_in_one_line(trt):
    from trtmatte.fused_blend.trt_plugin import register_python_plugin

    with pytest.raises(TrtmatteError, match="TensorRT-RTX has no plugin layers") as err:
        register_python_plugin(trt)
    assert "\n" not in str(err.value)


def test_plugin_modules_do_not_import_tensorrt():
    import subprocess
    import sys

    code = ("import sys, trtmatte.fused_blend, trtmatte.fused_blend.trt_plugin, trtmatte.fused_blend.library, "
            "trtmatte.export.blend_rewrite\nprint(sorted(m for m in ('tensorrt', 'tensorrt_rtx', 'cupy') if m in sys.modules))")  # not 'cuda': torch probes cuda.bindings itself
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr
