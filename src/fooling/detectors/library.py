"""pytorch-ood, loaded without the parts that need torchvision.

pytorch-ood's package `__init__` imports its datasets, which import torchvision;
torchvision from PyPI does not import beside a CPU build of torch (its operators
are built for another one). The detectors and metrics need neither, so when the
package has not been imported already it is registered here as an empty package
and only `pytorch_ood.detector` is loaded from it. With a working torchvision a
plain `import pytorch_ood` beforehand is used as it is. Where pytorch-ood is not
installed, it is imported from its downloaded wheel (`fooling.wheels`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

from fooling.errors import FoolingError
from fooling.wheels import download_command, find_wheel


def detector_module() -> types.ModuleType:
    """`pytorch_ood.detector`, imported without pytorch-ood's datasets.

    Raises:
        FoolingError: pytorch-ood is neither downloaded nor installed (the line names
            the command that downloads it).
    """
    if "pytorch_ood" not in sys.modules:
        spec = importlib.util.find_spec("pytorch_ood")
        wheel = find_wheel("pytorch-ood")
        if spec is None and wheel is not None:
            sys.path.append(str(wheel))  # a wheel of pure Python imports as a zip file
            spec = importlib.util.find_spec("pytorch_ood")
        if spec is None or spec.submodule_search_locations is None:
            raise FoolingError(
                f"detectors need pytorch-ood: {download_command('pytorch-ood')} "
                "(scripts/setup.sh does)"
            )
        package = types.ModuleType("pytorch_ood")
        package.__spec__ = spec
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["pytorch_ood"] = package
    return importlib.import_module("pytorch_ood.detector")
