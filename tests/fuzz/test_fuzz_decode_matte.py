"""A short, bounded pass of the decode-and-matte fuzzer (tests/fuzz/fuzz_decode_matte.py) on every
test run: its seeds (every format and mode the decoder handles) and a fixed number of havoc
mutations of them, seeded, through read_rgb and an onnxruntime Matter on the tiny graph. Every
input must matte or fail with a one-line TrtmatteError. The engine is the fuzzer's own random
(havoc) one: atheris, which makes it coverage-guided, is not in the `test` extra, so that long run
stays a command (the fuzzer's docstring; docs/eval.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FUZZER = Path(__file__).resolve().parent / "fuzz_decode_matte.py"
RUNS = 50  # inputs, seeds included: a count, not a time budget


def test_a_bounded_pass_finds_no_crash(tiny_onnx, tmp_path):
    summary_path = tmp_path / "summary.json"
    # --seconds is only a backstop far above what 50 tiny inputs take; --runs ends the pass
    r = subprocess.run([sys.executable, str(FUZZER), "--engine", "random", "--runs", str(RUNS), "--seconds", "3600",
                        "--seed", "7", "--graph", str(tiny_onnx), "--out", str(tmp_path / "work"),
                        "--json", str(summary_path)], capture_output=True, text=True, timeout=600)
    summary = json.loads(summary_path.read_text())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert summary["engine"] == "random" and not summary["coverage_guided"]
    assert summary["tried"] == max(RUNS, summary["seeds"]) and summary["seeds"] >= 15
    assert summary["crashes"] == {}
    # both outcomes happen: valid seeds matte, mutated files fail with one-line errors
    assert summary["matted"] >= summary["seeds"] // 2 and sum(summary["errors"].values()) > 0


def test_replay_of_a_valid_file(tiny_onnx, tmp_path, photo):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    r = subprocess.run([sys.executable, str(FUZZER), "--replay", str(path), "--graph", str(tiny_onnx), "--out",
                        str(tmp_path / "work")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert json.loads(r.stdout)["matted"] == 1


def test_coverage_guided_run_needs_atheris(tiny_onnx, tmp_path):
    pytest.importorskip("atheris", reason="atheris is missing: pip install 'trtmatte[fuzz]' (Linux x86_64) to run "
                                          "the coverage-guided fuzzer")
    r = subprocess.run([sys.executable, str(FUZZER), "--engine", "atheris", "--runs", "40", "--seconds", "3600",
                        "--graph", str(tiny_onnx), "--out", str(tmp_path / "work")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    assert json.loads((tmp_path / "work" / "summary.json").read_text())["coverage_guided"]
