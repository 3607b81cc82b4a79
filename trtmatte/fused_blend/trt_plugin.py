"""trtmatte::FusedBlend as a TensorRT *Python* plugin (IPluginV3 + IPluginCreatorV3One), launching
the compiled CUDA kernel (libtrtmatte_blend_kernel.so) through ctypes: usable from the ``tensorrt``
Python package without the C++ plugin library.

    from trtmatte.fused_blend.trt_plugin import register_python_plugin
    register_python_plugin()          # then parse/build a graph exported with --fused-blend

The classes must derive from TensorRT's, so they are built inside ``plugin_classes(trt)`` for the
module in use (Polygraphy's pattern): importing this file never imports tensorrt. Every decision
(output shape and type, supported formats, fields) is delegated to ``blend_op.py``, which is
tested without TensorRT. Standard TensorRT only in practice: TensorRT-RTX exposes these Python
classes and a plugin registry, but its networks have no plugin layers.
"""
from __future__ import annotations

import functools
from types import ModuleType

import numpy as np

from . import library
from .blend_op import (PLUGIN_NAME, PLUGIN_NAMESPACE, PLUGIN_VERSION, FusedBlendAttrs, output_dtype, output_shape,
                          supports_combination)

# TensorRT enum member names <-> the dtype/format names blend_op.py speaks
TRT_DTYPES = {"FLOAT": "float32", "HALF": "float16", "UINT8": "uint8"}
TRT_FORMATS = {"LINEAR": "linear"}


def dtype_name(trt_dtype) -> str:
    """trt.DataType -> "float32"/"float16"/"uint8"; other types map to their own name (never supported)."""
    return TRT_DTYPES.get(trt_dtype.name, trt_dtype.name.lower())


def format_name(trt_format) -> str:
    return TRT_FORMATS.get(trt_format.name, trt_format.name.lower())


def fields_of(attrs: FusedBlendAttrs) -> list[tuple[str, np.ndarray]]:
    """What get_fields_to_serialize and the creator's field_names list (INT32 fields)."""
    return list(attrs.to_fields().items())


@functools.lru_cache(maxsize=None)
def plugin_classes(trt: ModuleType) -> tuple[type, type]:
    """(FusedBlendPlugin, FusedBlendCreator) deriving from ``trt``'s plugin interfaces."""
    to_trt = {"float32": trt.DataType.FLOAT, "float16": trt.DataType.HALF}

    class FusedBlendPlugin(trt.IPluginV3, trt.IPluginV3OneCore, trt.IPluginV3OneBuild, trt.IPluginV3OneRuntime):
        def __init__(self, attrs: FusedBlendAttrs, phase=None):
            # Every base constructor must run, or the pybind11 trampolines crash when TensorRT calls in.
            trt.IPluginV3.__init__(self)
            trt.IPluginV3OneCore.__init__(self)
            trt.IPluginV3OneBuild.__init__(self)
            trt.IPluginV3OneRuntime.__init__(self)
            self.attrs = attrs
            self.phase = phase
            self.num_outputs = 1
            self.plugin_name, self.plugin_version, self.plugin_namespace = PLUGIN_NAME, PLUGIN_VERSION, PLUGIN_NAMESPACE
            # one tactic, and instances with the same attributes may share timings
            self.timing_cache_id = f"{PLUGIN_NAMESPACE}::{PLUGIN_NAME}:{attrs}"

        def get_capability_interface(self, type):
            return self

        def clone(self):
            return FusedBlendPlugin(self.attrs, self.phase)

        # --- build ---
        def get_output_data_types(self, input_types):
            return [to_trt[output_dtype(self.attrs, [dtype_name(t) for t in input_types])]]

        def get_output_shapes(self, inputs, shape_inputs, expr_builder):
            if len(inputs) != 3 or any(len(d) != 4 for d in inputs):
                raise ValueError("FusedBlend takes three 4-D inputs [N, 1, H, W]")
            out = trt.DimsExprs(inputs[0])
            if self.attrs.cropped:  # a constant size; on_shape_change checks it fits
                out[2] = expr_builder.constant(self.attrs.crop_hw[0])
                out[3] = expr_builder.constant(self.attrs.crop_hw[1])
            return [out]

        def supports_format_combination(self, pos, in_out, num_inputs):
            descs = [d.desc for d in in_out[: pos + 1]]
            return supports_combination(self.attrs, pos, [dtype_name(d.type) for d in descs],
                                        [format_name(d.format) for d in descs])

        def configure_plugin(self, inp, out):
            pass

        def get_workspace_size(self, input_desc, output_desc):
            return 0

        # --- runtime ---
        def on_shape_change(self, inp, out):
            output_shape(self.attrs, [tuple(d.dims) for d in inp])  # raises on a bad shape or crop

        def enqueue(self, input_desc, output_desc, inputs, outputs, workspace, stream):
            library.launch(inputs[0], inputs[1], inputs[2], dtype_name(input_desc[0].type), outputs[0],
                           tuple(input_desc[0].dims), self.attrs, stream)

        def attach_to_context(self, context):
            return self.clone()

        def get_fields_to_serialize(self):
            # PluginField keeps a raw pointer to the array, not a reference: the arrays (and the
            # collection) must outlive this call, so they live on the plugin.
            self._field_arrays = fields_of(self.attrs)
            self._fields = trt.PluginFieldCollection([trt.PluginField(name, data, trt.PluginFieldType.INT32)
                                                      for name, data in self._field_arrays])
            return self._fields

    class FusedBlendCreator(trt.IPluginCreatorV3One):
        def __init__(self):
            trt.IPluginCreatorV3One.__init__(self)
            self.name, self.plugin_version, self.plugin_namespace = PLUGIN_NAME, PLUGIN_VERSION, PLUGIN_NAMESPACE
            self._empty = np.array([], np.int32)  # PluginField points at it: keep it alive
            self.field_names = trt.PluginFieldCollection([
                trt.PluginField(name, self._empty, trt.PluginFieldType.INT32) for name, _ in fields_of(FusedBlendAttrs())])

        def create_plugin(self, name, fc, phase):
            attrs = FusedBlendAttrs.from_fields((f.name, f.data) for f in fc)
            attrs.check_tensorrt()
            return FusedBlendPlugin(attrs, phase)

    return FusedBlendPlugin, FusedBlendCreator


_CREATORS: dict[str, object] = {}  # module name -> registered creator (TensorRT keeps a raw pointer: keep it alive)


def register_python_plugin(trt: ModuleType | None = None, check_kernel: bool = True):
    """Register the Python FusedBlend creator with ``trt``'s plugin registry (once) and return it.
    ``check_kernel`` fails now, with the build hint, if the CUDA kernel library cannot be loaded."""
    from ..errors import TrtmatteError

    from ..engine.flavour import Flavour, import_tensorrt

    trt = trt or import_tensorrt()
    # Seen with TensorRT-RTX 1.7: its ONNX parser aborts the process on a node whose creator is a
    # Python plugin. Its networks have no plugin layers anyway.
    Flavour.of(trt).require_plugins("the FusedBlend plugin")
    if check_kernel:
        library.load_kernel_library()
    if trt.__name__ not in _CREATORS:
        _, creator_cls = plugin_classes(trt)
        creator = creator_cls()
        registry = trt.get_plugin_registry()
        if not registry.register_creator(creator, PLUGIN_NAMESPACE):
            raise TrtmatteError(f"{trt.__name__} refused to register {PLUGIN_NAMESPACE}::{PLUGIN_NAME}: another "
                                "creator with that name and version is registered (the C++ plugin library?)")
        _CREATORS[trt.__name__] = creator
    return _CREATORS[trt.__name__]
