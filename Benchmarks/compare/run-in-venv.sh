#!/usr/bin/env bash
# run-in-venv.sh SCRIPT.py [ARGS…]: creates a local virtual environment with PyTorch and JAX from
# PyPI (once; $DLG_COMPARE_VENV or Benchmarks/compare/.venv), builds dlg in release, and runs
# SCRIPT.py of this folder with --dlg set to that build. compare.sh and sequence.sh call it.
# Optional: dlg itself needs none of this.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
script="$1"
shift
venv="${DLG_COMPARE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet torch "jax[cpu]" numpy
fi
(cd "$root" && swift build -c release --product dlg)
exec "$venv/bin/python" "$here/$script" --dlg "$root/.build/release/dlg" "$@"
