"""The C++ CUDA paths and the fused-blend kernel under compute-sanitizer (memcheck, racecheck,
initcheck, synccheck).

Usage (repo root, on the GPU machine; run_all.py runs it as one part):
    PYTHONPATH=. python3 benchmarks/gpu/compute_sanitizer.py --out DIR [--work DIR]
    PYTHONPATH=. python3 benchmarks/gpu/compute_sanitizer.py --dry-run --out DIR   # CPU: builds, runs nothing

Steps, each recorded even if a later one fails:
1. find nvcc and compute-sanitizer (--nvcc / --compute-sanitizer, else CUDACXX, PATH, the CUDA
   toolkit's bin/); a missing one ends the part with a ``skipped`` line naming it;
2. build two drivers with nvcc for --arch: ``cuda_paths`` (benchmarks/gpu/cuda_paths.cu: the
   library's Buffer / Stream / Graph from cpp/src/cuda.cpp moving data through the fused-blend
   kernel, eagerly and as a replayed CUDA graph, plus its out-of-memory path) and ``blend_kernel``
   (tests/gpu/plugin_kernel.py's driver: every launcher path on exact-size allocations);
3. run each driver under each tool; a tool's error count is the sum of its ERROR SUMMARY lines;
4. last, build cpp/ with its CUDA paths on (CMake, TensorRT headers from third_party/: the C++
   library's TensorRT backend compiles against them and loads TensorRT at run time); recorded, not
   required (its configure needs nlohmann-json, which the GPU machine may lack: the tail says).
Writes gpu_compute_sanitizer.json under --out: device, per tool ``errors`` and each driver's exit
status and output tail. 0 errors everywhere is the expected answer.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling run_all.py, also when loaded by path
from run_all import gpu_name  # noqa: E402  (one nvidia-smi query for every part)

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("memcheck", "racecheck", "initcheck", "synccheck")
DRIVERS = ("cuda_paths", "blend_kernel")
TOOL_FLAGS = {"memcheck": ["--leak-check", "full"], "racecheck": ["--racecheck-report", "all"]}
SUMMARY = re.compile(r"ERROR SUMMARY: (\d+) error")


def blend_dir() -> Path:
    """plugins/fused_blend/ (plugins/blend/ before the rename)."""
    for candidate in (REPO / "plugins" / "fused_blend", REPO / "plugins" / "blend"):
        if (candidate / "fused_blend.cu").is_file():
            return candidate
    raise FileNotFoundError("no plugins/fused_blend/fused_blend.cu in the repo")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("OUT", "/tmp/trtmatte-gpu-out"))
    p.add_argument("--work", default="/tmp/trtmatte-gpu-work/compute_sanitizer", help="build folder")
    p.add_argument("--arch", default="90", help="SM to build the drivers for (default 90: H100/H200)")
    p.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    p.add_argument("--nvcc", help="nvcc to use (default: CUDACXX, PATH, /usr/local/cuda/bin)")
    p.add_argument("--compute-sanitizer", dest="sanitizer", help="compute-sanitizer to use (default: PATH, next to nvcc)")
    p.add_argument("--drivers", default=",".join(DRIVERS), help=f"comma-separated subset of {','.join(DRIVERS)}")
    p.add_argument("--tool-timeout", type=int, default=45, help="seconds for one driver under one tool")
    p.add_argument("--skip-cmake", action="store_true", help="do not build cpp/ with CMake")
    p.add_argument("--dry-run", action="store_true", help="CPU: find the tools and build the drivers; run nothing")
    args = p.parse_args(argv)
    args.tools = args.tools.split(",")
    bad = [t for t in args.tools if t not in TOOLS]
    if bad:
        p.error(f"unknown tool {', '.join(bad)}: choose from {', '.join(TOOLS)}")
    args.drivers = args.drivers.split(",")
    bad = [d for d in args.drivers if d not in DRIVERS]
    if bad:
        p.error(f"unknown driver {', '.join(bad)}: choose from {', '.join(DRIVERS)}")
    if not args.arch.isdigit() or args.tool_timeout < 1:
        p.error("--arch is a number like 90; --tool-timeout >= 1")
    return args


def find(explicit: str | None, name: str, *fallbacks: str) -> str | None:
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for candidate in (shutil.which(name), *fallbacks):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_nvcc(explicit: str | None) -> str | None:
    return find(explicit, "nvcc", os.environ.get("CUDACXX", ""), "/usr/local/cuda/bin/nvcc")


def find_sanitizer(explicit: str | None, nvcc: str | None) -> str | None:
    beside = str(Path(nvcc).resolve().parent / "compute-sanitizer") if nvcc else ""
    return find(explicit, "compute-sanitizer", beside, "/usr/local/cuda/bin/compute-sanitizer")


def plugin_kernel_driver() -> str:
    """The launcher driver of tests/gpu/plugin_kernel.py (one copy of it, not two)."""
    import importlib.util

    for path in (REPO / "tests" / "gpu" / "plugin_kernel.py", REPO / "benchmarks" / "gpu" / "plugin_kernel.py"):
        if path.is_file():
            spec = importlib.util.spec_from_file_location("plugin_kernel_script", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.DRIVER
    raise FileNotFoundError("tests/gpu/plugin_kernel.py not found")


def driver_commands(nvcc: str, work: Path, arch: str) -> dict[str, list[str]]:
    blend = blend_dir()
    gen = f"-gencode=arch=compute_{arch},code=sm_{arch}"
    common = [nvcc, "-O2", "-g", "-lineinfo", "-std=c++17", gen, f"-I{blend}"]
    return {
        # cpp/src/cuda*.cpp: the library's whole CUDA layer, however it is split into files
        "cuda_paths": common + [f"-I{REPO / 'cpp' / 'src'}", f"-I{REPO / 'cpp' / 'include'}", "-o", str(work / "cuda_paths"),
                                str(REPO / "benchmarks" / "gpu" / "cuda_paths.cu"),
                                *sorted(str(p) for p in (REPO / "cpp" / "src").glob("cuda*.cpp")),
                                str(REPO / "cpp" / "src" / "error.cpp"), str(blend / "fused_blend.cu")],
        "blend_kernel": common + ["-o", str(work / "blend_kernel"), str(work / "blend_kernel.cu"), str(blend / "fused_blend.cu")],
    }


def build_drivers(nvcc: str, work: Path, arch: str, drivers, log) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    if "blend_kernel" in drivers:
        (work / "blend_kernel.cu").write_text(plugin_kernel_driver())
    results = {}
    for name, cmd in driver_commands(nvcc, work, arch).items():
        if name not in drivers:
            continue
        start = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
        results[name] = {"rc": r.returncode, "seconds": round(time.monotonic() - start, 1), "command": " ".join(cmd)}
        if r.returncode:
            results[name]["error"] = (r.stdout + r.stderr).strip()[-3000:]
        log(f"build {name}: rc {r.returncode} in {results[name]['seconds']} s")
    return results


def cmake_build(nvcc: str, work: Path, log) -> dict:
    """cpp/ (and plugins/) with CMake, CUDA on; its outcome is reported, not required."""
    cmake = shutil.which("cmake")
    if cmake is None:
        return {"skipped": "cmake not found on PATH"}
    build = work / "cmake"
    configure = [cmake, "-S", str(REPO), "-B", str(build), f"-DCMAKE_CUDA_COMPILER={nvcc}", "-DTRTMATTE_BUILD_CPP=ON",
                 "-DTRTMATTE_WITH_TENSORRT=ON", f"-DTensorRT_ROOT={REPO / 'third_party' / 'tensorrt' / '11.1'}",
                 "-DTRTMATTE_BUILD_TESTS=ON", "-DTRTMATTE_BUILD_EXAMPLES=OFF"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    out = {}
    for step, cmd in (("configure", configure), ("build", [cmake, "--build", str(build), "-j", str(os.cpu_count() or 4)])):
        start = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
        out[step] = {"rc": r.returncode, "seconds": round(time.monotonic() - start, 1),
                     "tail": "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])}
        log(f"cmake {step}: rc {r.returncode} in {out[step]['seconds']} s")
        if r.returncode:
            break
    return out


def error_count(output: str) -> int | None:
    """The sum of compute-sanitizer's ERROR SUMMARY lines; None when it printed none."""
    counts = [int(n) for n in SUMMARY.findall(output)]
    return sum(counts) if counts else None


def sanitize(sanitizer: str, exe: Path, tool: str, timeout: int) -> dict:
    cmd = [sanitizer, "--tool", tool, "--error-exitcode", "9", *TOOL_FLAGS.get(tool, []), str(exe)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        output, rc = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return {"rc": None, "errors": None, "error": f"timed out after {timeout} s", "tail": output[-2000:]}
    return {"rc": rc, "errors": error_count(output), "tail": "\n".join(output.strip().splitlines()[-20:])}


def version(tool: str) -> str:
    try:
        return subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def main(argv=None) -> int:
    args = parse_args(argv)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"part": "compute_sanitizer", "device": "cpu (dry run)" if args.dry_run else gpu_name(),
                    "dry_run": args.dry_run, "arch": f"sm_{args.arch}", "tools": {}}

    def save() -> None:
        (out / "gpu_compute_sanitizer.json").write_text(json.dumps(report, indent=2) + "\n")

    def log(msg: str) -> None:
        print(msg, flush=True)

    nvcc = find_nvcc(args.nvcc)
    sanitizer = find_sanitizer(args.sanitizer, nvcc)
    report["nvcc"] = nvcc and {"path": nvcc, "version": version(nvcc)}
    report["compute_sanitizer"] = sanitizer and {"path": sanitizer, "version": version(sanitizer)}
    missing = [what for what, path, needed in (("nvcc", nvcc, True), ("compute-sanitizer", sanitizer, not args.dry_run))
               if needed and path is None]
    if missing:
        report["skipped"] = (f"{' and '.join(missing)} not found (looked in --nvcc/--compute-sanitizer, CUDACXX, PATH, "
                             "/usr/local/cuda/bin): nothing built or sanitized")
        log(report["skipped"])
        save()
        return 0
    report["builds"] = build_drivers(nvcc, work, args.arch, args.drivers, log)
    save()
    failed = [name for name, b in report["builds"].items() if b["rc"]]
    if failed:
        report["error"] = f"nvcc failed to build {', '.join(failed)} (see builds)"
    if args.dry_run:
        report["planned"] = {tool: [sanitizer or "compute-sanitizer", "--tool", tool, "--error-exitcode", "9",
                                    *TOOL_FLAGS.get(tool, [])] for tool in args.tools}
        save()
        return 1 if failed else 0
    for tool in args.tools:
        entry = report["tools"][tool] = {"targets": {}}
        for name in report["builds"]:
            if name in failed:
                continue
            result = sanitize(sanitizer, work / name, tool, args.tool_timeout)
            entry["targets"][name] = result
            log(f"{tool} {name}: rc {result['rc']}, {result['errors']} error(s)")
            save()
        counts = [t["errors"] for t in entry["targets"].values()]
        entry["errors"] = sum(counts) if counts and None not in counts else None
    save()
    if not args.skip_cmake:  # last: the sanitizers' answer comes first if the time box runs out
        report["cmake"] = cmake_build(nvcc, work, log)
        save()
    clean = all(t["errors"] == 0 for t in report["tools"].values()) and not failed
    log(f"compute-sanitizer: {'0 errors' if clean else 'PROBLEMS'}: "
        + ", ".join(f"{tool} {t['errors']}" for tool, t in report["tools"].items()))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
