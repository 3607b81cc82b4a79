"""`trtmatte bench` as a library: timed runs of any session, labelled so a figure always says which
backend, precision, device, input size and versions produced it (see :mod:`.schema`)."""
from .runner import BenchConfig, run_bench
from .schema import SCHEMA_ID, validate

__all__ = ["BenchConfig", "SCHEMA_ID", "run_bench", "validate"]
