"""TensorRT logger and progress monitor. TensorRT's Python classes must be subclassed, and the
module is imported lazily, so the classes are defined inside factories (Polygraphy's pattern)."""
from __future__ import annotations

import sys

NO_GPU_NOISE = "CUDA driver version is insufficient"


def make_capture_logger(trt, echo_severity=None):
    """A logger that keeps every message (the layer report is one VERBOSE message) and echoes
    those at ``echo_severity`` or worse to stderr (default: errors only)."""
    echo = trt.Logger.ERROR if echo_severity is None else echo_severity

    class CaptureLogger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)  # the trampoline must be initialised or TensorRT segfaults
            self.messages: list[tuple[object, str]] = []

        def log(self, severity, msg):
            self.messages.append((severity, msg))
            if NO_GPU_NOISE in msg:  # TensorRT-RTX probes CUDA even for ahead-of-time builds
                return
            if int(severity) <= int(echo):  # lower value = more severe
                print(f"[TensorRT] {msg}", file=sys.stderr)

        def texts(self, worst=None) -> list[str]:
            return [m for s, m in self.messages if worst is None or int(s) <= int(worst)]

    return CaptureLogger()


def make_progress_monitor(trt):
    """tqdm bars for the builder's phases (nested phases get nested bars)."""
    from tqdm import tqdm

    class ProgressMonitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.bars: dict[str, tqdm] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            depth = len(self.bars)
            self.bars[phase_name] = tqdm(total=num_steps, desc=phase_name, position=depth, leave=depth == 0,
                                         file=sys.stderr, dynamic_ncols=True)

        def step_complete(self, phase_name, step):
            bar = self.bars.get(phase_name)
            if bar is not None:
                bar.n = step + 1
                bar.refresh()
            return True  # False would cancel the build

        def phase_finish(self, phase_name):
            bar = self.bars.pop(phase_name, None)
            if bar is not None:
                bar.close()

    return ProgressMonitor()
