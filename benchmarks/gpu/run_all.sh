#!/usr/bin/env bash
# Every GPU question of issue #31 in one run of at most 8 minutes (hard limit: timeout 480).
#
# Usage (repo root, on the GPU machine; the repo is copied there, not installed):
#   OUT=/some/dir bash benchmarks/gpu/run_all.sh [--parts a,b] [--box part=SECONDS]
#   bash benchmarks/gpu/run_all.sh --dry-run          # CPU: every part's dry run (OUT defaults to /tmp/trtmatte-gpu-out)
# Parts (benchmarks/gpu/run_all.py; each in its own process and time box, each with its JSON under
# $OUT even when it fails, the run going on past it): compute_sanitizer -> gpu_compute_sanitizer.json,
# tensorrt_rtx -> gpu_tensorrt_rtx.json, side_by_side -> gpu_side_by_side.json, onnxruntime_cuda ->
# gpu_onnxruntime_cuda.json; run_all.json and run_all.log besides (6 files: under the 8 that come back).
# Before the parts: if TensorRT-RTX's runtime was carried (benchmarks/gpu/carry_rtx.sh), its parts
# are joined in /tmp/trtmatte-rtx, checked against their sha256 and unpacked to /tmp/trtmatte-rtx/site.
#
# THE GPU SESSION, exactly (the `run` tool; ~11 of the 15 device minutes):
# 0. Here, first: `bash benchmarks/gpu/carry_rtx.sh` (up to half an hour of xz; it refuses in one
#    line when a part would not fit beside the working tree: a transfer holds 64 MiB, tree included;
#    the archive is 59.1 MiB, two parts of 29.5 MiB, so the tree must stay under 32.5 MiB, and
#    `bash benchmarks/gpu/carry_rtx.sh --check` says how much the tree takes now: over 64 MiB
#    on 2026-12-06, the bundled weights 59.6 MiB of it, too much even for call 2 alone).
# 1. run(command="mkdir -p /tmp/trtmatte-rtx && cp .gpu-carry/part1/* /tmp/trtmatte-rtx/ && ls -l /tmp/trtmatte-rtx && nvidia-smi -L",
#        carry=[".gpu-carry/part1"], timeout_s=120)
# 2. at once (the machine stays warm 30 s after a call, and /tmp with it):
#    run(command="bash benchmarks/gpu/run_all.sh", carry=[".gpu-carry/part2"], timeout_s=540)
#    then give_back(). The six files come back under the reply's files_at: copy the three
#    gpu_*.json that issue #31 names to benchmarks/results/ and update docs/results.md and
#    docs/where-it-ran.md from them.
# Without the RTX runtime (no carry, or carry_rtx.sh refused): call 2 alone, with no carry; the
# tensorrt_rtx part then writes its JSON with the import error and the other parts run as usual.
set -uo pipefail
cd "$(dirname "$0")/../.."
export OUT="${OUT:-/tmp/trtmatte-gpu-out}"
mkdir -p "$OUT"
RTX=${TRTMATTE_RTX_DIR:-/tmp/trtmatte-rtx}  # where the runtime is joined and unpacked (rtx_hopper.py's --rtx-site/..)
CARRY=${TRTMATTE_CARRY_DIR:-.gpu-carry}     # what carry_rtx.sh wrote, as carried

unpack_rtx() {  # join the carried parts; silent when there is nothing to do
  [ -d "$RTX/site" ] && { echo "TensorRT-RTX runtime: $RTX/site (already unpacked)"; return 0; }
  for d in "$CARRY"/part*; do [ -d "$d" ] && mkdir -p "$RTX" && cp "$d"/* "$RTX"/; done
  ls "$RTX"/rtx.tar.xz.* >/dev/null 2>&1 || { echo "TensorRT-RTX runtime: not carried (benchmarks/gpu/carry_rtx.sh)"; return 0; }
  [ -f "$RTX/rtx.tar.xz.sha256" ] || { echo "TensorRT-RTX runtime: rtx.tar.xz.sha256 missing in $RTX"; return 1; }
  (cd "$RTX" && cat rtx.tar.xz.[0-9]* > rtx.tar.xz && sha256sum -c rtx.tar.xz.sha256) ||
    { echo "TensorRT-RTX runtime: the joined parts do not match their sha256 (a part missing: was the machine replaced between the calls?): $(ls "$RTX")"; return 1; }
  tar -C "$RTX" -xJf "$RTX/rtx.tar.xz" && rm -f "$RTX"/rtx.tar.xz* &&
    echo "TensorRT-RTX runtime: unpacked to $RTX/site ($(cat "$RTX/site/TENSORRT_RTX_VERSION" 2>/dev/null))"
}

start=$(date +%s)
if [[ " $* " != *" --dry-run "* ]]; then
  timeout 60 bash -c "$(declare -f unpack_rtx); RTX='$RTX' CARRY='$CARRY' unpack_rtx" 2>&1 | tee -a "$OUT/run_all.log"
fi
# the tensorrt_rtx part finds the runtime here (a --rtx-site given to run_all.py is not a run_all.py option)
export TRTMATTE_RTX_SITE="$RTX/site"
left=$(( 480 - ($(date +%s) - start) ))
# The parts share what is left of 8 minutes; run_all.py keeps 20 s for itself to write its summary.
PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 timeout --kill-after=5 "$left" \
  python3 benchmarks/gpu/run_all.py --out "$OUT" --budget $(( left - 20 )) "$@"
