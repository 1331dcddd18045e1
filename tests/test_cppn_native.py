"""The CPPN encoding's compiled CPU kernels: built for real, and equal to the PyTorch code."""

import os
import subprocess
import sys
import warnings

import pytest
import torch

from fooling.encodings import CPPNEncoding, cppn_native
from fooling.records import quantize


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def fresh_library(monkeypatch, tmp_path):
    """`load_library` with nothing cached, in memory or on disk (restored afterwards)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cppn_native.load_library.cache_clear()
    yield tmp_path / "cache" / "fooling"
    cppn_native.load_library.cache_clear()


def evolved_pair(shape, population=300, generations=60):
    """The same genomes mutated by the C kernels and by PyTorch, generation by generation.

    Structure and activation functions must agree bit for bit; weights to float
    rounding (glibc's powf and PyTorch's pow may differ in the last bit).
    """
    native, pytorch = CPPNEncoding(shape), CPPNEncoding(shape, native=False)
    assert native.native is not None and pytorch.native is None
    a = native.random(population, generator())
    b = {key: value.clone() for key, value in a.items()}
    for generation in range(1, generations + 1):
        a = native.mutate(a, generation, generator(generation))
        b = pytorch.mutate(b, generation, generator(generation))
        for key in ("enabled", "activation", "alive", "order"):
            assert torch.equal(a[key], b[key]), f"{key} differs at generation {generation}"
        assert torch.allclose(a["weight"], b["weight"], rtol=0, atol=1e-4)
    return native, pytorch, a


@pytest.mark.skipif(os.environ.get("FOOLING_NATIVE") == "0", reason="FOOLING_NATIVE=0")
def test_the_kernels_build_with_this_machines_compiler(fresh_library):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback warning fails the test
        assert cppn_native.load_library() is not None, "no C compiler? FOOLING_NATIVE=0 skips this"
    assert len(list(fresh_library.glob("cppn_native-*.so"))) == 1


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 20, 16)])
def test_native_mutation_gives_the_same_networks_as_pytorch(shape):
    native, _, genomes = evolved_pair(shape)
    hidden = genomes["alive"][:, native.hidden].sum(dim=1).float()
    assert hidden.mean() > 3  # the networks did grow, so every operator was exercised


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 20, 16)])
def test_native_rendering_matches_pytorch_to_an_8_bit_level(shape):
    native, pytorch, genomes = evolved_pair(shape)
    a, b = native.render(genomes), pytorch.render(genomes)
    assert (a - b).abs().max() < 1e-3  # sinf and expf differ from PyTorch's in the last bits
    levels = (quantize(a) - quantize(b)).abs() * 255
    assert levels.max() <= 1.0 + 1e-4
    assert (levels > 0.5).float().mean() < 1e-3


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 20, 16)])
def test_native_rendering_to_levels_rounds_as_quantize_does(shape):
    native, pytorch, genomes = evolved_pair(shape, population=100, generations=30)
    assert torch.equal(native.render(genomes, levels=True), quantize(native.render(genomes)))
    assert torch.equal(pytorch.render(genomes, levels=True), quantize(pytorch.render(genomes)))


def test_native_rendering_splits_large_populations_across_threads(monkeypatch):
    native, _, genomes = evolved_pair((1, 28, 28), population=64, generations=30)
    single = native.render(genomes)
    monkeypatch.setattr(cppn_native, "MIN_PIXELS_PER_THREAD", 1)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)  # uneven parts
    assert torch.equal(native.render(genomes), single)


def test_loading_the_kernels_keeps_denormals(fresh_library):
    """Linking with -ffast-math would flush denormals to zero in the whole process."""
    cppn_native.load_library()
    assert (torch.tensor([1e-39]) * 1.5).item() > 0


def test_without_a_compiler_the_encoding_falls_back_to_pytorch(fresh_library, monkeypatch):
    monkeypatch.setenv("CC", "/bin/false")  # a "compiler" that always fails
    with pytest.warns(RuntimeWarning, match="slower PyTorch code"):
        assert cppn_native.load_library() is None
    encoding = CPPNEncoding((1, 8, 8))
    assert encoding.native is None
    images = encoding.render(encoding.random(4, generator()))
    assert images.shape == (4, 1, 8, 8)


def test_fooling_native_0_turns_the_kernels_off(fresh_library, monkeypatch):
    monkeypatch.setenv("FOOLING_NATIVE", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # turned off on purpose: no warning
        assert CPPNEncoding((1, 8, 8)).native is None
    assert not fresh_library.exists()


def test_networks_beyond_the_kernels_limit_use_pytorch():
    encoding = CPPNEncoding((1, 8, 8), max_hidden=cppn_native.MAX_NODES)
    assert encoding.native is None
    genomes = encoding.mutate(encoding.random(4, generator()), 1, generator(1))
    assert encoding.render(genomes).shape == (4, 1, 8, 8)


def test_the_command_line_says_so_in_one_line(tmp_path):
    environment = {**os.environ, "CC": "/bin/false", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    argv = ["evolve", "--encoding", "cppn", "--generations", "2", "--population", "8"]
    argv += ["--out", str(tmp_path / "run"), "--quiet"]
    done = subprocess.run(
        [sys.executable, "-m", "fooling", *argv], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        "fooling: warning: /bin/false could not build cppn_native.c: exit status 1; "
        "the CPPN encoding uses its slower PyTorch code on the CPU"
    ]
    assert (tmp_path / "run" / "summary.json").exists()
