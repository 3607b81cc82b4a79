"""Running `trtmatte serve` (and tritonserver) in tests: free loopback ports, the serve process with
its banner, the resident memory of the server's process tree."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEEDS = ("the tritonserver of nvidia-pytriton (README test command: pip install --no-deps -c constraints.txt "
         "nvidia-pytriton) and tritonclient (pip install -e '.[test]')")


def require_triton() -> None:
    """Fail, not skip: the README's test command installs Triton, so its absence is a broken setup."""
    import importlib.util

    missing = [m for m in ("pytriton", "tritonclient") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: {NEEDS}")


def free_ports(count: int = 3) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cli_env() -> dict[str, str]:
    """This environment with the source tree importable and the venv's `trtmatte` script on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


class ServeProcess:
    """`python -m trtmatte serve ARGS` on loopback ports, until its banner says it is ready."""

    def __init__(self, *args: str, timeout: float = 240.0, command: list[str] | None = None, cwd=None):
        """``command``: how `trtmatte serve` is spelt (default ``python -m trtmatte serve``), e.g. a
        README's line run by bash; ``cwd``: where it runs."""
        self.command = command or [sys.executable, "-m", "trtmatte", "serve"]
        self.cwd = cwd
        self.http, self.grpc, self.metrics = free_ports()
        self.args = ["--address", "127.0.0.1", "--http-port", str(self.http), "--grpc-port", str(self.grpc),
                     "--metrics-port", str(self.metrics), *args]
        self.timeout = timeout
        self.banner: list[str] = []

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.http}"

    def __enter__(self) -> "ServeProcess":
        self.process = subprocess.Popen([*self.command, *self.args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=cli_env(), start_new_session=True, cwd=self.cwd)
        deadline = time.monotonic() + self.timeout
        for line in self.process.stdout:
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                return self
            if time.monotonic() > deadline:
                break
        self.stop()
        raise AssertionError(f"trtmatte serve did not start: {self.process.stderr.read()[-2000:]}\n" + "\n".join(self.banner))

    def stop(self) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            out, err = self.process.communicate()
        return self.process.returncode, out, err

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.stop()


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def tree_rss_mib(pid: int, include_root: bool = True) -> float:
    """Resident memory of ``pid`` and all its descendants (tritonserver and its Python-backend stubs)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack += children(p)
        if p == pid and not include_root:
            continue
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024
