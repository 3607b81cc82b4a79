"""Every GPU question of issue #31 in one run: each part in its own process, time box and JSON.

Usage (repo root, on the GPU machine; the repo is copied there, not installed):
    OUT=/some/dir bash benchmarks/gpu/run_all.sh            # what the GPU session runs (header: the exact calls)
    PYTHONPATH=. python3 benchmarks/gpu/run_all.py --out DIR [--parts a,b] [--box part=SECONDS]
    PYTHONPATH=. python3 benchmarks/gpu/run_all.py --dry-run --out DIR   # CPU: every part's dry run

The parts, in this order (each writes its JSON under --out; a part that fails, hangs or is killed
still gets its JSON, with ``error`` and the end of its output, and the run goes on):
- compute_sanitizer -> gpu_compute_sanitizer.json  (the C++ CUDA paths and the fused-blend kernel
  under memcheck, racecheck, initcheck, synccheck)
- tensorrt_rtx      -> gpu_tensorrt_rtx.json       (TensorRT-RTX on this GPU: build, run, α, latency, plugins)
- side_by_side      -> gpu_side_by_side.json       (PyTorch-CUDA FP16 autocast vs the float16 inference form)
- onnxruntime_cuda  -> gpu_onnxruntime_cuda.json   (onnxruntime's CUDA execution provider, or why not)
The whole run stays inside --budget (default 460 s, under run_all.sh's hard 480 s): a part gets
min(its own box, what is left less the later parts' minimum), and a part with under 10 s left
is skipped with a line saying so. run_all.json lists what each part did; run_all.log holds every
part's output. Work files go to --work (not under --out: only 8 files come back from $OUT).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MIN_BOX_S = 10  # a part with less time than this left is skipped, not started
RUNNING: list = []  # the part in flight: its own process group, ended with run_all (see main)


@dataclass(frozen=True)
class Part:
    name: str
    script: Path  # a Python script taking --out, --work (and --dry-run)
    result: str  # the JSON it writes under --out
    box_s: int  # its own time box
    args: tuple[str, ...] = ()


PARTS = (
    Part("compute_sanitizer", HERE / "compute_sanitizer.py", "gpu_compute_sanitizer.json", 110),
    Part("tensorrt_rtx", HERE / "rtx_hopper.py", "gpu_tensorrt_rtx.json", 150),
    Part("side_by_side", HERE / "side_by_side.py", "gpu_side_by_side.json", 150, ("--runs", "30")),
    Part("onnxruntime_cuda", HERE / "onnxruntime_cuda.py", "gpu_onnxruntime_cuda.json", 30),
)  # 440 s of boxes: run_all.sh's 480 s less the runtime's unpacking and this script's own summary


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("OUT", "/tmp/trtmatte-gpu-out"), help="result folder (default $OUT)")
    p.add_argument("--work", default="/tmp/trtmatte-gpu-work", help="build and scratch folder (not sent back)")
    p.add_argument("--parts", help=f"comma-separated subset of {', '.join(p.name for p in PARTS)}")
    p.add_argument("--box", action="append", default=[], metavar="PART=SECONDS", help="override a part's time box")
    p.add_argument("--budget", type=float, default=460.0, help="seconds for the whole run (default 460)")
    p.add_argument("--dry-run", action="store_true", help="run every part's CPU dry run (no GPU)")
    args = p.parse_args(argv)
    names = [part.name for part in PARTS]
    chosen = args.parts.split(",") if args.parts else names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        p.error(f"unknown part {', '.join(unknown)}: choose from {', '.join(names)}")
    boxes = {}
    for item in args.box:
        name, _, seconds = item.partition("=")
        if name not in names or not seconds.isdigit() or int(seconds) < 1:
            p.error(f"--box {item}: use PART=SECONDS with PART one of {', '.join(names)}")
        boxes[name] = int(seconds)
    if args.budget < MIN_BOX_S:
        p.error(f"--budget must be at least {MIN_BOX_S} s")
    args.parts = [Part(part.name, part.script, part.result, boxes.get(part.name, part.box_s), part.args)
                  for part in PARTS if part.name in chosen]
    return args


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_part(part: Part, out: Path, work: Path, box_s: float, dry_run: bool, log) -> dict:
    """Run one part under ``timeout`` semantics; make sure its JSON exists afterwards.

    The part's own JSON wins when it wrote one; otherwise (it raised before writing, was killed,
    or ran out of its box) a JSON with ``error`` and the end of its output is written for it."""
    cmd = [sys.executable, str(part.script), "--out", str(out), "--work", str(work / part.name), *part.args]
    if dry_run:
        cmd.append("--dry-run")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
           "PYTHONUNBUFFERED": "1"}
    log(f"== {part.name}: {' '.join(cmd[1:])} (box {box_s:.0f} s)")
    path = out / part.result
    path.unlink(missing_ok=True)  # a JSON there afterwards is this run's
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    except OSError as exc:
        proc, output, code, error = None, "", None, f"could not start {part.script.name}: {exc}"
    if proc is not None:
        RUNNING[:] = [proc]
        try:
            output, _ = proc.communicate(timeout=box_s)
            code = proc.returncode
            error = None if code == 0 else f"{part.script.name} exited with status {code}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the part and everything it started (nvcc, compute-sanitizer, ...)
            output, _ = proc.communicate()
            code, error = None, f"timed out after {box_s:.0f} s (its time box) and was killed"
        RUNNING.clear()
    seconds = round(time.monotonic() - start, 1)
    log(output.rstrip())
    log(f"== {part.name}: {'ok' if error is None else error} in {seconds} s")
    try:
        written = json.loads(path.read_text()) if path.is_file() else None
    except ValueError:  # half-written when it was killed
        written = None
    if written is None:
        written = {"part": part.name, "device": gpu_name(), "dry_run": dry_run, "error": error or "it wrote no JSON",
                   "output_tail": tail(output)}
        path.write_text(json.dumps(written, indent=2) + "\n")
    elif error is not None and "error" not in written:
        written["error"] = error
        path.write_text(json.dumps(written, indent=2) + "\n")
    return {"part": part.name, "result": part.result, "exit": code, "seconds": seconds, "box_s": round(box_s),
            "error": written.get("error"), "skipped": written.get("skipped")}


def gpu_name() -> str | None:
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                           timeout=20)
        return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def end_running_part(signum, frame) -> None:
    """run_all.sh's hard limit (SIGTERM from timeout): a part runs in its own session, so end it
    too, or it would outlive the run on the GPU machine."""
    for proc in RUNNING:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    raise SystemExit(124)


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, end_running_part)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    logfile = open(out / "run_all.log", "a")

    def log(msg: str) -> None:
        print(msg, flush=True)
        logfile.write(msg + "\n")
        logfile.flush()

    start = time.monotonic()
    summary = {"dry_run": args.dry_run, "device": gpu_name() or ("cpu (dry run)" if args.dry_run else None),
               "budget_s": args.budget, "parts": []}
    for index, part in enumerate(args.parts):
        left = args.budget - (time.monotonic() - start)
        reserve = MIN_BOX_S * (len(args.parts) - index - 1)  # every later part still gets a start
        box = min(part.box_s, left - reserve)
        if box < MIN_BOX_S:
            line = f"skipped: {left:.0f} s of the {args.budget:.0f} s budget left, under {MIN_BOX_S} s for {part.name}"
            (out / part.result).write_text(json.dumps({"part": part.name, "device": summary["device"],
                                                       "dry_run": args.dry_run, "skipped": line}, indent=2) + "\n")
            summary["parts"].append({"part": part.name, "result": part.result, "skipped": line})
            log(f"== {part.name}: {line}")
            continue
        summary["parts"].append(run_part(part, out, work, box, args.dry_run, log))
    summary["seconds"] = round(time.monotonic() - start, 1)
    (out / "run_all.json").write_text(json.dumps(summary, indent=2) + "\n")
    for row in summary["parts"]:
        log(f"{row['part']:<18} {row.get('seconds', 0):>6} s  {row.get('error') or row.get('skipped') or 'ok'}")
    log(f"run_all: {summary['seconds']} s; results in {out}")
    return 0 if all(not row.get("error") for row in summary["parts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
