#!/usr/bin/env bash
# One command from a fresh clone: set up with the test tools, lint, and run the tests.
# The gallery is tested in a real headless Chromium (Debian's `chromium`); when it is
# missing, this installs it with apt-get if it can (as root), else those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing chromium for the browser tests ..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
        >/dev/null 2>&1 || echo "could not install chromium; the browser tests will skip"
fi
FOOLING_EXTRAS=test bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
