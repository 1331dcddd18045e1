"""The MAP-Elites archive: one offspring may take many cells; only improvements replace."""

import pytest
import torch

from fooling.archive import Archive
from fooling.search.selection import uniform

BOTH_UPDATES = pytest.mark.parametrize("wait_free", [True, False], ids=["masked", "touched"])


def batch(probabilities):
    probabilities = torch.tensor(probabilities)
    n = len(probabilities)
    genomes = {"pixels": torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2)}
    images = torch.linspace(0, 1, n).view(n, 1, 1, 1).expand(n, 1, 2, 2)
    return genomes, images, probabilities


@BOTH_UPDATES
def test_one_offspring_claims_every_cell_it_beats(wait_free):
    archive = Archive(classes=[0, 1, 2], wait_free=wait_free)
    genomes, images, probabilities = batch([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    improved = archive.add(genomes, images, probabilities, generation=0)
    assert improved.tolist() == [True, True, True]
    assert archive.confidence.tolist() == pytest.approx([0.5, 0.3, 0.8])
    # individual 0 holds cells 0 and 1; individual 1 holds cell 2
    assert archive.genomes["pixels"][:, 0, 0, 0].tolist() == [0, 0, 1]
    assert archive.found_at.tolist() == [0, 0, 0]
    assert archive.images[:, 0, 0, 0].tolist() == [0, 0, 255]


@BOTH_UPDATES
def test_only_strict_improvements_replace_elites(wait_free):
    archive = Archive(classes=[0, 1, 2], wait_free=wait_free)
    archive.add(*batch([[0.5, 0.3, 0.2]]), generation=0)
    genomes, images, probabilities = batch([[0.5, 0.9, 0.1], [0.2, 0.1, 0.7]])
    genomes["pixels"] = genomes["pixels"] + 10
    improved = archive.add(genomes, images, probabilities, generation=3)
    assert improved.tolist() == [False, True, True]
    assert archive.confidence.tolist() == pytest.approx([0.5, 0.9, 0.7])
    assert archive.genomes["pixels"][:, 0, 0, 0].tolist() == [0, 10, 11]
    assert archive.found_at.tolist() == [0, 3, 3]


@BOTH_UPDATES
def test_a_subset_of_classes_reads_the_right_columns(wait_free):
    archive = Archive(classes=[7, 2], wait_free=wait_free)
    probabilities = torch.zeros(2, 10)
    probabilities[0, 2], probabilities[1, 7] = 0.6, 0.9
    archive.add(*batch([[0.0] * 10, [0.0] * 10])[:2], probabilities, generation=0)
    assert archive.confidence.tolist() == pytest.approx([0.9, 0.6])


@BOTH_UPDATES
def test_any_score_fills_an_empty_cell_and_parents_are_drawn_per_cell(wait_free):
    archive = Archive(classes=[0, 1, 2, 3], wait_free=wait_free)
    genomes, images, _ = batch([[0.0] * 4, [0.0] * 4])
    probabilities = torch.tensor([[0.9, 0.05, 0.0, 0.0], [0.0, 0.0, 0.0, 0.8]])
    archive.add(genomes, images, probabilities, generation=0)
    assert archive.filled.tolist() == [True, True, True, True]
    assert archive.genomes["pixels"][:, 0, 0, 0].tolist() == [0, 0, 0, 1]
    cells = uniform(archive, 4000, torch.Generator().manual_seed(0))
    drawn = archive.genomes["pixels"][cells, 0, 0, 0]
    # uniform over the four cells: individual 0 holds three of them
    assert 0.72 < (drawn == 0).float().mean() < 0.78


def test_both_updates_keep_the_same_archive():
    """The masked update (for GPUs) and the one that touches improved cells only (CPU)."""
    generator = torch.Generator().manual_seed(0)
    archives = [Archive(classes=[4, 1, 7], wait_free=flag) for flag in (True, False)]
    for generation in range(30):
        genomes = {"pixels": torch.rand(6, 2, 3, generator=generator)}
        images = torch.rand(6, 1, 2, 3, generator=generator)
        probabilities = torch.rand(6, 10, generator=generator) ** (8 - generation / 5)
        for archive in archives:
            archive.add(genomes, images, probabilities, generation)
    masked, touched = (archive.state_dict() for archive in archives)
    assert torch.equal(masked.pop("genomes")["pixels"], touched.pop("genomes")["pixels"])
    for key in masked:
        assert torch.equal(masked[key], touched[key]), key
    assert len(set(archives[0].found_at.tolist())) > 1  # cells improved at different times


def test_empty_archive_has_no_parents():
    with pytest.raises(RuntimeError, match="empty"):
        uniform(Archive(classes=[0]), 1, torch.Generator())


def test_state_round_trip():
    archive = Archive(classes=[0, 1])
    archive.add(*batch([[0.3, 0.7]]), generation=5)
    copy = Archive.from_state_dict(archive.state_dict(), "cpu")
    assert torch.equal(copy.confidence, archive.confidence)
    assert torch.equal(copy.images, archive.images)
    assert torch.equal(copy.genomes["pixels"], archive.genomes["pixels"])
    assert copy.found_at.tolist() == [5, 5]
