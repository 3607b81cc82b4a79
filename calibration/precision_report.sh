#!/usr/bin/env bash
# Reproduce the precision table of docs/results.md: FP32 vs FP16 vs INT8 (three calibration methods) of one
# checkpoint, on held-out synthetic composites and scikit-image photos, in onnxruntime (CPU).
# Usage: calibration/precision_report.sh CHECKPOINT WORKDIR   (about 20-30 minutes on 2 cores)
set -euo pipefail
ckpt=${1:?checkpoint (.safetensors)}; work=${2:?work directory}
mkdir -p "$work/graphs"
# alpha exported as float32, so the report measures precision, not the uint8 output quantum
trtmatte export --weights "$ckpt" --alpha-dtype float32 -o "$work/model.onnx"
[ -d "$work/calib" ] || trtmatte calibset --synthetic -n 64 --seed 0 -o "$work/calib"
[ -d "$work/heldout" ] || trtmatte calibset --synthetic --split heldout --seed 1 -n 16 -o "$work/heldout"
trtmatte quantize "$work/model.onnx" --precision fp16 int8 --method max entropy percentile \
    --calib "$work/calib" --calib-count 64 --calib-size 512 \
    --eval "$work/heldout" --eval-count 16 --report "$work/report.json" -o "$work/graphs"
