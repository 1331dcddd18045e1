"""The Classifier role: any model, seen as images in [0, 1] -> class probabilities."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fooling.classifiers import int8
from fooling.classifiers.backends import (
    BACKENDS,
    Compiled,
    Forward,
    OpenVinoModel,
    cache_folder,
    cause,
    compile_for_cpu,
    installed,
)
from fooling.classifiers.int8 import Calibration
from fooling.classifiers.model_file import load_model_file
from fooling.classifiers.onnx_model import OnnxModel
from fooling.errors import FoolingError, first_line
from fooling.limits import BATCH_SIZE, CHANNELS, IMAGE_SIDE, MEAN, STD, Limit
from fooling.records import MAX_PROBABILITY, hash_tensors

PRECISIONS = ("auto", "fp32", "bf16", "int8")
EXACT_BATCH = 64
"""Images per call of a compiled CPU model's fp32 twin. Re-scoring 1000 EfficientNet-Lite0
elites on OpenVINO at the classifier's own 512 peaked at 9.6 GB (measured)."""


class Classifier:
    """Wraps a model so that the rest of `fooling` only sees images and probabilities.

    It owns everything about how the model wants its input: channels, size,
    normalisation, device and batching. Images come in as `float32 [N, C, H, W]`
    in `[0, 1]`; probabilities go out as `float32 [N, K]` on the same device.

    Args:
        model: an `nn.Module` (or any callable on a batch) returning `[N, K]` scores.
        input_shape: `(channels, height, width)` the model expects.
        labels: one name per class, `K` of them.
        mean: per-channel mean subtracted after scaling to `[0, 1]` (None: no shift).
        std: per-channel divisor applied after the mean (None: no scaling).
        outputs: `"logits"` (softmax is applied here) or `"probabilities"`.
        device: where the model runs. An `nn.Module` is moved there and put in
            eval mode in place, as `Module.to` and `Module.eval` do.
        batch_size: the most images sent to the model at once.
        channels_last: run the model on channels-last tensors (much faster for
            convolutions on CPU; only for models that do not `.view` activations).
        precision: `"fp32"`, `"bf16"`, or `"auto"`: bf16 for an `nn.Module` on a GPU
            (autocast, about twice the throughput), and on OpenVINO where the CPU has
            AMX or AVX-512-BF16 and bf16 wins a timed race against fp32 there
            (`fooling.classifiers.backends`); fp32 otherwise. On a CPU, bf16 runs on
            OpenVINO where that is the backend, else through torch autocast.
            `"int8"`: on OpenVINO only, quantised by NNCF for a search, which
            calibrates it on its encoding's images (`calibrate`); fp32 until then.
            Softmax is always taken in fp32, and `exact_probabilities` is fp32
            whatever the precision.
        dataset_mean: the training data's mean colour on `[0, 1]`, where known (gradient
            ascent can start from it).
        name: a short name used in reports and checkpoints.
        fingerprint: the SHA-256 of the file the model came from, when it did; by
            default one is computed from the module's weights when first needed.
        backend: on the CPU, `"torch"`, `"openvino"`, `"onnxruntime"` or `"auto"` (see
            `fooling.classifiers.backends`); the forward pass only, gradients stay torch.
        model_file: the TorchScript or torch.export file `model` was loaded from.
            Such modules do not pickle, so the classifier pickles as that file's
            bytes (checked against `fingerprint`) and loads them again, safely.

    Raises:
        FoolingError: inconsistent shapes, labels or options; int8 on a GPU, on a
            backend other than OpenVINO, or without OpenVINO or NNCF installed.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
        *,
        input_shape: Sequence[int],
        labels: Sequence[str],
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        outputs: str = "logits",
        device: str | torch.device = "cpu",
        batch_size: int = 1024,
        channels_last: bool = False,
        precision: str = "auto",
        dataset_mean: Sequence[float] | None = None,
        name: str = "custom",
        fingerprint: str | None = None,
        backend: str = "torch",
        model_file: Path | None = None,
    ) -> None:
        input_shape = check_input_shape(input_shape)
        if outputs not in ("logits", "probabilities"):
            raise FoolingError(f"outputs must be 'logits' or 'probabilities', got {outputs!r}")
        BATCH_SIZE.check(batch_size)
        if precision not in PRECISIONS:
            raise FoolingError(f"precision must be one of {', '.join(PRECISIONS)}, "
                               f"got {precision!r}")  # fmt: skip
        if len(labels) < 2:
            raise FoolingError("a classifier needs at least two labels")
        self.input_shape = input_shape
        self.labels = [str(label) for label in labels]
        self.outputs = outputs
        self.batch_size = batch_size
        self.name = name
        self.device = torch.device(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if isinstance(model, nn.Module):
            model = model.to(self.device, memory_format=self.memory_format)
            with contextlib.suppress(NotImplementedError):  # torch.export: mode is baked in
                model.eval()
        self.model = model
        self.dataset_mean = None if dataset_mean is None else tuple(dataset_mean)
        self._bad_seen: torch.Tensor | None = None
        self._fingerprint = fingerprint
        self.model_file = model_file
        channels = self.input_shape[0]
        self._mean = _per_channel(mean, channels, MEAN, self.device)
        self._std = _per_channel(std, channels, STD, self.device)
        self.calibration: Calibration | None = None
        self._compiled = self._compile(backend, precision)
        self.backend = "torch" if self._compiled is None else self._compiled.backend
        if self._compiled is not None:
            precision = self._compiled.precision
        elif precision == "int8":  # OpenVINO failed on this model (one warning said so)
            precision = "fp32"
        elif precision == "auto":
            on_gpu = self.device.type == "cuda" and isinstance(model, nn.Module)
            precision = "bf16" if on_gpu else "fp32"
        self.precision = precision

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def with_model(self, model: nn.Module, *, labels: Sequence[str], name: str) -> Classifier:
        """Another model that takes the same input: this one's shape, normalisation, device,
        batching, precision and backend around `model` (a retrained copy, say).

        Raises:
            FoolingError: as for the constructor.
        """
        return Classifier(
            model, input_shape=self.input_shape, labels=labels,
            mean=None if self._mean is None else self._mean.flatten().tolist(),
            std=None if self._std is None else self._std.flatten().tolist(),
            outputs=self.outputs, device=self.device, batch_size=self.batch_size,
            channels_last=self.memory_format == torch.channels_last, precision=self.precision,
            dataset_mean=self.dataset_mean, name=name, backend=self.backend,
        )  # fmt: skip

    def class_indices(self, classes: Sequence[int | str] | None = None) -> list[int]:
        """Class indices from indices or labels (as the classifier spells them); all when None.

        A string of digits is an index, so an MNIST label "3" and the index 3 agree.

        Raises:
            FoolingError: an unknown label, an index out of range, a repeat, or no class.
        """
        if classes is None:
            return list(range(self.num_classes))
        indices = []
        for value in classes:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            elif isinstance(value, str):
                if value not in self.labels:
                    raise FoolingError(f"{value!r} is neither a class index nor a label")
                value = self.labels.index(value)
            if not 0 <= int(value) < self.num_classes:
                last = self.num_classes - 1
                raise FoolingError(f"class {value} out of range: {self.name} has classes 0..{last}")
            indices.append(int(value))
        if not indices:
            raise FoolingError("no target classes given")
        if len(set(indices)) != len(indices):
            raise FoolingError("target classes must not repeat")
        return indices

    @property
    def differentiable(self) -> bool:
        """Whether gradients flow to the input: an `nn.Module` yes, a black box (ONNX) no."""
        return isinstance(self.model, nn.Module)

    def identity(self) -> dict[str, object]:
        """What makes this classifier score as it does: its weights, its preprocessing, its
        precision and backend, and for int8 its calibration.

        A checkpoint records it, and a run resumes only with a classifier whose
        identity is the same. `weights` is the SHA-256 of the model file or of the
        module's tensors (None for a callable that is neither).
        """
        return {
            "name": self.name,
            "weights": self._weights(),
            "input_shape": list(self.input_shape),
            "labels": hashlib.sha256("\n".join(self.labels).encode()).hexdigest(),
            "mean": None if self._mean is None else self._mean.flatten().tolist(),
            "std": None if self._std is None else self._std.flatten().tolist(),
            "outputs": self.outputs,
            "precision": self.precision,
            "backend": self.backend,
            **({"calibration": self.calibration.key()} if self.calibration is not None else {}),
        }

    def _weights(self) -> str | None:
        """The SHA-256 of the model file or of the module's tensors (computed once)."""
        if self._fingerprint is None and isinstance(self.model, nn.Module):
            self._fingerprint = weights_digest(self.model)
        return self._fingerprint

    @property
    def exact(self) -> bool:
        """Whether the search's own scores are fp32 (else results are re-scored in fp32)."""
        return self.precision == "fp32"

    def exact_confidences(
        self, images: torch.Tensor, classes: torch.Tensor, confidences: torch.Tensor
    ) -> torch.Tensor:
        """Each image's fp32 probability for its class: `confidences` when already exact.

        Args:
            images: `uint8 [K, C, H, W]`, as an archive holds its elites.
            classes: `long [K]` the class of each image.
            confidences: `[K]` the search's own figures (-1 where a cell is empty).

        Returns:
            `float32 [K]`, -1 kept for empty cells.
        """
        if self.exact:
            return confidences
        scored = self.exact_probabilities(images.float().div(255))
        mine = scored.gather(1, classes.to(scored.device).view(-1, 1)).squeeze(1)
        return torch.where(confidences.to(mine.device) < 0, confidences.to(mine.device), mine)

    def exact_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities in fp32, whatever precision the search runs in.

        Args:
            images: as for calling the classifier.

        Returns:
            `float32 [N, K]` probabilities on the classifier's device.

        Raises:
            FoolingError: as for calling the classifier.
        """
        # a compiled CPU model keeps buffers for the largest batch it has seen: the fp32 one is
        # used for reports only, so it gets small batches (as fast, at a fraction of the memory)
        size = self.batch_size if self._compiled is None else min(self.batch_size, EXACT_BATCH)
        with torch.inference_mode():
            batches = [self._probabilities(chunk, exact=True) for chunk in images.split(size)]
        return torch.cat(batches)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities for a batch of images.

        Args:
            images: `float [N, C, H, W]` in `[0, 1]`. One or three channels are
                converted to what the model expects; another size is resized.

        Returns:
            `float32 [N, K]` softmax probabilities on the classifier's device.

        Raises:
            FoolingError: the images have the wrong rank or channel count, or the
                model fails, or returns scores that are not finite (probabilities
                outside [0, 1]) or not `[N, K]`.
        """
        with torch.inference_mode():
            batches = [self._probabilities(chunk) for chunk in images.split(self.batch_size)]
        return torch.cat(batches) if len(batches) != 1 else batches[0]

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Move, convert channels, resize and normalise images as the model wants them."""
        images = self.fit(images)
        if self._mean is not None:
            images = images - self._mean
        if self._std is not None:
            images = images / self._std
        return images.contiguous(memory_format=self.memory_format)

    def fit(self, images: torch.Tensor) -> torch.Tensor:
        """Images moved, converted to the model's channels and resized (still in [0, 1])."""
        if images.dim() != 4:
            raise FoolingError(f"expected images [N, C, H, W], got shape {tuple(images.shape)}")
        images = images.to(self.device, torch.float32)
        channels, height, width = self.input_shape
        if images.shape[1] != channels:
            images = _convert_channels(images, channels)
        if images.shape[-2:] != (height, width):
            images = F.interpolate(
                images, size=(height, width), mode="bilinear", align_corners=False, antialias=True
            )
        return images

    def log_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Log class probabilities of one batch, with gradients back to `images`.

        Args:
            images: `float [N, C, H, W]` in `[0, 1]`, as for calling the classifier.

        Returns:
            `float32 [N, K]` log-softmax of the scores.

        Raises:
            FoolingError: the model is a black box, fails, or returns bad scores.
        """
        if not self.differentiable:
            raise FoolingError(f"{self.name} is a black box: it gives no gradients")
        with torch.enable_grad():
            scores = self._scores(images)
        if bool(self._bad(scores)):
            raise FoolingError(self._bad_message())
        if self.outputs == "logits":
            return scores.log_softmax(dim=1)
        return scores.clamp(min=1e-45).log()

    def trial(self) -> None:
        """Score two noise images, and raise now if the model fails or its scores are bad.

        Commands run it before they claim a run directory, so that a model that
        cannot work costs nothing already written there.

        Raises:
            FoolingError: as for calling the classifier.
        """
        noise = torch.rand((2, *self.input_shape), generator=torch.Generator().manual_seed(0))
        self(noise)
        self.check_scores()

    def check_scores(self) -> None:
        """On a GPU, raise if any scores so far were bad (on a CPU each call checks at once).

        Raises:
            FoolingError: the model returned scores that are not finite (or, for
                probabilities, outside [0, 1]).
        """
        if self._bad_seen is not None and bool(self._bad_seen):
            raise FoolingError(self._bad_message())

    def _probabilities(self, images: torch.Tensor, *, exact: bool = False) -> torch.Tensor:
        if self._compiled is not None and not torch.is_grad_enabled():
            return self._compiled_probabilities(images, exact=exact)
        scores = self._scores(images, exact=exact)
        bad = self._bad(scores)
        if self.device.type == "cpu":
            if bad:
                raise FoolingError(self._bad_message())
        else:  # reading `bad` now would wait for the whole batch: remember it for later
            self._bad_seen = bad if self._bad_seen is None else self._bad_seen | bad
        return scores.softmax(dim=1) if self.outputs == "logits" else scores

    def _compiled_probabilities(self, images: torch.Tensor, *, exact: bool) -> torch.Tensor:
        """Probabilities from the compiled model, the softmax and checks done in numpy.

        A torch operation between two compiled calls would leave torch's threads
        spinning while the compiled model runs, halving its speed (measured).
        """
        assert self._compiled is not None
        forward = self._compiled.exact if exact else self._compiled.forward
        scores = self._scores(images, forward=forward).numpy()
        if self.outputs == "logits":
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
            bad = not np.isfinite(scores).all()
        else:
            bad = not ((scores >= 0) & (scores <= MAX_PROBABILITY)).all()
        if bad:
            raise FoolingError(self._bad_message())
        return torch.from_numpy(scores)

    def _scores(
        self, images: torch.Tensor, *, exact: bool = False, forward: Forward | None = None
    ) -> torch.Tensor:
        """The model's scores `float32 [N, K]` (fp32 if `exact`), any failure as one line.

        `forward`, when given, is a compiled model that takes the images in [0, 1].
        """
        inputs = images
        try:
            if forward is not None:
                scores = forward(self.fit(images))
            else:
                bf16 = self.precision == "bf16" and not exact
                with (
                    torch.autocast(self.device.type, torch.bfloat16, enabled=bf16),
                    contextlib.nullcontext() if bf16 else ieee_fp32(self.device),
                ):
                    scores = self.model(self.prepare(images))
        except torch.OutOfMemoryError:
            raise FoolingError(
                f"{self.device.type} memory ran out scoring {len(inputs)} images with {self.name}"
            ) from None
        except FoolingError:
            raise
        except Exception as error:
            first = first_line(error)
            raise FoolingError(
                f"{self.name} failed on a batch of {len(inputs)} images: {first}"
            ) from None
        if not isinstance(scores, torch.Tensor) or scores.shape != (len(inputs), self.num_classes):
            shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores)
            raise FoolingError(
                f"model returned {shape} for {len(inputs)} images, "
                f"expected [{len(inputs)}, {self.num_classes}]"
            )
        return scores.float()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its compiled forward pass, whose exported file lives in this
        machine's cache: unpickling compiles it again from the torch model, on whatever
        machine that is (a Ray worker of another node), from that machine's cache. A
        model from a TorchScript or torch.export file travels as that file's bytes.

        Raises:
            FoolingError: the model file is gone or changed since the model was loaded.
        """
        state = {**vars(self), "_compiled": None}
        if self.model_file is not None:
            try:
                data = self.model_file.read_bytes()
            except OSError as error:
                raise FoolingError(f"{self.name} cannot be copied to another process: its "
                                   f"model file is unreadable now ({error})") from None  # fmt: skip
            if hashlib.sha256(data).hexdigest() != self._fingerprint:
                raise FoolingError(f"{self.model_file} changed after {self.name} was loaded")
            state["model"] = ModelBytes(self.model_file.suffix, data)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state["model"], ModelBytes):
            state["model"] = state["model"].load(state["device"], state["memory_format"])
        vars(self).update(state)
        if self.backend != "torch":
            calibration, self.calibration = self.calibration, None
            self._compiled = self._compile(self.backend, self.precision)
            if self._compiled is None:  # it failed or disagrees there: torch (one warning)
                self.backend, self.precision = "torch", "fp32"
            else:
                self.precision = self._compiled.precision
                if calibration is not None:  # quantised again there (or read from its cache)
                    self.calibrate(calibration)

    def calibrate(self, calibration: Calibration) -> None:
        """Quantise an int8 classifier for a search, on the images `calibration` makes.

        Nothing happens at other precisions, or when it is calibrated so already. A
        quantisation that fails, or whose top-1 class agrees with fp32 on fewer than
        `int8.TOP1_AGREEMENT` of the probe images, is not used: one warning line says
        why, and the classifier runs at the precision `auto` chooses.

        Args:
            calibration: the recipe (`Calibration.of(encoding)` for a search's encoding).
        """
        if self.precision != "int8" or self.calibration == calibration:
            return
        assert self._compiled is not None and isinstance(self._compiled.exact, OpenVinoModel)
        exact = self._compiled.exact
        try:
            quantized = int8.quantize(
                exact.path, calibration, self.fit(calibration.calibration_images()),
                mean=self._mean, std=self._std, cache=cache_folder(),
                fingerprint=str(self._weights()),
            )  # fmt: skip
            probe = self.fit(calibration.probe_images())
            agreement = float((quantized(probe).argmax(1) == exact(probe).argmax(1)).float().mean())
        except Exception as error:  # NNCF or OpenVINO failing: the search goes on without int8
            self._leave_int8(f"could not be quantised ({cause(error)})")
            return
        if agreement < int8.TOP1_AGREEMENT:
            self._leave_int8(
                f"in int8 gives fp32's top-1 class on {agreement:.0%} of {len(probe)} probe "
                f"images (at least {int8.TOP1_AGREEMENT:.0%} needed)"
            )
            return
        self._compiled = Compiled("openvino", quantized, exact, "int8")
        self.calibration = calibration

    def _leave_int8(self, why: str) -> None:
        """Warn, in one line, why int8 is not used, and run at `auto`'s precision."""
        self._compiled = self._compile("openvino", "auto")
        self.precision = "fp32" if self._compiled is None else self._compiled.precision
        self.backend = "torch" if self._compiled is None else self._compiled.backend
        warnings.warn(f"fooling: {self.name} {why}; running in {self.precision}", stacklevel=3)

    def _compile(self, backend: str, precision: str) -> Compiled | None:
        """The model compiled for the CPU by `backend`, or None for the torch path."""
        if backend not in BACKENDS:
            raise FoolingError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
        if precision == "int8":
            return self._compile_int8(backend)
        if backend == "torch" or self.device.type != "cpu":
            if backend not in ("torch", "auto"):
                raise FoolingError(f"backend {backend} runs on the CPU, not on {self.device}")
            return None
        source = (self.model.file(cache_folder() / "onnx") if isinstance(self.model, OnnxModel)
                  else self.model)  # fmt: skip
        if not isinstance(source, nn.Module | Path):
            if backend != "auto":
                raise FoolingError(f"{self.name} is a Python callable: only torch can run it")
            return None
        return compile_for_cpu(
            source, backend=backend, precision=precision, input_shape=self.input_shape,
            mean=self._mean, std=self._std, fingerprint=str(self._weights()),
            reference=self._reference, outputs=self.outputs, name=self.name,
        )  # fmt: skip

    def _compile_int8(self, backend: str) -> Compiled | None:
        """The fp32 OpenVINO model that `calibrate` quantises (until then, the forward pass).

        Raises:
            FoolingError: int8 asked of a GPU, of another backend, of a Python callable,
                or without OpenVINO or NNCF installed.
        """
        if self.device.type != "cpu":
            raise FoolingError(f"--precision int8 runs on the CPU (through OpenVINO), "
                               f"not on {self.device}")  # fmt: skip
        if backend not in ("auto", "openvino"):
            raise FoolingError(f"--precision int8 runs on OpenVINO, not on --backend {backend}")
        if not installed("openvino"):
            raise FoolingError("--precision int8 runs on OpenVINO: pip install openvino")
        int8.check_installed()
        compiled = self._compile("openvino", "fp32")
        if compiled is None:  # it failed or disagrees with torch: torch (one warning said so)
            return None
        return Compiled("openvino", compiled.exact, compiled.exact, "int8")

    def _reference(self, images: torch.Tensor) -> torch.Tensor:
        """The model's own fp32 scores on `[0, 1]` images, on the CPU (to check a backend)."""
        with torch.inference_mode():
            return self.model(self.prepare(images)).float().cpu()

    def _bad(self, scores: torch.Tensor) -> torch.Tensor:
        """`bool []`: whether any score is not finite (for probabilities: not in [0, 1])."""
        if self.outputs == "logits":
            return ~torch.isfinite(scores).all()
        return ~((scores >= 0) & (scores <= MAX_PROBABILITY)).all()

    def _bad_message(self) -> str:
        if self.outputs == "logits":
            return f"classifier {self.name!r} returned scores that are NaN or infinite"
        return (
            f"classifier {self.name!r} returned probabilities outside [0, 1] (or NaN); "
            "if it gives logits, leave out --outputs probabilities"
        )


def check_input_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """`(channels, height, width)`, each in its allowed range.

    Raises:
        FoolingError: not three sizes, or one out of range.
    """
    if len(shape) != 3:
        raise FoolingError(f"input_shape must be (channels, height, width), got {tuple(shape)}")
    channels, height, width = (int(size) for size in shape)
    CHANNELS.check(channels)
    IMAGE_SIDE.check(height)
    IMAGE_SIDE.check(width)
    return channels, height, width


def weights_digest(model: nn.Module) -> str:
    """The SHA-256 of a module's tensors: names, types, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    hash_tensors(digest, model.state_dict())
    return digest.hexdigest()


def _per_channel(
    values: Sequence[float] | None, channels: int, limit: Limit, device: torch.device
) -> torch.Tensor | None:
    if values is None:
        return None
    for value in values:
        limit.check(float(value))
    if limit is STD and 0 in values:
        raise FoolingError("std must not contain zeros")
    tensor = torch.as_tensor(values, dtype=torch.float32, device=device).flatten()
    if tensor.numel() == 1:
        tensor = tensor.repeat(channels)
    if tensor.numel() != channels:
        raise FoolingError(f"{limit.name} has {tensor.numel()} values for {channels} channels")
    return tensor.view(1, channels, 1, 1)


def _convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    have = images.shape[1]
    if have == 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], device=images.device)
        return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1)
    raise FoolingError(f"images have {have} channels, the classifier expects {channels}")


@dataclass(frozen=True)
class ModelBytes:
    """A TorchScript or torch.export model file's bytes, as a pickled `Classifier` holds them."""

    suffix: str
    data: bytes

    def load(self, device: torch.device, memory_format: torch.memory_format) -> nn.Module:
        """The model, loaded as `load_model_file` loads a file (no pickle runs), on `device`."""
        with tempfile.TemporaryDirectory(prefix="fooling-model-") as folder:
            path = Path(folder) / f"model{self.suffix}"
            path.write_bytes(self.data)
            model = load_model_file(path, torch.device("cpu"))
        assert isinstance(model, nn.Module)
        model = model.to(device, memory_format=memory_format)
        with contextlib.suppress(NotImplementedError):  # torch.export: mode is baked in
            model.eval()
        return model


@contextlib.contextmanager
def ieee_fp32(device: torch.device) -> Iterator[None]:
    """fp32 that is fp32 on a GPU, for the scores that are saved and reported.

    PyTorch lets cuDNN run fp32 convolutions in TF32 (a 10-bit mantissa) by default,
    which moved LeNet's probabilities of real digits by more than 1e-4 on an H200
    (`tests/test_cuda.py`). A no-op elsewhere; the flags are restored afterwards.
    """
    if device.type != "cuda":
        yield
        return
    conv, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    if hasattr(conv, "conv") and hasattr(conv.conv, "fp32_precision"):  # torch >= 2.9
        saved = conv.conv.fp32_precision, matmul.fp32_precision
        conv.conv.fp32_precision = matmul.fp32_precision = "ieee"
        try:
            yield
        finally:
            conv.conv.fp32_precision, matmul.fp32_precision = saved
        return
    saved = conv.allow_tf32, matmul.allow_tf32
    conv.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        conv.allow_tf32, matmul.allow_tf32 = saved
