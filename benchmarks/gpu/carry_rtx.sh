#!/usr/bin/env bash
# Prepare TensorRT-RTX's runtime for the GPU machine, in parts that each fit one transfer.
#
# Usage (repo root, on the machine that holds the venv; takes a few minutes, xz -9 on one core):
#   bash benchmarks/gpu/carry_rtx.sh [--parts N] [--python-version 3.12]
#   bash benchmarks/gpu/carry_rtx.sh --check     # only: how big the tree is, and the room left per part
#
# What travels: site/ with tensorrt_rtx/ (the package), tensorrt_rtx_libs/ (libtensorrt_rtx.so.1,
# 210 MiB, and the ONNX parser, from the tensorrt-rtx-cu12-libs wheel in the venv) and
# tensorrt_rtx_bindings/ (from the bindings wheel for the GPU machine's Python, 3.12 there: the
# venv's is for its own Python), as one tar.xz split into N parts (default 2):
#   .gpu-carry/part1/rtx.tar.xz.00 ...   .gpu-carry/partN/rtx.tar.xz.0<N-1>   (+ rtx.tar.xz.sha256 in each)
# .gpu-carry/ is git-ignored. A transfer holds 64 MiB: the working tree (tracked and
# untracked-not-ignored files) plus what it carries; this script measures the tree now and
# refuses, in one line naming the sizes, when a part would not fit beside it.
#
# The transfers (benchmarks/gpu/run_all.sh's header has the exact `run` calls): call k carries
# .gpu-carry/partk and copies it to /tmp/trtmatte-rtx/ on the GPU machine, which keeps /tmp while
# it stays warm (30 s after a call: make the next call at once); the last call runs run_all.sh,
# which joins the parts, checks the sha256 and unpacks site/ to /tmp/trtmatte-rtx/site.
set -euo pipefail
cd "$(dirname "$0")/../.."

parts=2
pyver=3.12
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --parts) parts="$2"; shift 2 ;;
    --python-version) pyver="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "trtmatte: error: unknown argument $1 (use --parts N, --python-version X.Y)" >&2; exit 1 ;;
  esac
done
case "$parts" in ''|*[!0-9]*|0) echo "trtmatte: error: --parts takes a positive number, got '$parts'" >&2; exit 1 ;; esac

PY=${PYTHON:-.venv/bin/python}
LIMIT=$((64 * 1024 * 1024))
MARGIN=$((2 * 1024 * 1024))  # room for files others add to the tree before the transfer
DEST=.gpu-carry

tree_bytes() {  # what travels besides the carried paths: tracked and untracked-not-ignored files
  git ls-files -z -c -o --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
largest() { git ls-files -z -c -o --exclude-standard | du -b --files0-from=- 2>/dev/null | sort -n | tail -3 |
            awk '{printf "%s%s (%.1f MiB)", sep, $2, $1 / 1048576; sep = ", "}'; }
tree=$(tree_bytes)
room=$(( LIMIT - tree - MARGIN ))
# The archive of TensorRT-RTX 1.7.1.116 measured 61,964,844 bytes (59.1 MiB; xz -9 took 29 minutes on
# a busy 2-core machine, 0.7 GB of memory): refuse before minutes of xz when it cannot fit
EXPECTED=61964844
if [ "$check" = 1 ] || [ $(( room * parts )) -lt "$EXPECTED" ]; then
  echo "working tree $(mib "$tree") of the $(mib "$LIMIT") one transfer holds; room per carried part $(mib "$room")" \
       "(keeping $(mib "$MARGIN") spare); largest files: $(largest)"
  if [ $(( room * parts )) -lt "$EXPECTED" ]; then
    echo "trtmatte: error: $parts part(s) of TensorRT-RTX's runtime (about $(mib "$EXPECTED") in all) do not fit beside" \
         "this tree: take files out of the tree, or use more parts (--parts N, one transfer each)" >&2
    exit 1
  fi
  exit 0
fi

libs=$("$PY" -c 'import os, tensorrt_rtx_libs; print(os.path.dirname(tensorrt_rtx_libs.__file__))' 2>/dev/null) || {
  echo "trtmatte: error: tensorrt_rtx_libs is not importable with $PY: install the rtx extra (pip install -e '.[rtx]' -c constraints.txt) or set PYTHON" >&2
  exit 1
}
pkg=$("$PY" -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("tensorrt_rtx").origin))')
version=$("$PY" -c 'import importlib.metadata as m; print(m.version("tensorrt_rtx_cu12_libs"))')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/site/tensorrt_rtx_libs" "$work/wheels"
echo "TensorRT-RTX $version from $libs; bindings for Python $pyver"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
  --platform manylinux_2_28_x86_64 -d "$work/wheels" "tensorrt_rtx_cu12_bindings==$version"
"$PY" -m zipfile -e "$work"/wheels/tensorrt_rtx_cu12_bindings-*.whl "$work/wheels/unpacked"
cp -r "$work/wheels/unpacked/tensorrt_rtx_bindings" "$work/site/"
cp -r "$pkg" "$work/site/tensorrt_rtx"
cp "$libs/__init__.py" "$libs"/libtensorrt_rtx.so.* "$libs"/libtensorrt_onnxparser_rtx.so.* "$work/site/tensorrt_rtx_libs/"
find "$work/site" -name __pycache__ -prune -exec rm -rf {} +
echo "$version cp${pyver/./}" > "$work/site/TENSORRT_RTX_VERSION"

echo "compressing $(du -sh "$work/site" | cut -f1) with xz -9 (minutes) ..."
tar -C "$work" -cf - site | xz -9 -T1 > "$work/rtx.tar.xz"
total=$(stat -c %s "$work/rtx.tar.xz")
tree=$(tree_bytes)
per_part=$(( (total + parts - 1) / parts ))
room=$(( LIMIT - tree - MARGIN ))
if [ "$per_part" -gt "$room" ]; then
  need=$(( room > 0 ? (total + room - 1) / room : 0 ))
  echo "trtmatte: error: the archive is $(mib "$total"), $parts part(s) of $(mib "$per_part"), but the working tree is" \
       "already $(mib "$tree") of the $(mib "$LIMIT") a transfer holds (room per part: $(mib "$room")); largest files:" \
       "$(largest): take files out of the tree, or raise --parts to $need" >&2
  exit 1
fi
rm -rf "$DEST"
(cd "$work" && sha256sum rtx.tar.xz > rtx.tar.xz.sha256 && split -d -n "$parts" rtx.tar.xz rtx.tar.xz.)
for i in $(seq 1 "$parts"); do
  mkdir -p "$DEST/part$i"
  mv "$work/rtx.tar.xz.$(printf %02d $((i - 1)))" "$DEST/part$i/"
  cp "$work/rtx.tar.xz.sha256" "$DEST/part$i/"
done
echo "archive $(mib "$total") (sha256 $(cut -c1-16 "$work/rtx.tar.xz.sha256")...), tree $(mib "$tree"):"
for i in $(seq 1 "$parts"); do
  size=$(du -cb "$DEST/part$i" | tail -1 | cut -f1)
  echo "  $DEST/part$i: $(mib "$size"); with the tree $(mib $((size + tree))) of $(mib "$LIMIT")"
done
