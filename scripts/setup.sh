#!/usr/bin/env bash
# Create .venv and install palign-rag with everything it needs offline (bundled models included).
# Safe to run again: it reinstalls only when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.palign-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing into .venv (the first run compiles llama-cpp-python, about 6 minutes on 2 cores)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch pinned here (CPU build), in the same command as the rest, so nothing pulls a CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0" -e ".[local,dev,server]"
  echo "$want" > "$stamp"
fi
