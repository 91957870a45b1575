#!/usr/bin/env bash
# Runs the mutation campaign (Fuzz/campaign.py) against the release dlg, with
# NumPy and Python's safetensors as the reference readers, installed in a
# virtual environment Fuzz/.venv (not in git) when missing. Extra arguments go
# to campaign.py, e.g. Fuzz/campaign.sh --cases 200 --formats npy,csv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import numpy, safetensors' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet numpy safetensors
fi
dlg="${DLG_BIN:-$root/.build/release/dlg}"
[ -x "$dlg" ] || (cd "$root" && swift build -c release --product dlg)
exec "$venv/bin/python" "$here/campaign.py" --dlg "$dlg" "$@"
