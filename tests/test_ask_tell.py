"""The loop's seams: ask/tell from outside, any evaluator, any parent selection, any archive."""

import copy
import re
from pathlib import Path

import pytest
import torch

import fooling
from fooling.archive import Archive
from fooling.encodings import make_encoding
from fooling.search import Emitter, Evolution
from fooling.search.selection import uniform

COMMANDS = Path(__file__).parents[1] / "docs" / "commands.md"  # its "Python" section


def test_the_readme_loop_of_ones_own_fools_lenet():
    """docs/commands.md's ask/tell example, run as printed: at most 15 lines, and it works."""
    blocks = re.findall(r"```python\n(.*?)```", COMMANDS.read_text(), flags=re.DOTALL)
    (code,) = [block for block in blocks if "emitter.ask(" in block]
    assert len(code.strip().splitlines()) <= 15
    namespace: dict = {}
    exec(compile(code, str(COMMANDS), "exec"), namespace)
    archive = namespace["archive"]
    assert isinstance(archive, Archive) and len(archive) == 10
    assert int((archive.confidence >= 0.99).sum()) >= 9, archive.confidence


def test_ask_then_tell_from_outside_is_the_same_run_as_step(lenet):
    runs = []
    for drive_from_outside in (False, True):
        evolution = Evolution(lenet, make_encoding("cppn", (1, 28, 28)), population=30, seed=2)
        for _ in range(15):
            if drive_from_outside:
                offspring = evolution.ask()
                assert offspring.images.shape == (30, 1, 28, 28)
                evolution.tell(offspring, lenet(offspring.images))
            else:
                evolution.step()
        runs.append(evolution.result())
    assert torch.equal(runs[0].confidences, runs[1].confidences)
    assert torch.equal(runs[0].images, runs[1].images)
    assert [row.generation for row in runs[1].history] == list(range(15))
    assert runs[1].evaluations == 15 * 30


def test_tell_takes_only_the_next_generation(lenet):
    evolution = Evolution(lenet, make_encoding("direct", (1, 28, 28)), population=4)
    offspring = evolution.ask()
    evolution.tell(offspring, lenet(offspring.images))
    with pytest.raises(ValueError, match="expected generation 1"):
        evolution.tell(offspring, lenet(offspring.images))


def test_an_injected_evaluator_is_what_the_archive_keeps(lenet):
    """An ensemble: a class's score is the lower of two models' probabilities."""
    inverted = fooling.Classifier(  # the same LeNet, shown 1 - image
        copy.deepcopy(lenet.model), input_shape=(1, 28, 28), labels=lenet.labels, mean=(1.0,),
        std=(-1.0,), name="lenet-inverted",
    )  # fmt: skip

    def weakest_of_both(images: torch.Tensor) -> torch.Tensor:
        return torch.minimum(lenet(images), inverted(images))

    evolution = Evolution(
        lenet, make_encoding("direct", (1, 28, 28)), population=40, seed=0,
        evaluator=weakest_of_both,
    )  # fmt: skip
    result = evolution.run(40, progress=False)
    images = result.images.float() / 255
    kept = result.confidences
    assert torch.allclose(weakest_of_both(images).diagonal(), kept, atol=1e-6)
    assert (inverted(images).diagonal() < lenet(images).diagonal() - 1e-3).any()


CALLS: list[int] = []


def only_the_first_cell(archive: Archive, n: int, generator: torch.Generator) -> torch.Tensor:
    CALLS.append(n)
    return torch.zeros(n, dtype=torch.long)


def test_parent_selection_is_replaceable(lenet):
    CALLS.clear()
    evolution = Evolution(
        lenet, make_encoding("direct", (1, 28, 28)), population=25, seed=0, classes=[3, 7],
        selection=only_the_first_cell,
    )  # fmt: skip
    evolution.run(5, progress=False)
    assert CALLS == [25] * 5  # generations 1..5; generation 0 is random
    # every parent is class 3's elite, so each child differs from it in few pixels
    offspring = evolution.ask()
    parent = evolution.archive.genomes["pixels"][0]
    changed = (offspring.genomes["pixels"] != parent).float().mean(dim=(1, 2, 3))
    assert changed.max() < 0.25


def test_an_archive_handed_in_is_filled_further(lenet):
    first = Evolution(lenet, make_encoding("cppn", (1, 28, 28)), population=30, seed=0)
    first.run(10, progress=False)
    before = first.archive.confidence.clone()
    second = Evolution(
        lenet, make_encoding("cppn", (1, 28, 28)), population=30, seed=1, archive=first.archive
    )
    second.run(10, progress=False)
    assert (second.archive.confidence >= before).all()
    assert (second.archive.confidence > before).any()
    with pytest.raises(fooling.FoolingError, match="not both"):
        Evolution(lenet, make_encoding("cppn", (1, 28, 28)), population=3, classes=[1],
                  archive=first.archive)  # fmt: skip


def test_the_emitter_alone_is_seeded_and_uses_the_default_selection(lenet):
    archive = Archive(lenet.class_indices())
    emitters = [Emitter(make_encoding("cppn", (1, 28, 28)), population=8, seed=4) for _ in "ab"]
    first = [emitter.ask(archive, 0) for emitter in emitters]
    assert torch.equal(first[0].images, first[1].images)
    archive.add(first[0].genomes, first[0].images, lenet(first[0].images), 0)
    second = [emitter.ask(archive, 1) for emitter in emitters]
    assert torch.equal(second[0].genomes["weight"], second[1].genomes["weight"])
    assert emitters[0].selection is uniform
    with pytest.raises(ValueError, match="population"):
        Emitter(make_encoding("cppn", (1, 28, 28)), population=0)


def test_classes_by_label_or_index(lenet):
    assert lenet.class_indices(["3", 7, "9"]) == [3, 7, 9]
    assert lenet.class_indices() == list(range(10))
    for bad, match in (([], "no target"), (["three"], "neither"), ([3, "3"], "repeat"),
                       ([12], "out of range")):  # fmt: skip
        with pytest.raises(fooling.FoolingError, match=match):
            lenet.class_indices(bad)
