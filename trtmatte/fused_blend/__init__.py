"""The fused-blend op (trtmatte::FusedBlend): its definition, the compiled libraries, and the
TensorRT Python plugin.

- ``blend_op``: attributes, shape/type/format rules and a NumPy reference (plain Python).
- ``library``: find/load the CMake-built libraries (ctypes); run the kernel's math on the CPU or
  launch the CUDA kernel on device pointers.
- ``trt_plugin``: the same op as a TensorRT Python IPluginV3 (tensorrt imported only when asked).
- ``fatbin``: which GPU architectures a built library carries code for.
"""
from .blend_op import (ONNX_DOMAIN, PLUGIN_NAME, PLUGIN_NAMESPACE, PLUGIN_VERSION, FusedBlendAttrs,
                          reference_alpha)

__all__ = ["ONNX_DOMAIN", "PLUGIN_NAME", "PLUGIN_NAMESPACE", "PLUGIN_VERSION", "FusedBlendAttrs", "reference_alpha"]
