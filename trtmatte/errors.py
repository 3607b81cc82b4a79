"""User-facing errors: one line that names the problem and the fix. The CLI prints them without a
traceback and exits 1; library callers can catch :class:`TrtmatteError`."""


class TrtmatteError(Exception):
    """An error caused by the user's input or environment, with a message fit to print as is."""


class DependencyMissing(TrtmatteError):
    """An optional package (TensorRT, cuda-python, onnxruntime, ...) is not installed."""
