"""benchmarks/gpu/side_by_side.py runs its measurement on a GPU only; here: its arguments and its CPU
dry run, which goes through every step (sessions, interleaved bench rounds, α against FP32, the
per-stage FLOP count) on late_fusion_lite at 64x64 and writes the report."""
from __future__ import annotations

import json

import pytest

from helpers.gpu_scripts import load_script, run_script


@pytest.fixture(scope="module")
def script():
    return load_script("side_by_side")


def test_arguments(script):
    args = script.parse_args(["--out", "/tmp/x"])
    assert (args.variant, args.size, args.rounds, args.dry_run) == ("late_fusion", 800, 2, False)
    dry = script.parse_args(["--dry-run"])
    assert (dry.variant, dry.size, dry.runs) == ("late_fusion_lite", 64, 2)
    for bad in (["--size", "8"], ["--runs", "0"], ["--rounds", "0"]):
        with pytest.raises(SystemExit):
            script.parse_args(bad)


def test_dry_run_writes_the_report(tmp_path):
    r = run_script("side_by_side", "--dry-run", "--out", str(tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_side_by_side.json").read_text())
    assert report["dry_run"] and report["device"] == "cpu (dry run)"
    assert report["previous_ms"] > 0 and report["new_ms"] > 0 and report["speedup"] > 0
    assert report["new_form"].startswith("75 of 137 BatchNorms folded")
    # the dry run's "new" is the folded FP32 network: close to the unfolded reference, not equal to it
    assert 0 < report["max_abs_dalpha"] < 1e-4 and report["previous_max_abs_dalpha"] == 0
    flops = report["stages"]["flops"]
    assert flops["fg_decoder"] == flops["bg_decoder"] > 0
    assert sum(flops[s] for s in ("encoder", "fg_decoder", "bg_decoder", "fusion")) <= flops["total"]
    assert "previous" in (tmp_path / "side_by_side.log").read_text()
