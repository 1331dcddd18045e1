#!/usr/bin/env bash
# One command from a fresh clone: set up with the test tools, lint, and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
FOOLING_EXTRAS=test bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
