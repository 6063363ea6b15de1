#!/usr/bin/env bash
# Set up (if needed) and run the demo, fully offline. Extra arguments go to `palign demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/palign demo "$@"
