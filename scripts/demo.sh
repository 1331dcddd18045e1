#!/usr/bin/env bash
# One command from a fresh clone: set up, then evolve fooling images for the built-in
# MNIST LeNet with both encodings. The last line printed is the gallery's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/fooling demo --out runs/demo --force "$@"
