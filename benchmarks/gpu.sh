#!/usr/bin/env bash
# Every GPU number of benchmarks/RESULTS.md from one call (benchmarks/gpu_report.py says what):
#   bash benchmarks/gpu.sh                         # a GPU machine: markdown + JSON in outputs/gpu-report/
#   bash benchmarks/gpu.sh --device cpu --smoke    # the same code paths on CPU, under a minute
# Runs from the source tree: needs torch, torchvision, numpy, scipy, pandas, scikit-learn (and
# pytest for the CUDA tests), nothing installed from this project.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
exec "$PYTHON" benchmarks/gpu_report.py "$@"
