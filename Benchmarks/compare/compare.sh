#!/usr/bin/env bash
# dlg against PyTorch and JAX on the training step (compare.py), in the benchmarks' virtual
# environment (run-in-venv.sh creates it once and builds dlg in release).
exec "$(dirname "$0")/run-in-venv.sh" compare.py "$@"
