"""Gradients through the CPPN: refined weights, against the real LeNet."""

import json

import pytest
import torch
from test_cli_errors import fails_with_one_line

import fooling
from fooling.cli import build_parser, main
from fooling.commands.evolve import refinement_from
from fooling.encodings import make_encoding
from fooling.encodings.cppn import CPPNEncoding
from fooling.errors import FoolingError
from fooling.search import Evolution
from fooling.search.ascent import log_odds
from fooling.search.refine import Refinement, refine_weights


def grown(encoding: CPPNEncoding, count: int, generations: int = 20):
    generator = torch.Generator().manual_seed(0)
    genomes = encoding.random(count, generator)
    for generation in range(1, generations):
        genomes = encoding.mutate(genomes, generation, generator)
    return genomes


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 24, 24)])
def test_the_differentiable_render_draws_what_render_draws(shape):
    encoding = CPPNEncoding(shape)
    genomes = grown(encoding, 12)
    weight = genomes["weight"].clone().requires_grad_(True)
    images = encoding.render_differentiable({**genomes, "weight": weight})
    assert torch.allclose(images, encoding.render(genomes), atol=2e-5)
    images.sum().backward()
    assert bool((weight.grad[~genomes["enabled"]] == 0).all())
    assert bool((weight.grad != 0).any())


def test_refining_raises_the_log_odds_and_keeps_the_shape_and_the_bounds(lenet):
    encoding = CPPNEncoding((1, 28, 28))
    genomes = grown(encoding, 40)
    classes = torch.arange(40) % 10

    def figure(candidates):
        with torch.no_grad():
            return log_odds(lenet.log_probabilities(encoding.render(candidates)), classes)

    refined = refine_weights(encoding, lenet, genomes, classes, steps=10, chunk=16,
                             learning_rate=0.1)  # fmt: skip
    before, after = figure(genomes), figure(refined)
    assert after.median() > before.median() + 1
    assert float((after > before).float().mean()) >= 0.6
    for key in ("enabled", "activation", "alive", "order"):
        assert torch.equal(refined[key], genomes[key])
    disabled = ~genomes["enabled"]
    assert torch.equal(refined["weight"][disabled], genomes["weight"][disabled])
    encoding.check(refined)  # within the weight range
    assert all(weight.grad is None for weight in lenet.model.parameters())  # the genomes' only
    again = refine_weights(encoding, lenet, genomes, classes, steps=10, chunk=40,
                           learning_rate=0.1)  # fmt: skip
    # Chunks are apart: only float rounding differs (other batch shapes sum in another order,
    # and ten Adam steps carry it on: up to 3e-5 seen on weights of up to 10).
    torch.testing.assert_close(again["weight"], refined["weight"], rtol=0, atol=1e-4)


def test_log_odds_stay_finite_when_the_probability_rounds_to_one():
    log_probabilities = torch.tensor([[0.0, -120.0, -130.0]])
    value = log_odds(log_probabilities, torch.tensor([0]))
    assert torch.isfinite(value).all() and float(value) == pytest.approx(120.0, abs=1e-3)


def test_a_climb_that_fell_after_its_best_returns_its_best_and_others_their_last(lenet):
    encoding = CPPNEncoding((1, 28, 28))
    genomes = grown(encoding, 12)
    classes = torch.arange(12) % 10
    steps, rate = 4, 1.5  # a rate this high overshoots: some climbs fall, some rise
    weight = genomes["weight"].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([weight], lr=rate)
    visited, scores = [], []
    for _ in range(steps + 1):
        images = encoding.render_differentiable({**genomes, "weight": weight})
        score = log_odds(lenet.log_probabilities(images), classes)
        visited.append(weight.detach().clone())
        scores.append(score.detach())
        optimizer.zero_grad()
        (-score.sum()).backward()
        optimizer.step()
        with torch.no_grad():
            weight.clamp_(-encoding.weight_range, encoding.weight_range)
    scored = torch.stack(scores[:steps])  # the last weights are never scored by the climb
    best = scored.argmax(dim=0)
    fell_after_its_best = (best > 0) & (best < steps - 1)
    assert 0 < int(fell_after_its_best.sum()) < 12  # (both cases are tested)
    refined = refine_weights(encoding, lenet, genomes, classes, steps=steps, learning_rate=rate)
    for genome in range(12):
        expected = visited[int(best[genome])] if fell_after_its_best[genome] else visited[steps]
        assert torch.allclose(refined["weight"][genome], expected[genome], atol=1e-5)


def test_a_refinement_climbs_only_the_elites_found_since_the_last_one(lenet):
    run = Evolution(lenet, make_encoding("cppn", lenet.input_shape), population=20, seed=0,
                    refinement=Refinement(steps=2, every=2))  # fmt: skip
    climbed, last, refinements = 0, -1, 0
    for generation in range(16):
        new = (run.archive.found_at > last).nonzero().squeeze(1) if generation else None
        offspring = run.ask()
        if generation % 2 or generation == 0 or not len(new):
            assert offspring.climbed == 0 and len(offspring.images) == 20  # mutants
        else:
            assert offspring.climbed == 2 and torch.equal(offspring.cells, new)
            climbed, last, refinements = climbed + len(new), generation, refinements + 1
        run.tell(offspring, lenet(offspring.images))
        assert run.refined_at == last
    assert refinements >= 3 and climbed < 10 * refinements  # (later ones climb fewer than 10)
    assert run.refined == 2 * climbed


def test_a_search_with_refinement_counts_its_gradient_steps(lenet):
    encoding = make_encoding("cppn", lenet.input_shape)
    plain = Evolution(lenet, encoding, population=20, seed=0).run(6, progress=False)
    run = Evolution(lenet, make_encoding("cppn", lenet.input_shape), population=20, seed=0,
                    refinement=Refinement(steps=3, every=2))  # fmt: skip
    refined = run.run(6, progress=False)
    climbed = run.refined // 3
    assert refined.evaluations == plain.evaluations - 3 * 20 + climbed
    assert refined.refined == run.refined > 0
    assert not torch.equal(refined.confidences, plain.confidences)
    nothing = Evolution(lenet, make_encoding("cppn", lenet.input_shape), population=20, seed=0,
                        refinement=Refinement(steps=0))  # fmt: skip
    assert torch.equal(nothing.run(6, progress=False).confidences, plain.confidences)


def test_a_refined_run_continues_exactly_from_its_state(lenet):
    def run():
        return Evolution(lenet, make_encoding("cppn", lenet.input_shape), population=20,
                         seed=1, refinement=Refinement(steps=2, every=1))  # fmt: skip

    whole = run()
    whole.run(6, progress=False)
    first = run()
    first.run(3, progress=False)
    second = run()
    second.load_state_dict(first.state_dict())
    second.run(6, progress=False)
    assert torch.equal(second.archive.confidence, whole.archive.confidence)
    assert second.refined == whole.refined > 2 * 10
    plain = Evolution(lenet, make_encoding("cppn", lenet.input_shape), population=20, seed=1)
    with pytest.raises(FoolingError, match="refinement"):
        plain.load_state_dict(first.state_dict())


def test_only_cppn_genomes_are_refined(lenet):
    direct = make_encoding("direct", lenet.input_shape)
    genomes = direct.random(2, torch.Generator().manual_seed(0))
    with pytest.raises(FoolingError, match="only CPPN genomes"):
        refine_weights(direct, lenet, genomes, torch.tensor([0, 1]), steps=1)
    with pytest.raises(FoolingError, match="refine_steps"):
        Refinement(steps=-1)
    with pytest.raises(FoolingError, match="only CPPN genomes"):  # at once, not at generation G
        Evolution(lenet, direct, population=10, refinement=Refinement(steps=1))


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--encoding", "direct", "--refine-steps", "2"], "it is for --encoding cppn"),
        (["--encoding", "cppn", "--refine-every", "2"], "--refine-every is for --refine-steps"),
        (["--encoding", "cppn", "--refine-steps", "-1"], "--refine-steps: must be"),
        (["--encoding", "cppn", "--refine-steps", "2", "--refine-every", "0"], "must be"),
    ],
)
def test_bad_refinement_options_are_one_line(capsys, tmp_path, argv, match):
    out = tmp_path / "run"
    fails_with_one_line(capsys, ["evolve", *argv, "--out", str(out)], match)
    assert not out.exists()


def test_a_hybrid_run_reports_its_passes_and_resumes_refining(tmp_path, capsys):
    argv = ["evolve", "--encoding", "cppn", "--population", "20", "--quiet"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    refine = ["--refine-steps", "2", "--refine-every", "3"]
    assert main([*argv, *refine, "--generations", "9", "--out", str(whole)]) == 0
    summary = json.loads((whole / "summary.json").read_text())
    refined = fooling.load_run(whole).refined
    assert refined % 2 == 0 and refined >= 2 * 10  # the first refinement climbs all 10 elites
    climbed = refined // 2
    assert summary["evaluations"] == 7 * 20 + climbed  # generations 3, 6, 9 refine
    assert summary["backward_passes"] == refined
    assert summary["forward_passes"] == summary["evaluations"] + refined
    assert summary["forward_equivalents"] == summary["evaluations"] + 3 * refined
    assert main([*argv, *refine, "--generations", "4", "--out", str(cut)]) == 0
    resume = ["evolve", "--resume", "--generations", "9", "--out", str(cut), "--quiet"]
    fails_with_one_line(capsys, [*resume, "--refine-steps", "2"], "comes from its checkpoint")
    assert main(resume) == 0
    assert fooling.load_run(cut).refined == refined
    assert torch.equal(fooling.load_run(cut).confidences, fooling.load_run(whole).confidences)


def test_the_command_refines_at_the_middle_and_the_end_unless_told():
    def refinement(*argv):
        args = build_parser().parse_args(["evolve", "--encoding", "cppn", *argv])
        return refinement_from(args, "cppn")

    assert refinement("--refine-steps", "5", "--generations", "9").every == 4
    assert refinement("--refine-steps", "5", "--generations", "9", "--refine-every", "2").every == 2
    assert refinement("--refine-steps", "5", "--generations", "1").every == 1
    assert refinement("--generations", "9") is None
