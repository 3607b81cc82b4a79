"""The tritonserver process tree, from /proc (Linux): its stubs, their liveness, a parent-death
signal for the server, and killing the whole group."""
from __future__ import annotations

import os
import signal


def die_with_parent(parent: int) -> None:
    """In the child before exec: SIGTERM when the parent dies, even by SIGKILL (Linux prctl
    PR_SET_PDEATHSIG), so a killed `trtmatte serve` leaves no tritonserver serving on its ports;
    tritonserver then stops its stubs as on any SIGTERM."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: the parent's own stop() is all there is
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def kill_group(pid: int) -> bool:
    try:
        os.killpg(pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(c) for c in f.read().split()]
                found += kids
                stack += kids
        except OSError:
            continue
    return found


def process_name(pid: int) -> str:
    """The process's name (``comm``, 15 characters), '' once it is gone; a zombie counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return ""
    name, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:][:1]
    return "" if state in ("Z", "X") else name
