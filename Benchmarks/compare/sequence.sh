#!/usr/bin/env bash
# Creates a local virtual environment with PyTorch and JAX from PyPI (once; the same one as compare.sh),
# builds dlg in release, and runs sequence.py. Optional: dlg itself needs none of this.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
venv="${DLG_COMPARE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet torch "jax[cpu]" numpy
fi
(cd "$root" && swift build -c release --product dlg)
exec "$venv/bin/python" "$here/sequence.py" --dlg "$root/.build/release/dlg" "$@"
