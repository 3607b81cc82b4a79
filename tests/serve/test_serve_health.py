"""`trtmatte serve` tells the truth about its health and leaves nothing behind.

Triton keeps answering ready when the model's stub process has died; serve's watchdog stops the
server and exits non-zero (a supervisor restarts it). A `kill -9` of serve itself takes
tritonserver and its stub with it (parent-death signal). Each test starts its own server (the
test kills it); about 10 s each on two cores.
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.triton import ServeProcess, require_triton

pytestmark = pytest.mark.slow

UPPER_BOUND_S = 60.0  # generous: each wait ends on the event, this only bounds a hang


def ready(http: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def alive(pid: int) -> bool:
    from trtmatte.serve.tritonserver import process_name

    return bool(process_name(pid))


def wait_until(condition, what: str) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < UPPER_BOUND_S, f"{what}: not after {UPPER_BOUND_S:.0f} s"
        time.sleep(0.1)
    return time.monotonic() - start


def server_processes(serve_pid: int) -> tuple[int, int, str, Path]:
    """(tritonserver pid, stub pid, shared-memory prefix, serve's workspace)."""
    from trtmatte.serve.tritonserver import descendants, process_name

    tritonserver = next(p for p in descendants(serve_pid) if process_name(p) == "tritonserver")
    stub = next(p for p in descendants(tritonserver) if process_name(p).startswith("triton_python_b"))
    with open(f"/proc/{tritonserver}/cmdline", "rb") as f:
        args = f.read().decode().split("\0")
    prefix = next(a.split("shm-region-prefix-name=", 1)[1] for a in args if "shm-region-prefix-name=" in a)
    repository = next(a.split("=", 1)[1] for a in args if a.startswith("--model-repository="))
    return tritonserver, stub, prefix, Path(repository).parent


def test_a_killed_stub_fails_readiness_and_serve_exits_non_zero():
    require_triton()
    with ServeProcess() as server:
        tritonserver, stub, prefix, workspace = server_processes(server.process.pid)
        assert ready(server.http)
        os.kill(stub, signal.SIGKILL)
        took = wait_until(lambda: not ready(server.http) or server.process.poll() is not None, "readiness still 200")
        print(f"readiness failed {took:.1f} s after the stub was killed")
        code, out, err = server.stop()
        assert code == 1, (out[-500:], err[-500:])
        assert err.startswith("trtmatte: error:") and "stub process(es) died" in err and len(err.strip().splitlines()) == 1
        log = Path(err.rsplit("its log: ", 1)[1].strip())
        assert log.is_file(), "the log the error points at was removed"
        log.unlink()
        assert not alive(tritonserver) and not list(Path("/dev/shm").glob(f"{prefix}*"))
        assert not workspace.exists()


def test_kill_9_of_serve_takes_tritonserver_and_its_stub_with_it():
    require_triton()
    with ServeProcess() as server:
        tritonserver, stub, prefix, workspace = server_processes(server.process.pid)
        server.process.kill()
        took = wait_until(lambda: not alive(tritonserver) and not alive(stub), "tritonserver or its stub still alive")
        print(f"tritonserver and its stub gone {took:.1f} s after kill -9 of serve")
        assert not ready(server.http)
        assert not list(Path("/dev/shm").glob(f"{prefix}*")), "shared memory left behind"
        server.stop()
    # a killed serve cannot remove its workspace and log (in the temporary folder): the test does
    shutil.rmtree(workspace, ignore_errors=True)
    Path(tempfile.gettempdir(), f"trtmatte-serve-{server.process.pid}.log").unlink(missing_ok=True)
