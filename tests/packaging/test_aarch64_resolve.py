"""The core install must resolve on a Jetson (JetPack 6: CPython 3.10, aarch64). pip's own resolver
is run for that platform (``pip install --dry-run --only-binary=:all: --platform manylinux2014_aarch64
--python-version 3.10``), without installing anything, on the core dependencies of this checkout's
pyproject.toml (pip cannot combine --platform with building trtmatte itself from source, and
trtmatte is pure Python: its dependencies are what can fail to resolve).

Needs PyPI: when it cannot be reached the test fails saying so (it never skips), because an install
that does not resolve is exactly what it exists to catch."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = "3.10"
# JetPack 6 is Ubuntu 22.04 (glibc 2.35): pip there accepts every manylinux tag from 2014 (glibc
# 2.17) to glibc 2.35. With --platform, pip accepts only the tags it is given, so all are listed:
# manylinux2014_aarch64 alone would admit no onnxruntime newer than 1.16 (later aarch64 wheels are
# manylinux_2_27/2_28).
PLATFORMS = ["manylinux2014_aarch64"] + [f"manylinux_2_{minor}_aarch64" for minor in range(17, 36)]
PLATFORM = "manylinux_2_17..2_35_aarch64"
UNREACHABLE = ("Could not fetch URL", "NewConnectionError", "Temporary failure in name resolution",
               "Network is unreachable", "ConnectionError", "connection timed out", "Max retries exceeded")


def core_requirements() -> tuple[list[str], str]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["requires-python"]


def test_core_install_resolves_for_jetpack6_python310_aarch64(tmp_path):
    from pip._vendor.packaging.specifiers import SpecifierSet

    requirements, requires_python = core_requirements()
    assert PYTHON in SpecifierSet(requires_python), f"requires-python {requires_python} excludes JetPack 6's Python {PYTHON}"
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
           *(a for p in PLATFORMS for a in ("--platform", p)), "--python-version", PYTHON, "--target", str(tmp_path / "target"),
           "--report", str(report), "--quiet", "--disable-pip-version-check", *requirements]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        log = r.stdout + r.stderr
        if any(s in log for s in UNREACHABLE):
            pytest.fail(f"PyPI is unreachable, so the aarch64/cp310 resolution could not be checked (this test needs "
                        f"network access to PyPI): {log.strip().splitlines()[-1]}", pytrace=False)
        pytest.fail(f"the core install does not resolve for {PLATFORM} / CPython {PYTHON} (JetPack 6): "
                    f"{' '.join(cmd)}\n{log[-3000:]}", pytrace=False)
    installs = {item["metadata"]["name"].lower(): item for item in json.loads(report.read_text())["install"]}
    assert {r.split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in requirements} <= set(installs), sorted(installs)
    assert "torch" not in installs  # the core install runs graphs and engines without PyTorch
    ort = installs["onnxruntime"]
    wheel = ort["download_info"]["url"].rsplit("/", 1)[-1]
    # a wheel built for CPython 3.10 on aarch64 (onnxruntime publishes those up to 1.23.2)
    assert "-cp310-cp310-" in wheel and "aarch64" in wheel, wheel
    version = tuple(int(x) for x in ort["metadata"]["version"].split(".")[:2])
    assert (1, 17) <= version, ort["metadata"]["version"]
