#!/usr/bin/env bash
# The GPU path checked against the CPU, stage by stage (scripts/gpu_check.py has what and why):
#   bash scripts/gpu-check.sh                 # on a CUDA machine, under 10 minutes
#   bash scripts/gpu-check.sh --device cpu    # the script itself, where there is no GPU
# Exits 1 on any mismatch beyond float tolerance (exactly, with --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
exec timeout 600 "$PY" scripts/gpu_check.py "$@"
