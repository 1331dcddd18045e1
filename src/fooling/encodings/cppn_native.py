"""The CPPN encoding's compiled CPU kernels (`cppn_native.c`), built on first use.

On a CPU a generation of small networks costs a few hundred tiny tensor
operations in PyTorch, and their overhead is several times LeNet's own forward
pass. The C kernels do the same work one genome at a time in well under a
millisecond. They are compiled once with the system C compiler (`$CC`, else
`cc`) into `~/.cache/fooling` (or `$XDG_CACHE_HOME/fooling`) and loaded with
ctypes. Without a compiler, or with `FOOLING_NATIVE=0`, the encoding uses its
PyTorch code: the same genomes, and images equal to within one 8-bit level.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from fooling.encodings.base import Genomes
from fooling.machine import cpu_flags

SOURCE = Path(__file__).with_name("cppn_native.c")
# No fast-math contraction, reassociation or reciprocals, so mutation matches PyTorch;
# the rest of fast-math lets gcc call glibc's vectorised sinf and expf.
COMPILE = ["-O3", "-march=native", "-ffast-math", "-fno-associative-math", "-ffp-contract=off"]
COMPILE.append("-fno-reciprocal-math")  # u / rate must round as PyTorch's division does
if platform.machine() in ("x86_64", "AMD64"):
    COMPILE.append("-mprefer-vector-width=512")  # where AVX-512 exists: ~25% faster rendering
MAX_NODES = 64  # node slots per genome the kernels take (MAX_NODES in the C source)
STRUCTURE_DRAWS = 15  # uniform numbers per offspring for the structural operators (as in C)
# Rendering is split across threads only above this many genome-pixels: inside the
# evolution loop MNIST's 200 x 784 ran faster on one thread than on two (measured).
MIN_PIXELS_PER_THREAD = 500_000
# The 256 levels of a PNG as PyTorch divides them (k / 255), looked up by the C code:
# under fast-math gcc would multiply by 1/255 instead, which rounds differently.
LEVELS = torch.arange(256, dtype=torch.float32) / 255


class _Shape(ctypes.Structure):
    _fields_ = [
        ("nodes", ctypes.c_int64),
        ("inputs", ctypes.c_int64),
        ("outputs", ctypes.c_int64),
        ("weight_range", ctypes.c_float),
        ("rates", ctypes.c_float * 5),
        ("weight_rate", ctypes.c_float),
        ("activation_rate", ctypes.c_float),
        ("exponent", ctypes.c_float),
    ]


class NativeKernels:
    """The loaded library, bound to one CPPN encoding's shape and rates.

    Args:
        library: the loaded `cppn_native` shared library.
        nodes: node slots per genome.
        inputs: input slots (first).
        outputs: output slots (last).
        weight_range: weights lie in `[-weight_range, weight_range]`.
        rates: probabilities of change, add and delete connection, add and delete node.
        weight_rate: per-connection probability of a polynomial weight mutation.
        activation_rate: per-node probability of a new activation function.
        eta: the polynomial mutation's distribution index.
    """

    def __init__(
        self,
        library: ctypes.CDLL,
        *,
        nodes: int,
        inputs: int,
        outputs: int,
        weight_range: float,
        rates: tuple[float, float, float, float, float],
        weight_rate: float,
        activation_rate: float,
        eta: float,
    ) -> None:
        self.library = library
        self.shape = _Shape(
            nodes, inputs, outputs, weight_range, (ctypes.c_float * 5)(*rates),
            weight_rate, activation_rate, 1.0 / (eta + 1.0),
        )  # fmt: skip

    def mutate(self, genomes: Genomes, draws: torch.Tensor) -> None:
        """Mutate in place from `draws [P, draws_per_genome(N)]`, as `CPPNEncoding` does."""
        tensors = self._genome_tensors(genomes)
        _check(draws, torch.float32, "draws")
        expected = (len(tensors[0]), draws_per_genome(self.shape.nodes))
        if draws.shape != expected:
            raise ValueError(f"expected draws of shape {expected}, got {tuple(draws.shape)}")
        failed = self.library.cppn_mutate(
            len(draws), ctypes.byref(self.shape), *(t.data_ptr() for t in (draws, *tensors))
        )
        if failed:
            raise ValueError(f"native CPPN kernels take at most {MAX_NODES} nodes")

    def render(
        self, genomes: Genomes, inputs: torch.Tensor, pixels: int, *, levels: bool = False
    ) -> torch.Tensor:
        """Images as `float32 [P, outputs, pixels]` in `[0, 1]`, as `CPPNEncoding.render`.

        Three outputs are H, S, V and become R, G, B. With `levels`, every value is
        rounded to the 256 levels of a PNG, as `records.quantize` rounds.
        """
        tensors = self._genome_tensors(genomes)
        _check(inputs, torch.float32, "inputs")
        if inputs.shape != (self.shape.inputs, pixels):
            raise ValueError(f"expected inputs of shape {(self.shape.inputs, pixels)}")
        population = len(tensors[0])
        images = torch.empty(population, self.shape.outputs, pixels)
        threads = max(1, min(torch.get_num_threads(), population * pixels // MIN_PIXELS_PER_THREAD))
        scratch = torch.zeros(threads, self.shape.nodes, pixels)
        addresses = [t.data_ptr() for t in (*tensors, inputs)]
        table = LEVELS.data_ptr() if levels else None

        def part(index: int) -> int:
            first = population * index // threads
            count = population * (index + 1) // threads - first
            return self.library.cppn_render(
                first, count, ctypes.byref(self.shape), pixels, table, *addresses,
                scratch[index].data_ptr(), images.data_ptr(),
            )  # fmt: skip

        # ctypes releases the GIL, so the parts run in parallel.
        others = [_pool().submit(part, index) for index in range(1, threads)]
        failed = part(0) + sum(other.result() for other in others)
        if failed:
            raise ValueError(f"native CPPN kernels take at most {MAX_NODES} nodes")
        return images

    def _genome_tensors(self, genomes: Genomes) -> list[torch.Tensor]:
        """The genome tensors in the C functions' order, checked for all that C assumes."""
        tensors = [genomes[key] for key in LAYOUT]
        population, nodes = len(tensors[0]), self.shape.nodes
        for (key, (dtype, dims)), tensor in zip(LAYOUT.items(), tensors, strict=True):
            _check(tensor, dtype, key)
            expected = (population, nodes, nodes) if dims == 3 else (population, nodes)
            if tensor.shape != expected:
                raise ValueError(f"genome {key} has shape {tuple(tensor.shape)}, not {expected}")
        return tensors


def draws_per_genome(nodes: int) -> int:
    """Uniform numbers one offspring's mutation reads: weights, activations, structure."""
    return nodes * nodes + nodes + STRUCTURE_DRAWS


@functools.cache
def load_library() -> ctypes.CDLL | None:
    """The compiled kernels, building them on first use; None where that is not possible."""
    if os.environ.get("FOOLING_NATIVE", "1") == "0":
        return None
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        _fall_back("no C compiler found")
        return None
    try:
        library = ctypes.CDLL(str(_build(compiler)))
    except subprocess.CalledProcessError as error:
        said = (error.stderr or b"").decode(errors="replace").strip().splitlines()
        reason = said[0] if said else f"exit status {error.returncode}"
        _fall_back(f"{compiler} could not build {SOURCE.name}: {reason}")
        return None
    except OSError as error:
        _fall_back(f"could not build and load {SOURCE.name}: {error}")
        return None
    pointer, shape, size = ctypes.c_void_p, ctypes.POINTER(_Shape), ctypes.c_int64
    library.cppn_mutate.argtypes = [size, shape, *[pointer] * 6]
    library.cppn_render.argtypes = [size, size, shape, size, *[pointer] * 9]
    return library


def _build(compiler: str) -> Path:
    """Compile to the cache (once per source, compiler and CPU) and return the library's path."""
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source)
    for part in (compiler, *COMPILE, platform.machine(), " ".join(sorted(cpu_flags()))):
        key.update(part.encode())
    name = f"cppn_native-{key.hexdigest()[:16]}.so"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fooling"
    if (cache / name).exists():
        return cache / name
    try:
        cache.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=cache))
    except OSError:
        cache = folder = Path(tempfile.mkdtemp())
    objects = folder / "cppn_native.o"
    run = functools.partial(subprocess.run, check=True, capture_output=True)
    try:
        # Compiled and linked apart: linking with -ffast-math would make gcc add code that
        # flushes denormals to zero for the whole process, PyTorch included.
        run([compiler, *COMPILE, "-fPIC", "-c", str(SOURCE), "-o", str(objects)])
        run([compiler, "-shared", str(objects), "-o", str(folder / name), "-lm"])
        os.replace(folder / name, cache / name)  # atomic: a racing process sees all or nothing
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return cache / name


def _fall_back(reason: str) -> None:
    warnings.warn(
        f"fooling: {reason}; the CPPN encoding uses its slower PyTorch code on the CPU",
        RuntimeWarning,
        stacklevel=3,
    )


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1))


# What the C code reads each genome tensor as: its type, and whether it is [P, N, N] or [P, N].
LAYOUT = {
    "weight": (torch.float32, 3),
    "enabled": (torch.bool, 3),
    "activation": (torch.int64, 2),
    "alive": (torch.bool, 2),
    "order": (torch.float32, 2),
}


def _check(tensor: torch.Tensor, dtype: torch.dtype, what: str) -> None:
    if tensor.device.type != "cpu" or not tensor.is_contiguous() or tensor.dtype != dtype:
        raise ValueError(f"native CPPN kernels need {what} as a contiguous CPU {dtype} tensor")
