"""Whole-pipeline ONNX export: raw uint8 pixels in, alpha out, in one graph."""
from .graph import ALPHA_DTYPES, ExportGraph
from .onnx_export import ExportOptions, ExportReport, export_onnx

__all__ = ["ALPHA_DTYPES", "ExportGraph", "ExportOptions", "ExportReport", "export_onnx"]
