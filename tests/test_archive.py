"""The MAP-Elites archive: one offspring may take many cells; only improvements replace."""

import pytest
import torch

from fooling.archive import Archive


def batch(probabilities):
    probabilities = torch.tensor(probabilities)
    n = len(probabilities)
    genomes = {"pixels": torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2)}
    images = torch.linspace(0, 1, n).view(n, 1, 1, 1).expand(n, 1, 2, 2)
    return genomes, images, probabilities


def test_one_offspring_claims_every_cell_it_beats():
    archive = Archive(classes=[0, 1, 2])
    genomes, images, probabilities = batch([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    improved = archive.add(genomes, images, probabilities, generation=0)
    assert improved.tolist() == [True, True, True]
    assert archive.confidence.tolist() == pytest.approx([0.5, 0.3, 0.8])
    # individual 0 holds cells 0 and 1; individual 1 holds cell 2
    assert archive.genomes["pixels"][:, 0, 0, 0].tolist() == [0, 0, 1]
    assert archive.found_at.tolist() == [0, 0, 0]
    assert archive.images[:, 0, 0, 0].tolist() == [0, 0, 255]


def test_only_strict_improvements_replace_elites():
    archive = Archive(classes=[0, 1, 2])
    archive.add(*batch([[0.5, 0.3, 0.2]]), generation=0)
    genomes, images, probabilities = batch([[0.5, 0.9, 0.1], [0.2, 0.1, 0.7]])
    genomes["pixels"] = genomes["pixels"] + 10
    improved = archive.add(genomes, images, probabilities, generation=3)
    assert improved.tolist() == [False, True, True]
    assert archive.confidence.tolist() == pytest.approx([0.5, 0.9, 0.7])
    assert archive.genomes["pixels"][:, 0, 0, 0].tolist() == [0, 10, 11]
    assert archive.found_at.tolist() == [0, 3, 3]


def test_a_subset_of_classes_reads_the_right_columns():
    archive = Archive(classes=[7, 2])
    probabilities = torch.zeros(2, 10)
    probabilities[0, 2], probabilities[1, 7] = 0.6, 0.9
    archive.add(*batch([[0.0] * 10, [0.0] * 10])[:2], probabilities, generation=0)
    assert archive.confidence.tolist() == pytest.approx([0.9, 0.6])


def test_any_score_fills_an_empty_cell_and_parents_are_drawn_per_cell():
    archive = Archive(classes=[0, 1, 2, 3])
    genomes, images, _ = batch([[0.0] * 4, [0.0] * 4])
    probabilities = torch.tensor([[0.9, 0.05, 0.0, 0.0], [0.0, 0.0, 0.0, 0.8]])
    archive.add(genomes, images, probabilities, generation=0)
    assert archive.filled.tolist() == [True, True, True, True]
    assert archive.genomes["pixels"][:, 0, 0, 0].tolist() == [0, 0, 0, 1]
    parents = archive.parents(4000, torch.Generator().manual_seed(0))
    drawn = parents["pixels"][:, 0, 0, 0]
    # uniform over the four cells: individual 0 holds three of them
    assert 0.72 < (drawn == 0).float().mean() < 0.78


def test_empty_archive_has_no_parents():
    with pytest.raises(RuntimeError, match="empty"):
        Archive(classes=[0]).parents(1, torch.Generator())


def test_state_round_trip():
    archive = Archive(classes=[0, 1])
    archive.add(*batch([[0.3, 0.7]]), generation=5)
    copy = Archive.from_state(archive.state(), "cpu")
    assert torch.equal(copy.confidence, archive.confidence)
    assert torch.equal(copy.images, archive.images)
    assert torch.equal(copy.genomes["pixels"], archive.genomes["pixels"])
    assert copy.found_at.tolist() == [5, 5]
