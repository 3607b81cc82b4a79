#!/usr/bin/env bash
# Usage (repo root, on the GPU machine; the repo is copied there, not installed; no TensorRT needed):
#   OUT=/some/dir bash tests/gpu/plugin_kernel.sh
# The fused-blend kernel on the GPU: build (sm_90), compute-sanitizer, correctness vs the CPU twin and
# NumPy, timing vs unfused PyTorch at 800x800 and 2048x2048. Writes $OUT/plugin_kernel.{json,log}.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" timeout 230 python3 tests/gpu/plugin_kernel.py --out "${OUT:?set OUT to the output directory}" "$@"
