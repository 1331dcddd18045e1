"""Direct and CPPN encodings: bounds, rates, shapes, ranges and structural growth."""

import pytest
import torch

from fooling.encodings import CPPNEncoding, DirectEncoding, make_encoding
from fooling.encodings.color import hsv_to_rgb
from fooling.encodings.cppn import NUM_INPUTS
from fooling.encodings.polynomial import polynomial_mutation
from fooling.errors import FoolingError
from fooling.records import quantize


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("wait_free", [False, True], ids=["positions", "masked"])
def test_polynomial_mutation_stays_in_bounds_and_mutates_the_expected_fraction(wait_free):
    values = torch.rand(200_000, generator=generator()) * 20 - 10
    mutated = polynomial_mutation(
        values, rate=0.1, eta=15.0, low=-10.0, high=10.0, generator=generator(1),
        wait_free=wait_free,
    )  # fmt: skip
    assert mutated.min() >= -10 and mutated.max() <= 10
    changed = (mutated != values).float().mean().item()
    assert 0.095 < changed < 0.105
    # eta = 15 keeps steps small: the typical move is a few percent of the range
    steps = (mutated - values)[mutated != values].abs() / 20
    assert 0.005 < steps.median().item() < 0.05


@pytest.mark.parametrize("wait_free", [False, True], ids=["positions", "masked"])
def test_polynomial_mutation_at_the_bounds_is_clipped_not_lost(wait_free):
    values = torch.tensor([0.0, 1.0]).repeat(50_000)
    mutated = polynomial_mutation(
        values, rate=1.0, eta=15.0, low=0, high=1, generator=generator(), wait_free=wait_free
    )
    assert mutated.min() >= 0 and mutated.max() <= 1
    assert (mutated[0::2] > 0).any() and (mutated[1::2] < 1).any()


def test_direct_rate_halves_every_1000_generations():
    encoding = DirectEncoding((1, 28, 28))
    assert encoding.mutation_rate(0) == 0.1
    assert encoding.mutation_rate(999) == 0.1
    assert encoding.mutation_rate(1000) == 0.05
    assert encoding.mutation_rate(2500) == 0.025


def test_direct_mutation_changes_about_a_tenth_of_the_pixels():
    encoding = DirectEncoding((1, 28, 28))
    parents = encoding.random(100, generator())
    children = encoding.mutate(parents, 1, generator(1))
    changed = (children["pixels"] != parents["pixels"]).float().mean().item()
    assert 0.09 < changed < 0.11
    images = encoding.render(children)
    assert images.shape == (100, 1, 28, 28) and images.min() >= 0 and images.max() <= 1


def test_direct_colour_genomes_are_hsv_rendered_to_rgb():
    encoding = DirectEncoding((3, 8, 8))
    genomes = {"pixels": torch.zeros(1, 3, 8, 8)}
    genomes["pixels"][:, 1:] = 1.0  # hue 0, full saturation and value: pure red
    image = encoding.render(genomes)
    assert torch.allclose(image[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_hsv_to_rgb_matches_colorsys():
    import colorsys

    hsv = torch.rand(1, 3, 5, 7, generator=generator())
    rgb = hsv_to_rgb(hsv)
    for y in range(5):
        for x in range(7):
            expected = colorsys.hsv_to_rgb(*hsv[0, :, y, x].tolist())
            assert torch.allclose(rgb[0, :, y, x], torch.tensor(expected), atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_direct_rendering_to_levels_rounds_as_quantize_does_and_leaves_the_genome(channels):
    encoding = DirectEncoding((channels, 16, 16))
    genomes = encoding.random(5, generator())
    pixels = genomes["pixels"].clone()
    assert torch.equal(encoding.render(genomes, levels=True), quantize(encoding.render(genomes)))
    assert torch.equal(genomes["pixels"], pixels)


# Every CPPN behaviour is checked on both paths: the compiled CPU kernels and PyTorch.
BOTH_PATHS = pytest.mark.parametrize("native", [True, False], ids=["native", "pytorch"])


@BOTH_PATHS
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 24)])
def test_cppn_renders_the_right_shape_and_range(shape, native):
    encoding = CPPNEncoding(shape, native=native)
    genomes = encoding.random(16, generator())
    for generation in range(1, 30):
        genomes = encoding.mutate(genomes, generation, generator(generation))
    images = encoding.render(genomes)
    assert images.shape == (16, *shape)
    assert images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    # networks of x, y and d give structure; with weights up to 10 some saturate to flat
    assert (images.flatten(1).std(dim=1) > 0.01).float().mean() >= 0.25


@BOTH_PATHS
def test_cppn_starts_without_hidden_nodes_and_grows_under_mutation(native):
    encoding = CPPNEncoding((1, 28, 28), max_hidden=12, native=native)  # room to see growth
    genomes = encoding.random(64, generator())
    assert not genomes["alive"][:, encoding.hidden].any()
    assert genomes["enabled"].sum(dim=(1, 2)).eq(NUM_INPUTS).all()  # every input -> the output
    for generation in range(1, 40):
        genomes = encoding.mutate(genomes, generation, generator(generation))
    hidden = genomes["alive"][:, encoding.hidden].sum(dim=1).float()
    assert hidden.mean() > 3 and hidden.max() <= 12
    assert genomes["enabled"].sum(dim=(1, 2)).float().mean() > NUM_INPUTS


@BOTH_PATHS
def test_cppn_mutates_connection_weights_and_node_functions_at_their_rates(native):
    still = dict.fromkeys(
        ("add_connection", "delete_connection", "change_connection", "add_node", "delete_node"), 0.0
    )
    grower = CPPNEncoding((1, 8, 8), native=native)
    encoding = CPPNEncoding((1, 8, 8), native=native, **still)  # weights and functions only
    genomes = grower.random(4000, generator())
    for generation in range(1, 8):
        genomes = grower.mutate(genomes, generation, generator(generation))
    child = encoding.mutate(genomes, 8, generator(8))
    assert torch.equal(child["enabled"], genomes["enabled"])
    moved = child["weight"] != genomes["weight"]
    assert not moved[~genomes["enabled"]].any()  # only existing connections are genes
    assert 0.09 < moved[genomes["enabled"]].float().mean() < 0.11
    assert (child["weight"].abs() <= 10).all()
    nodes = genomes["alive"].clone()
    nodes[:, :NUM_INPUTS] = False  # inputs have no function
    changed = child["activation"] != genomes["activation"]
    assert not changed[~nodes].any()
    # a redraw (rate 0.1) picks one of 4 functions, so 3 in 4 redraws change it
    assert 0.065 < changed[nodes].float().mean() < 0.085


@BOTH_PATHS
def test_cppn_networks_stay_feed_forward_and_tidy(native):
    encoding = CPPNEncoding((1, 16, 16), max_hidden=8, native=native)
    genomes = encoding.random(128, generator())
    for generation in range(1, 60):
        genomes = encoding.mutate(genomes, generation, generator(generation))
        enabled, alive, order = genomes["enabled"], genomes["alive"], genomes["order"]
        rows, targets, sources = enabled.nonzero(as_tuple=True)
        assert (order[rows, sources] < order[rows, targets]).all()
        assert alive[rows, sources].all() and alive[rows, targets].all()
        assert (targets >= NUM_INPUTS).all()  # nothing feeds an input
        assert (genomes["weight"].abs() <= 10).all()


@BOTH_PATHS
def test_cppn_render_matches_a_plain_per_genome_evaluation(native):
    """The batched renderer against a slow, obvious reference for a few genomes."""
    encoding = CPPNEncoding((1, 9, 7), max_hidden=6, native=native)
    genomes = encoding.random(6, generator())
    for generation in range(1, 25):
        genomes = encoding.mutate(genomes, generation, generator(generation))
    images = encoding.render(genomes)
    functions = [torch.sin, torch.sigmoid, lambda v: torch.exp(-v * v), lambda v: v]
    # (exp(-v^2) below 1e-35 is flushed to that by the renderer; immaterial at atol 1e-5)
    for p in range(6):
        alive = genomes["alive"][p].nonzero().squeeze(1).tolist()
        order = sorted(alive, key=lambda slot: (genomes["order"][p, slot].item(), slot))
        values = {slot: encoding.inputs[slot] for slot in range(NUM_INPUTS)}
        for slot in order[NUM_INPUTS:]:
            total = torch.zeros(63)
            for source in values:
                if genomes["enabled"][p, slot, source]:
                    total = total + genomes["weight"][p, slot, source] * values[source]
            values[slot] = functions[genomes["activation"][p, slot]](total)
        output = values[encoding.num_nodes - 1].clamp(-1, 1).add(1).div(2).view(9, 7)
        assert torch.allclose(images[p, 0], output, atol=1e-5)


def test_quantize_gives_png_levels():
    images = quantize(torch.tensor([0.0, 0.5, 0.9999, 1.2, -0.1]))
    assert torch.equal(images * 255, (images * 255).round())
    assert images.min() == 0 and images.max() == 1


def test_make_encoding_rejects_unknown_names_and_shapes():
    with pytest.raises(FoolingError, match="unknown encoding"):
        make_encoding("genetic", (1, 28, 28))
    with pytest.raises(FoolingError, match="1 or 3 channels"):
        make_encoding("cppn", (2, 28, 28))


class Toy(DirectEncoding):
    """A third encoding for the registry: the direct one under another name."""

    name = "toy"


def test_a_registered_encoding_is_offered_by_every_command_without_other_edits(
    monkeypatch, tmp_path, lenet
):
    import json

    from fooling.cli import main
    from fooling.encodings import BOTH, ENCODINGS, encodings_named
    from fooling.experiments.retrain import RetrainSettings
    from fooling.reproduce.audit import AuditPlan
    from fooling.reproduce.mnist import MnistPlan

    monkeypatch.setitem(ENCODINGS, "toy", Toy)
    out = tmp_path / "toy"
    argv = ["evolve", "--encoding", "toy", "--generations", "2", "--population", "10"]
    assert main([*argv, "--classes", "3", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["encoding"] == "toy"
    steps = {step.name for step in MnistPlan(quick=True).steps()}
    assert {f"evolve-toy-{seed}" for seed in range(MnistPlan(quick=True).seeds)} <= steps
    audit = {step.name for step in AuditPlan(lenet, ["--classifier", "lenet-mnist"]).steps()}
    assert {"direct", "cppn", "toy"} <= audit
    assert encodings_named(BOTH) == ("direct", "cppn", "toy")
    assert RetrainSettings().encodings == ("direct", "cppn", "toy")
