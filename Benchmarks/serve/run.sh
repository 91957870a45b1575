#!/usr/bin/env bash
# dlg serve against LeNet-5 in PyTorch behind Flask (gunicorn), on loopback with wrk.
# Makes a virtual environment with PyTorch (CPU wheels when their index is
# reachable, else PyPI's), Flask and gunicorn once, installs wrk when it is
# missing, builds dlg in release and runs bench.py (its --help lists the knobs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
venv="${DLG_SERVE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/gunicorn" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet torch --index-url https://download.pytorch.org/whl/cpu \
        || "$venv/bin/pip" install --quiet torch
    "$venv/bin/pip" install --quiet flask gunicorn numpy safetensors
fi
if ! command -v wrk >/dev/null; then
    SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi
(cd "$root" && swift build -c release --product dlg)
exec "$venv/bin/python" "$here/bench.py" --dlg "$root/.build/release/dlg" "$@"
