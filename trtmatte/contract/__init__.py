"""The ONNX contract of trtmatte's whole-pipeline graphs, in one place and importable without torch:
tensor names and metadata keys (:mod:`.names`), reading and stamping metadata (:mod:`.metadata`),
loading and saving by one set of rules (:mod:`.graphio`), and the graph's parts found by structure
(:mod:`.anatomy`). Export writes the contract; quantize, engine, runtime (and the C++ library and
the server) read it. onnx itself is imported only when a function needs it."""
from .names import ALPHA, DEBUG_OUTPUTS, IMAGE, METADATA_PREFIX, PRECISIONS, TRIMAP, TRIMAP_ADAPTED, TRIMAP_AUTO
from .metadata import graph_precision, read_metadata, stamp_metadata, stamped_precision
from .graphio import (PROTOBUF_LIMIT, check_graph, load_onnx, read_metadata_file, save_checked, save_derived,
                      save_model, saved_bytes)

__all__ = ["ALPHA", "DEBUG_OUTPUTS", "IMAGE", "METADATA_PREFIX", "PRECISIONS", "PROTOBUF_LIMIT", "TRIMAP",
           "TRIMAP_ADAPTED", "TRIMAP_AUTO",
           "check_graph", "graph_precision", "load_onnx", "read_metadata", "read_metadata_file", "save_checked",
           "save_derived", "save_model", "saved_bytes", "stamp_metadata", "stamped_precision"]
