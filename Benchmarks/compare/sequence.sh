#!/usr/bin/env bash
# dlg against PyTorch eager and torch.compile on sequence models (sequence.py), in the same
# virtual environment as compare.sh (run-in-venv.sh).
exec "$(dirname "$0")/run-in-venv.sh" sequence.py "$@"
