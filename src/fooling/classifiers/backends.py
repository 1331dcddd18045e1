"""Faster forward passes on the CPU: a classifier's model compiled by OpenVINO or ONNX Runtime.

The Classifier owns its backend; the rest of `fooling` still sees images in
and probabilities out. A torch model is exported once, and the export is
cached under the user cache directory (`$XDG_CACHE_HOME/fooling/backends`).
The cache key is a hash of the weights, the input shape, the normalisation,
and the backend's and torch's versions. The batch size is left dynamic, so
one export serves every batch. OpenVINO folds the classifier's normalisation
into the compiled graph. A user's `.onnx` model can run on OpenVINO too.

A compiled model is checked against the classifier's own path (torch, or
ONNX Runtime for an `.onnx` file) before it is used. On a probe batch its fp32
probabilities must agree to `AGREEMENT` and give the same top-1 class. If they
do not, one warning line says so and the classifier keeps its own path.

`auto` uses OpenVINO where it is installed, the model exports and agrees, and
it beats the classifier's own path on a timed batch by `TORCH_MARGIN`. It is torch otherwise,
and torch on a GPU. ONNX Runtime runs only when it is named. Precision `auto`
on OpenVINO is decided the same way: where the CPU offers bf16 (AMX, or
AVX-512-BF16 without it; what bf16 gains differs between the two), bf16 runs only
if it beats OpenVINO's fp32 on the timed batch. Each race is run once per model, pair of
contenders and machine, and its outcome is kept in the cache. Later runs then
choose alike, so the same seed gives the same run. One process at a time prepares a
given model (exports, checks and races it), under a lock beside the cache; another
that loads it meanwhile waits, then finds the work done.

int8 is quantised from the fp32 model here by NNCF, for a search's own images: see
`fooling.classifiers.int8`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout
from torch import nn

from fooling.errors import FoolingError, native_logs_dropped
from fooling.machine import describe_cpu
from fooling.records import atomic_write_text, quantize

BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
AGREEMENT = 1e-4
"""The largest difference in probability allowed between a compiled fp32 model and torch."""
PROBE_IMAGES = 8
RACE_IMAGES = 200  # a search's batch: the paper's population
RACE_ROUNDS = 15  # turns each side gets in a race, at most
RACE_SECONDS = 2.0  # and no more turns after this long
RACE_SLICE = 8  # a first turn each on 1/8 of the batch ...
CLEAR_LEAD = 2.0  # ... ends the race where it shows one side ahead of the verdict by this
PREPARE_WAIT = 600.0  # seconds to wait for another process preparing the same model
# A compiled model must be this much faster than torch to be chosen. Torch's threads and
# the compiled model's hand the CPU back and forth in every generation of a search, which
# a race of forward passes alone does not see. On a quiet 2-core AMD EPYC, LeNet on OpenVINO
# fp32 won or lost its races by 0.87x to 1.07x, yet its gathering searches ran 1.28x slower
# than on torch; EfficientNet-Lite0 won by 2.9x (benchmarks/results/backend_race_cpu.json).
TORCH_MARGIN = 1.25

Forward = Callable[[torch.Tensor], torch.Tensor]
"""Images `float32 [N, C, H, W]` in `[0, 1]` on the CPU -> the model's scores `[N, K]`."""

_INSTALL = {"openvino": "pip install openvino", "onnxruntime": "pip install onnxruntime onnx"}


@dataclass
class Compiled:
    """A model compiled for the CPU: the forward pass a search uses, and an exact (fp32) one.

    Attributes:
        backend: `"openvino"` or `"onnxruntime"`.
        forward: the search's forward pass (bf16 where asked for and supported; int8
            once `Classifier.calibrate` has quantised it, `fooling.classifiers.int8`).
        exact: the fp32 forward pass (the same as `forward` when that is fp32).
        precision: the precision of `forward`.
    """

    backend: str
    forward: Forward
    exact: Forward
    precision: str


def installed(backend: str) -> bool:
    """Whether a backend's library can be imported."""
    module = "openvino" if backend == "openvino" else "onnxruntime"
    try:
        __import__(module)
    except ImportError:
        return False
    return backend != "onnxruntime" or _has_onnx()


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether OpenVINO finds fast bf16 on this CPU (AMX or AVX-512-BF16)."""
    if not installed("openvino"):
        return False
    import openvino

    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def compile_for_cpu(
    model: nn.Module | Path,
    *,
    backend: str,
    precision: str,
    input_shape: Sequence[int],
    mean: torch.Tensor | None,
    std: torch.Tensor | None,
    fingerprint: str,
    reference: Forward,
    outputs: str,
    name: str,
) -> Compiled | None:
    """The model compiled by `backend` and checked against `reference`; None means use torch.

    Args:
        model: a torch module, or the path of an `.onnx` file (OpenVINO reads it).
        backend: one of `BACKENDS` (the Classifier checks the name); `"torch"` gives None.
        precision: `"fp32"`, `"bf16"` (OpenVINO only; ONNX Runtime runs fp32), or
            `"auto"`: on OpenVINO, bf16 where the CPU has it and it wins a race against
            fp32; fp32 otherwise.
        input_shape: `(C, H, W)`.
        mean: `[1, C, 1, 1]` subtracted before the model, or None.
        std: `[1, C, 1, 1]` divided by after the mean, or None.
        fingerprint: a hash of the weights (or the file), for the cache key.
        reference: the classifier's own forward on `[0, 1]` images, fp32.
        outputs: `"logits"` or `"probabilities"`: what the scores are.
        name: the classifier's name, for messages.

    Returns:
        The compiled model, or None when torch is to be used: asked for, or a
        compiled model that failed or disagreed.

    Raises:
        FoolingError: a backend named explicitly that is not installed.
    """
    if backend == "torch":
        return None
    if backend != "auto" and not installed(backend):
        raise FoolingError(f"--backend {backend} is not installed: {_INSTALL[backend]}")
    candidate = "openvino" if backend == "auto" else backend
    if not installed(candidate) or (isinstance(model, Path) and candidate != "openvino"):
        return None  # (`auto` without OpenVINO; an .onnx file already runs on ONNX Runtime)
    with _one_process_at_a_time(f"{candidate}-{fingerprint}-{list(input_shape)}"):
        probe = torch.rand((PROBE_IMAGES, *input_shape), generator=torch.Generator().manual_seed(0))
        expected = _probabilities(reference(probe), outputs)
        entry = None if isinstance(model, Path) else _cache_entry(
            candidate, input_shape, fingerprint, mean, std)  # fmt: skip
        cached = entry is not None and entry.is_file()

        def built() -> tuple[Forward, float, bool]:
            exact = _build(candidate, model, input_shape, mean, std, fingerprint)
            return exact, *_agreement(expected, _probabilities(exact(probe), outputs))

        try:
            exact, difference, same_top = built()
        except Exception as error:  # an export or a compiler that fails: keep torch
            if not cached:
                return _fallback(name, candidate, error, entry)
            assert entry is not None
            shutil.rmtree(entry.parent, ignore_errors=True)  # a damaged cache entry: build it again
            try:
                exact, difference, same_top = built()
            except Exception as again:
                return _fallback(name, candidate, again, entry)
            _warn(f"the cached {candidate} model in {entry.parent} could not be used "
                  f"({cause(error)}); it was rebuilt")  # fmt: skip
        if difference > AGREEMENT or not same_top:
            _warn(
                f"{name} on {candidate} disagrees with torch (probabilities differ by up to "
                f"{difference:.1e}, top-1 {'agrees' if same_top else 'differs'}); using torch"
            )
            return None
        compiled = Compiled(candidate, exact, exact, "fp32")
        race = functools.partial(_faster, input_shape=input_shape, fingerprint=fingerprint)
        if candidate == "openvino" and (
            precision == "bf16" or (precision == "auto" and cpu_has_bf16())
        ):
            path = _cached(candidate, model, input_shape, fingerprint, mean, std)
            bf16 = Compiled(candidate, OpenVinoModel(path, mean, std, "bf16"), exact, "bf16")
            if precision == "bf16" or race(("openvino", "bf16"), bf16.forward, ("openvino", "fp32"),
                                           exact):  # fmt: skip
                compiled = bf16
        if backend == "auto" and not race(
            (candidate, compiled.precision),
            compiled.forward,
            ("torch", "fp32"),
            reference,
            by=TORCH_MARGIN,
        ):
            return None
        return compiled


@contextlib.contextmanager
def _one_process_at_a_time(key: str) -> Iterator[None]:
    """Hold a lock in the cache while one model is exported, checked and raced.

    A second process that prepares the same model at the same time (two island
    workers on one machine, say) waits, then finds the exports and the races'
    outcomes in the cache: it neither repeats that work nor runs its races beside
    another's, which would slow both sides of each. Where the cache cannot hold a lock
    (read-only) or it is held for `PREPARE_WAIT` seconds, the work goes on without it.
    """
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    locks = cache_folder().parent / "locks"  # (beside the cache's entries, not among them)
    lock: FileLock | None = None
    try:
        locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(locks / f"preparing-{digest}.lock", timeout=PREPARE_WAIT)
        lock.acquire()
    except (OSError, Timeout):
        lock = None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def _fallback(name: str, backend: str, error: BaseException, entry: Path | None) -> None:
    """Warn, in one line, that `backend` failed and torch runs instead."""
    where = f"; its cache: {entry.parent}" if entry is not None else ""
    _warn(f"{name} could not run on {backend} ({cause(error)}){where}; using torch")


# ------------------------------------------------------------------ building
def _build(
    backend: str,
    model: nn.Module | Path,
    input_shape: Sequence[int],
    mean: torch.Tensor | None,
    std: torch.Tensor | None,
    fingerprint: str,
) -> Forward:
    """The fp32 compiled forward pass, from the cache or a fresh export."""
    path = _cached(backend, model, input_shape, fingerprint, mean, std)
    if backend == "openvino":
        return OpenVinoModel(path, mean, std, "fp32")
    from fooling.classifiers.onnx_model import OnnxModel

    return OnnxModel(path, torch.device("cpu"))


def _cached(
    backend: str,
    model: nn.Module | Path,
    input_shape: Sequence[int],
    fingerprint: str,
    mean: torch.Tensor | None,
    std: torch.Tensor | None,
) -> Path:
    """The exported model file for `backend`, exported into the cache if it is not there."""
    if isinstance(model, Path):
        return model  # OpenVINO reads an .onnx file as it is
    folded = backend == "onnxruntime"  # ONNX Runtime runs the normalisation in the graph
    target = _cache_entry(backend, input_shape, fingerprint, mean, std)
    if not target.is_file():
        write_cache_entry(
            target,
            lambda path: export(
                backend, model, input_shape, mean if folded else None, std if folded else None, path
            ),
        )
    return target


def write_cache_entry(target: Path, write: Callable[[Path], None]) -> None:
    """Make `target`, a file alone in its folder of the cache, by `write(path)`, atomically.

    The file is written in a fresh folder beside it, which then takes the entry's name
    at once: a racing process sees all of the entry or none of it (and the first one
    to finish keeps its own).
    """
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=target.parent.parent))
    try:
        write(building / target.name)
        with contextlib.suppress(OSError):  # another process cached it first
            os.replace(building, target.parent)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _cache_entry(
    backend: str,
    input_shape: Sequence[int],
    fingerprint: str,
    mean: torch.Tensor | None,
    std: torch.Tensor | None,
) -> Path:
    """Where `_cached` keeps the export of a model for `backend` (there or not)."""
    folded = backend == "onnxruntime"  # ONNX Runtime runs the normalisation in the graph
    key = {
        "weights": fingerprint, "input_shape": list(input_shape), "backend": backend,
        "version": _version(backend), "torch": torch.__version__,
        "mean": None if mean is None or not folded else mean.flatten().tolist(),
        "std": None if std is None or not folded else std.flatten().tolist(),
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return (
        cache_folder()
        / f"{backend}-{digest}"
        / ("model.xml" if backend == "openvino" else "model.onnx")
    )


def cause(error: BaseException, limit: int = 200) -> str:
    """One line of a backend's error that says what went wrong.

    OpenVINO's messages begin with the source file that raised them and end with the
    cause; ONNX Runtime's put it on the first line. The last line that is not a
    source location is kept, cut to `limit` characters.
    """
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    told = [line for line in lines if not line.startswith(("Exception from", "Check '"))]
    line = (told or lines or [type(error).__name__])[-1]
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def export(
    backend: str,
    model: nn.Module,
    input_shape: Sequence[int],
    mean: torch.Tensor | None,
    std: torch.Tensor | None,
    path: Path,
) -> None:
    """Export `model` (with the normalisation, where given, in the graph) for `backend`."""
    module = _Normalized(model, mean, std).eval()
    example = torch.zeros((2, *input_shape))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if backend == "openvino":
            import openvino

            converted = openvino.convert_model(module, example_input=example)
            converted.reshape([-1, *input_shape])
            openvino.save_model(converted, str(path), compress_to_fp16=False)  # keep fp32
        else:
            torch.onnx.export(
                module, (example,), str(path), dynamo=False, input_names=["images"],
                output_names=["scores"], dynamic_axes={"images": {0: "n"}, "scores": {0: "n"}},
            )  # fmt: skip


def cache_folder() -> Path:
    """Where exports are cached: `$XDG_CACHE_HOME/fooling/backends` (or `~/.cache/...`)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fooling" / "backends"


class _Normalized(nn.Module):
    """A model that takes `[0, 1]` images: the classifier's normalisation first."""

    def __init__(self, model: nn.Module, mean: torch.Tensor | None, std: torch.Tensor | None):
        super().__init__()
        self.model = model
        self.register_buffer("mean", None if mean is None else mean.detach().cpu().clone())
        self.register_buffer("std", None if std is None else std.detach().cpu().clone())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            images = images - self.mean
        if self.std is not None:
            images = images / self.std
        return self.model(images)


class OpenVinoModel:
    """An OpenVINO-compiled forward pass on `[0, 1]` images (normalisation in the graph).

    It pickles as its settings and compiles again when unpickled (from the cache).

    Args:
        path: the model file (OpenVINO IR `.xml`, or `.onnx`).
        mean: `[1, C, 1, 1]` subtracted first, or None.
        std: `[1, C, 1, 1]` divided by next, or None.
        precision: `"fp32"`, `"bf16"`, or `"int8"` (a model NNCF quantised).
    """

    def __init__(
        self, path: Path, mean: torch.Tensor | None, std: torch.Tensor | None, precision: str
    ) -> None:
        import openvino

        self._settings = (path, mean, std, precision)
        self.path = path
        graph = read_normalized(path, mean, std)
        hint = "bf16" if precision == "bf16" else "f32"  # (an int8 model's other layers: fp32)
        compiled = openvino.Core().compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": hint})
        self._request = compiled.create_infer_request()

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = images.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(np.array(self._request.infer({0: array})[0], dtype=np.float32))

    def __getstate__(self) -> tuple:
        return self._settings

    def __setstate__(self, settings: tuple) -> None:
        self.__init__(*settings)


def read_normalized(path: Path, mean: torch.Tensor | None, std: torch.Tensor | None) -> Any:
    """The OpenVINO model in `path` with the normalisation (where given) put before it."""
    import openvino
    from openvino.preprocess import PrePostProcessor

    with native_logs_dropped():  # (a file that is not a model: its TensorFlow reader logs)
        graph = openvino.Core().read_model(str(path))
    if mean is None and std is None:
        return graph
    steps = PrePostProcessor(graph)
    steps.input().tensor().set_layout(openvino.Layout("NCHW"))
    steps.input().model().set_layout(openvino.Layout("NCHW"))
    if mean is not None:
        steps.input().preprocess().mean(mean.flatten().tolist())
    if std is not None:
        steps.input().preprocess().scale(std.flatten().tolist())
    return steps.build()


# ------------------------------------------------------------------ checking
def _probabilities(scores: torch.Tensor, outputs: str) -> torch.Tensor:
    scores = scores.float()
    return scores.softmax(dim=1) if outputs == "logits" else scores


def _agreement(expected: torch.Tensor, found: torch.Tensor) -> tuple[float, bool]:
    if found.shape != expected.shape:
        raise ValueError(f"it returned {tuple(found.shape)}, torch {tuple(expected.shape)}")
    difference = float((found - expected).abs().max())
    return difference, bool(torch.equal(found.argmax(dim=1), expected.argmax(dim=1)))


def _faster(
    contender: tuple[str, str],
    contender_forward: Forward,
    baseline: tuple[str, str],
    baseline_forward: Forward,
    *,
    input_shape: Sequence[int],
    fingerprint: str,
    by: float = 1.0,
) -> bool:
    """Whether `contender` (backend, precision) is `by` times as fast as `baseline` on a
    timed batch.

    Raced once per model, pair and machine; the times are remembered in the cache.
    """
    key = [fingerprint, list(input_shape), list(contender), list(baseline),
           *(_version(backend) for backend, _ in (contender, baseline)), torch.__version__,
           torch.get_num_threads(), describe_cpu(), RACE_ROUNDS]  # fmt: skip
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:20]
    remembered = cache_folder() / f"race-{digest}.json"
    names = "-".join(contender), "-".join(baseline)
    try:
        seconds = json.loads(remembered.read_text())["seconds"]
        contender_seconds, baseline_seconds = float(seconds[names[0]]), float(seconds[names[1]])
    except (OSError, ValueError, KeyError, TypeError):
        batch = torch.rand((RACE_IMAGES, *input_shape),
                           generator=torch.Generator().manual_seed(1))  # fmt: skip
        contender_seconds, baseline_seconds, images = _best_seconds(
            contender_forward, baseline_forward, batch, verdict=by
        )
        seconds = dict(zip(names, (contender_seconds, baseline_seconds), strict=True))
        with contextlib.suppress(OSError):
            atomic_write_text(remembered, json.dumps({"seconds": seconds, "images": images}))
    return contender_seconds * by < baseline_seconds


def _best_seconds(
    first: Forward, second: Forward, batch: torch.Tensor, *, verdict: float | None = None
) -> tuple[float, float, int]:
    """Each forward's best time over `batch`, the two timed in turns.

    Turns, and the best of each, keep a race fair on a busy machine: other work
    slows whichever pass it overlaps, and seldom every pass of one side. A fast
    model gets up to `RACE_ROUNDS` turns each; a slow one stops after `RACE_SECONDS`.

    Both warm up on an eighth of the batch. Given `verdict` (the ratio that decides:
    `first` wins when its time times it is less than `second`'s), a turn each on that
    slice comes first, and ends the race where one side is ahead of the verdict by
    `CLEAR_LEAD`. (EfficientNet-Lite0 on one
    thread: torch took 9.5 s for a batch of 200, OpenVINO in bf16 0.55 s; on 25 images
    their ratio came within 2% of that: benchmarks/results/first_load_cpu.json.)

    Returns:
        The two times, for the whole batch, and the number of images they were timed on.
    """
    part = batch[: max(1, len(batch) // RACE_SLICE)]
    first(part), second(part)  # warm up
    if verdict is not None:
        scale = len(batch) / len(part)
        ahead = [_seconds(forward, part) * scale for forward in (first, second)]
        lead = ahead[1] / (ahead[0] * verdict)
        if lead > CLEAR_LEAD or lead < 1 / CLEAR_LEAD:
            return ahead[0], ahead[1], len(part)
    times: tuple[list[float], list[float]] = ([], [])
    started = time.perf_counter()
    while len(times[0]) < RACE_ROUNDS and time.perf_counter() - started < RACE_SECONDS:
        for forward, spent in zip((first, second), times, strict=True):
            spent.append(_seconds(forward, batch))
    return min(times[0]), min(times[1]), len(batch)


def _seconds(forward: Forward, images: torch.Tensor) -> float:
    begun = time.perf_counter()
    # as in a search, torch works on the images just before they are scored (its threads
    # then compete with a compiled model's: measured to halve LeNet's speed)
    forward(quantize(images))
    return time.perf_counter() - begun


def _warn(message: str) -> None:
    warnings.warn(f"fooling: {message}", stacklevel=3)


@functools.cache
def _has_onnx() -> bool:
    try:
        __import__("onnx")
    except ImportError:
        return False
    return True


def _version(backend: str) -> str:
    if backend == "torch":
        return torch.__version__
    module = __import__("openvino" if backend == "openvino" else "onnxruntime")
    return str(getattr(module, "__version__", "?"))
