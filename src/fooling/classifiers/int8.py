"""int8 on the CPU: a classifier's OpenVINO model quantised by NNCF, calibrated on a search's
own images.

Post-training quantisation needs images like those the model will see. A search
sees renderings of its encoding's genomes, so a `Calibration` names an encoding
(by its settings) and makes its images itself: random genomes and their mutants
of one to three steps, rendered at the 256 levels a search scores. CPPN and
direct images differ, so each encoding is calibrated on its own.

The recipe, chosen by measurement on EfficientNet-Lite0 and LeNet (2-core AMD
EPYC, campaigns running beside it; top-1 agreement with fp32 on 256 held-out
renderings of the same recipe):

| Lite0, CPPN images, 300 calibration images | top-1 agreement |
| --- | --- |
| NNCF defaults (preset performance, fast bias correction) | 0.75 |
| preset mixed | 0.64 |
| the classifier layer left in fp32 | 0.76 |
| full bias correction (kept) | 0.82 |

Direct (noise) images agree at 1.00 and LeNet's at 0.99 either way. The number of
calibration images hardly matters: 100, 300 and 600 gave 0.83, 0.82 and 0.83 (256
probes: about ±0.02), and took 11, 25 and 41 s to quantise. 300 is kept, the size
`benchmarks/int8_search.py` measured the searches with. It is paid once: the quantised
model is cached beside the compiled fp32 one, keyed by the weights, the recipe and
the versions of NNCF and OpenVINO.

Before use, the quantised model is checked on a probe batch (other renderings
of the same recipe): it must give fp32's top-1 class on `TOP1_AGREEMENT` of
them. A model that does not is not used: the classifier says why in one line and
runs at the precision `auto` would have chosen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from fooling.classifiers.backends import (
    OpenVinoModel,
    cause,
    read_normalized,
    write_cache_entry,
)
from fooling.encodings import Encoding, encoding_from_settings
from fooling.errors import FoolingError

CALIBRATION_IMAGES = 300
PROBE_IMAGES = 128
TOP1_AGREEMENT = 0.7
"""The share of probe images on which the int8 model must give fp32's top-1 class. Lite0
reached 0.82 on CPPN renderings and 1.00 on direct ones, LeNet 0.99 (measured): the
threshold leaves room below the lowest of them."""
MUTATION_STEPS = 3  # calibration images: random genomes, and their mutants of 1..3 steps
INSTALL = 'pip install "fooling[int8]"  (or: pip install nncf)'


@dataclass(frozen=True)
class Calibration:
    """How an int8 model is calibrated: renderings of one encoding's genomes.

    Attributes:
        encoding: the encoding's `settings()`.
        images: how many calibration images.
        seed: seeds the genomes (the probe batch uses the next seed).
        preset: NNCF's quantisation preset.
        fast_bias_correction: NNCF's option (False: the full, slower correction).
    """

    encoding: dict[str, Any] = field(hash=False)
    images: int = CALIBRATION_IMAGES
    seed: int = 0
    preset: str = "performance"
    fast_bias_correction: bool = False

    @classmethod
    def of(cls, encoding: Encoding) -> Calibration:
        """The calibration of this package's recipe for `encoding`'s images."""
        return cls(encoding.settings())

    def key(self) -> str:
        """A short hash of the recipe (part of the cached model's name)."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def renderings(self, count: int, seed: int) -> torch.Tensor:
        """`count` images `float32 [N, C, H, W]` on the CPU: random genomes and their mutants,
        in a random order, at 256 levels."""
        encoding = encoding_from_settings(self.encoding, "cpu")
        generator = torch.Generator().manual_seed(seed)
        genomes = encoding.random(count, generator)
        rounds = [encoding.render(genomes, levels=True)]
        for step in range(1, MUTATION_STEPS + 1):
            genomes = encoding.mutate(genomes, step, generator)
            rounds.append(encoding.render(genomes, levels=True))
        images = torch.cat(rounds)
        return images[torch.randperm(len(images), generator=generator)[:count]].contiguous()

    def calibration_images(self) -> torch.Tensor:
        return self.renderings(self.images, self.seed)

    def probe_images(self) -> torch.Tensor:
        return self.renderings(PROBE_IMAGES, self.seed + 1)


def check_installed() -> None:
    """Raise FoolingError, naming the install command, unless NNCF can be imported."""
    try:
        import nncf  # noqa: F401
    except ImportError:
        raise FoolingError(f"--precision int8 needs NNCF: {INSTALL}") from None


def quantize(
    model_file: Path,
    calibration: Calibration,
    images: torch.Tensor,
    *,
    mean: torch.Tensor | None,
    std: torch.Tensor | None,
    cache: Path,
    fingerprint: str,
) -> OpenVinoModel:
    """The int8 OpenVINO model of `model_file`, quantised into `cache` if it is not there.

    The classifier's normalisation is put into the graph before quantising, so the
    quantised model takes `[0, 1]` images as the calibration renders them.

    Args:
        model_file: the fp32 model (OpenVINO IR, or `.onnx`).
        calibration: the recipe (part of the cache key).
        images: its images as the model takes them, `float32 [N, C, H, W]` in `[0, 1]`.
        mean: `[1, C, 1, 1]` or None.
        std: `[1, C, 1, 1]` or None.
        cache: the compiled-model cache folder.
        fingerprint: the weights' hash.

    Returns:
        The quantised model, compiled. A cached one that cannot be read is quantised
        again, with one warning line.

    Raises:
        Exception: whatever NNCF or OpenVINO raise (the classifier reports it in one line).
    """
    import nncf
    import openvino

    key = {"weights": fingerprint, "recipe": calibration.key(), "nncf": nncf.__version__,
           "openvino": openvino.__version__,
           "mean": None if mean is None else mean.flatten().tolist(),
           "std": None if std is None else std.flatten().tolist()}  # fmt: skip
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    target = cache / f"openvino-int8-{digest}" / "model.xml"
    if target.is_file():
        try:
            return OpenVinoModel(target, None, None, "int8")
        except Exception as error:
            shutil.rmtree(target.parent, ignore_errors=True)
            warnings.warn(f"fooling: the cached int8 model in {target.parent} could not be used "
                          f"({cause(error)}); it was quantised again", stacklevel=4)  # fmt: skip
    graph = read_normalized(model_file, mean, std)
    array = images.numpy()
    dataset = nncf.Dataset([array[index : index + 1] for index in range(len(array))])
    with _quiet_nncf():
        quantized = nncf.quantize(
            graph, dataset, subset_size=len(array),
            preset=getattr(nncf.QuantizationPreset, calibration.preset.upper()),
            fast_bias_correction=calibration.fast_bias_correction,
        )  # fmt: skip
    write_cache_entry(
        target, lambda path: openvino.save_model(quantized, str(path), compress_to_fp16=False)
    )
    return OpenVinoModel(target, None, None, "int8")


@contextlib.contextmanager
def _quiet_nncf():
    """NNCF's progress bars and INFO lines, kept off the user's terminal."""
    import nncf

    logger = logging.getLogger("nncf")
    level = logger.level
    nncf.set_log_level(logging.ERROR)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            yield
    finally:
        logger.setLevel(level)
