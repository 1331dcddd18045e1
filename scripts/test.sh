#!/usr/bin/env bash
# One command from a fresh clone: set up with the test tools, lint, and run the tests.
# The gallery is tested in a real headless Chromium (Debian's `chromium`), and the two-node
# Ray tests put a firewall between their nodes (`iptables`); when either is missing, this
# installs it with apt-get if it can (as root), else the browser tests skip and the
# two-node tests run without the firewall.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v iptables >/dev/null || missing+=(iptables)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]} for the browser and two-node tests ..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
        >/dev/null 2>&1 || echo "could not install ${missing[*]}; those tests will do without"
fi
FOOLING_EXTRAS=test bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/lint-imports --no-cache  # every import points down (pyproject.toml, docs/architecture.md)
# Two workers, one test file each at a time (its module fixtures made once); tests/conftest.py
# gives each worker one thread. `bash scripts/test.sh -n 0` runs the tests in this process.
exec .venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder "$@"
