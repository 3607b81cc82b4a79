#!/usr/bin/env bash
# Usage (repo root, on the GPU machine; the repo is copied there, not installed; no TensorRT needed):
#   OUT=/some/dir bash benchmarks/gpu/side_by_side.sh [--compile max-autotune-no-cudagraphs]
# PyTorch-CUDA: FP16 autocast + CUDA graph against the float16 inference form + CUDA graph, one run,
# late_fusion at 800x800 (benchmarks/gpu/side_by_side.py). Writes $OUT/gpu_side_by_side.json and a log.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" timeout 480 python3 benchmarks/gpu/side_by_side.py --out "${OUT:?set OUT to the output directory}" "$@"
