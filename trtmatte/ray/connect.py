"""Joining a Ray cluster, or starting one on this machine, with one-line errors.

``local`` starts Ray here (``num_cpus`` cores, a small object store: the file job moves paths and
outcome rows through it, not pictures); any other address joins a running cluster (``HOST:PORT``
of its GCS, ``ray://HOST:PORT`` for Ray Client, ``auto`` for the one ``RAY_ADDRESS`` or
``ray start`` names). An address nobody answers on is one line naming it, found in seconds with a
plain TCP connect before Ray's own retries (which take minutes). A Ray already initialised in this
process (a library user's ``ray.init``) is used as it is and left running.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Iterator

from ..errors import TrtmatteError

LOCAL = "local"
LOCAL_OBJECT_STORE = 300 * 1024 * 1024  # bytes; plenty for rows of paths (docs/scale-out.md: sizing)


def _host_port(address: str) -> tuple[str, int] | None:
    text = address.split("://", 1)[-1].rstrip("/")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """One line if nothing listens at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``)."""
    if address == "auto":
        return
    where = _host_port(address)
    if where is None:
        raise TrtmatteError(f"--ray {address}: not a Ray address: give HOST:PORT (the head's GCS port, 6379 by "
                            "default), ray://HOST:PORT, auto, or local")
    try:
        socket.create_connection(where, timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TrtmatteError(f"cannot reach the Ray cluster at {address} ({reason}): start it with "
                            "`ray start --head`, check the address, or use --ray local") from None


@contextlib.contextmanager
def ray_cluster(address: str = LOCAL, *, num_cpus: int | None = None,
                object_store_memory: int = LOCAL_OBJECT_STORE, progress: bool = True) -> Iterator[object]:
    """The ``ray`` module, connected; shut down at the end if this call started or joined it."""
    from .._lazy import require

    ray = require("ray", "trtmatte matte --ray")
    require("ray.data", "trtmatte matte --ray")
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = progress
    if not progress:  # no bars, and none of Ray Data's progress and execution log lines either
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    if ray.is_initialized():
        yield ray
        return
    if address != LOCAL:
        check_reachable(address)
    quiet = dict(logging_level=logging.WARNING, log_to_driver=True, include_dashboard=False)
    try:
        if address == LOCAL:
            # address="local": always a new Ray, never one found through /tmp/ray (another user's)
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1,
                     object_store_memory=object_store_memory, **quiet)
        else:
            quiet.pop("include_dashboard")  # a setting of the cluster's head, not of a driver
            ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        raise TrtmatteError(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()
