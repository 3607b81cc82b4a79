"""Runs tests/ray/ray_in_netns.py (the tests that start Ray) in a network namespace of its own,
where only loopback exists: Ray binds its services to the machine's interface address, so a test's
Ray must have no other address to bind to or talk to. Needs root (CI runs as root) and `unshare`.
About 4-5 minutes on 2 heavily shared cores (one local Ray, then one two-node cluster)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INNER = Path(__file__).with_name("ray_in_netns.py")
HANG_GUARD_S = 900  # the inner run takes ~1-2 minutes; this only stops a hang


def _netns_missing() -> str | None:
    if shutil.which("unshare") is None:
        return "`unshare` (util-linux) is needed to give Ray a loopback-only network namespace"
    if os.geteuid() != 0:
        return "root is needed for `unshare --net` (a loopback-only network namespace for Ray)"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`unshare --net` is not allowed here: {probe.stderr.strip()}"
    return None


def test_ray_tests_in_a_loopback_only_network_namespace():
    pytest.importorskip("ray.data", reason="Ray Data is needed (pip install 'trtmatte[ray]')")
    missing = _netns_missing()
    if missing:
        pytest.skip(missing)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(INNER.parent),
                                                                      os.environ.get("PYTHONPATH")]))}
    # loopback_up.py: `ip link set lo up` without iproute2, then pytest in the same process
    cmd = ["unshare", "--net", sys.executable, str(INNER.with_name("loopback_up.py")), "-m", "pytest", "-q",
           "-p", "no:cacheprovider", "--show-capture=no", "--tb=short", str(INNER)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_GUARD_S, env=env,
                          cwd=INNER.parents[2])
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-3000:]
