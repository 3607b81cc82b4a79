"""TensorRT engines: parse, build, load. Written once against the API that `tensorrt` (10.3+,
11.x) and `tensorrt_rtx` share; the module is chosen lazily by :func:`trtmatte.engine.flavour.import_tensorrt`."""
