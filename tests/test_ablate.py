"""`fooling ablate`: motif copies found on images with a known answer, and real runs ablated."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import fooling
from fooling.classifiers.lenet import shipped_weights_path
from fooling.cli import main
from fooling.experiments.ablate import FRACTIONS, ablate
from fooling.experiments.components import label_components
from fooling.experiments.motifs import find_motif
from fooling.search.result import SearchResult

# an asymmetric shape (an L), 7 x 5 pixels
SHAPE = torch.zeros(7, 5, dtype=torch.bool)
SHAPE[:, :2] = True
SHAPE[-2:, :] = True


def stamp(image: torch.Tensor, shape: torch.Tensor, top: int, left: int, colour) -> torch.Tensor:
    """`image` with `shape` painted in `colour` at (top, left); returns the shape's mask."""
    mask = torch.zeros(image.shape[1:], dtype=torch.bool)
    mask[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
    image[:, mask] = torch.tensor(colour, dtype=torch.uint8).view(-1, 1)
    return mask


def three_copies() -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A 28 x 28 gray image: three white Ls on black, apart from each other."""
    image = torch.zeros((1, 28, 28), dtype=torch.uint8)
    masks = [stamp(image, SHAPE, top, left, [255]) for top, left in ((2, 3), (4, 18), (17, 10))]
    return image, masks


def test_components_are_labelled_4_connected():
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 0, 1], [1, 0, 0, 1], [1, 1, 0, 0]], dtype=torch.bool)
    labels, count = label_components(mask)
    assert count == 3  # the diagonal touch at (1, 1)-(2, 0) does not join
    assert labels.tolist() == [[1, 1, 0, 0], [0, 1, 0, 2], [3, 0, 0, 2], [3, 3, 0, 0]]
    spiral = torch.zeros((40, 40), dtype=torch.bool)
    for ring in range(0, 20, 4):  # nested square rings, each its own component
        spiral[ring : 40 - ring, ring] = spiral[ring : 40 - ring, 39 - ring] = True
        spiral[ring, ring : 40 - ring] = spiral[39 - ring, ring : 40 - ring] = True
    assert label_components(spiral)[1] == 5
    assert label_components(torch.ones((9, 9), dtype=torch.bool))[1] == 1
    assert label_components(torch.zeros((9, 9), dtype=torch.bool))[1] == 0


def test_three_copies_of_a_shape_on_a_plain_background_are_found_exactly():
    image, masks = three_copies()
    motif = find_motif(image)
    assert motif.method == "components" and motif.count == 3, motif.reason
    assert motif.background.tolist() == [0.0]
    assert sorted(copy.nonzero().tolist() for copy in motif.copies) == sorted(
        mask.nonzero().tolist() for mask in masks
    )
    assert motif.coverage == 1.0


def test_mirrored_colour_copies_are_copies_and_an_odd_one_out_is_not():
    image = torch.zeros((3, 224, 224), dtype=torch.uint8)
    image[2] = 200  # a blue background
    big = SHAPE.repeat_interleave(5, 0).repeat_interleave(5, 1)  # 35 x 25
    red = [230, 40, 40]
    masks = [stamp(image, big, 20, 20, red), stamp(image, big.flip(1), 20, 150, red),
             stamp(image, big.flip(0), 150, 90, red)]  # fmt: skip
    stamp(image, torch.ones(30, 30, dtype=torch.bool), 160, 170, [40, 230, 40])  # a green square
    motif = find_motif(image)
    assert motif.count == 3, motif.reason
    assert sorted(copy.sum().item() for copy in motif.copies) == [int(big.sum())] * 3
    union = torch.stack(masks).any(dim=0)
    assert torch.equal(motif.copies.any(dim=0), union)  # the square is not one of them


def test_copies_that_touch_are_cut_on_the_pattern_s_lattice():
    image = torch.zeros((1, 64, 64), dtype=torch.uint8)
    image[0, 28:32, :] = 255  # a bar across the whole image ...
    for left in range(4, 64, 16):  # ... with a tooth every 16 pixels: one component
        image[0, 10:28, left : left + 6] = 255
    assert label_components(image[0] > 0)[1] == 1
    motif = find_motif(image)
    assert motif.method == "lattice" and motif.count == 4, motif.reason
    assert "(0, 16)" in motif.reason
    for copy in motif.copies:  # each copy holds one whole tooth
        assert int(copy[10:28].sum()) == 18 * 6
    assert motif.coverage > 0.99  # all but a sliver of the bar, where the border cuts a tile


@pytest.mark.parametrize(
    ("name", "expected"),
    [("plain", "one plain colour"), ("one shape", "no alike components"),
     ("rings", "no alike components")],
)  # fmt: skip
def test_no_motif_is_found_where_there_is_none_or_the_method_cannot_see_it(name, expected):
    image = torch.full((1, 64, 64), 30, dtype=torch.uint8)
    if name == "one shape":
        stamp(image, SHAPE.repeat_interleave(3, 0).repeat_interleave(3, 1), 20, 20, [255])
    elif name == "rings":  # rings 3x apart in area are not copies: a limit of the method
        ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        radius = ((ys - 31.5) ** 2 + (xs - 31.5) ** 2).sqrt()
        image[0, ((radius >= 6) & (radius < 9)) | ((radius >= 22) & (radius < 25))] = 255
    motif = find_motif(image)
    assert motif.count == 0 and motif.method == "none"
    assert motif.reason.startswith("no motif") and expected in motif.reason, motif.reason


# ------------------------------------------------------------------ runs


def constructed_run(lenet, folder, images: torch.Tensor, classes: list[int], confidences=None):
    """A run directory holding `images` as the elites of `classes`, saved as a search saves it.

    The confidences are LeNet's own (fp32) unless given.
    """
    scores = lenet.exact_probabilities(images.float().div(255)).cpu()
    own = scores[torch.arange(len(classes)), torch.tensor(classes)]
    result = SearchResult(
        classifier="lenet-mnist", method="evolve", encoding=None, seed=0, generations=0,
        population=len(images), evaluations=len(images), seconds=0.0, classes=classes,
        labels=[str(index) for index in classes],
        confidences=own if confidences is None else torch.tensor(confidences),
        images=images, found_at=torch.zeros(len(classes), dtype=torch.long),
    )  # fmt: skip
    result.save(folder)
    return folder


@pytest.fixture(scope="module")
def known(lenet, tmp_path_factory):
    """A run with two elites: three Ls (class: LeNet's top-1 for them) and a plain image."""
    copies, _ = three_copies()
    plain = torch.full((1, 28, 28), 90, dtype=torch.uint8)
    images = torch.stack([copies, plain])
    top = int(lenet.exact_probabilities(copies[None].float().div(255)).argmax())
    other = (top + 1) % 10
    return constructed_run(lenet, tmp_path_factory.mktemp("known") / "run", images, [top, other])


@pytest.fixture(scope="module")
def evolved(lenet, tmp_path_factory):
    """A real CPPN run against the real LeNet: 10 generations of 50."""
    run = tmp_path_factory.mktemp("evolved") / "run"
    fooling.evolve(lenet, encoding="cppn", generations=10, population=50, seed=0,
                   progress=False, out=run)  # fmt: skip
    return run


def test_curves_start_at_the_elite_and_end_with_every_copy_filled(lenet, known):
    result = ablate(known, classifier=lenet, progress=False)
    copies, plain = result.classes
    saved = fooling.load_run(known).confidences
    assert copies.motif.count == 3 and copies.removed == [0, 1, 2, 3]
    assert copies.motif_curve[0] == pytest.approx(float(saved[0]), abs=1e-6)
    assert copies.control_curve[0] == copies.motif_curve[0]
    assert len(copies.motif_curve) == len(copies.control_curve) == 4
    assert len(copies.control_draws) == 3 and all(len(d) == 4 for d in copies.control_draws)
    # every copy removed leaves the plain background: score that image here
    black = lenet.exact_probabilities(torch.zeros((1, 1, 28, 28)))[0, copies.index].item()
    assert copies.motif_curve[-1] == pytest.approx(black, abs=1e-6)
    assert copies.changed_motif == [0, 20, 40, 60]  # three Ls of 20 pixels, one at a time
    # the control avoids the copies, so on this plain background it changes nothing
    assert copies.changed_control == [0.0] * 4
    assert copies.control_curve == pytest.approx([copies.motif_curve[0]] * 4, abs=1e-6)
    # the plain image: reported, not ablated
    assert plain.motif.count == 0 and plain.motif_curve == []
    assert "one plain colour" in plain.motif.reason
    assert result.median_curve("motif") == copies.at_fractions(copies.motif_curve)
    assert len(result.median_curve("control")) == len(FRACTIONS)
    assert result.images_scored == 2 + 3 * (1 + 3)


def test_the_command_writes_its_run_directory(evolved, tmp_path, capsys):
    out = tmp_path / "ablate"
    assert main(["ablate", str(evolved), "--out", str(out), "--quiet", "--controls", "2"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith(f"gallery: {out / 'gallery.html'}  (median confidence ")
    assert printed.err == ""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "ablate" and summary["classifier"] == "lenet-mnist"
    assert summary["classes_ablated"] == 10 and summary["controls"] == 2
    found = [cell for cell in summary["classes"] if cell["copies"]]
    missing = [cell for cell in summary["classes"] if not cell["copies"]]
    assert found and missing  # this run has both (3 and 7 classes)
    assert summary["classes_with_motif"] == len(found)
    assert summary["classes_without_motif"] == len(missing)
    saved = {cell["index"]: cell["confidence"] for cell in summary["classes"]}
    for cell in found:
        steps = len(cell["copies_removed"])
        assert cell["copies_removed"][0] == 0 and cell["copies_removed"][-1] == cell["copies"]
        assert len(cell["motif_curve"]) == len(cell["control_curve"]) == steps
        assert cell["motif_curve"][0] == pytest.approx(saved[cell["index"]], abs=1e-5)
        assert (out / cell["strip"]).stat().st_size > 1000
    for cell in missing:
        assert cell["motif"] is None and cell["reason"].startswith("no motif")
    assert len(summary["median_motif"]) == len(summary["median_control"]) == len(FRACTIONS)
    assert summary["median_after_all"]["motif"] == summary["median_motif"][-1]
    for plot in ("median.png", "per_class.png"):
        assert (out / "plots" / plot).stat().st_size > 10_000
    page = (out / "gallery.html").read_text()
    assert page.count("<img") == 2 + len(found) + len(missing)  # 2 figures, strips, elites
    assert "<figcaption>median over classes<br>" in page  # a figure has no class index
    # the same again is refused, and what is there stays
    before = (out / "summary.json").read_bytes()
    assert main(["ablate", str(evolved), "--out", str(out), "--quiet"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before


def test_a_subset_of_classes(evolved, lenet):
    result = ablate(evolved, classifier=lenet, classes=["3", 7], progress=False)
    assert [ablation.index for ablation in result.classes] == [3, 7]
    confidences = fooling.load_run(evolved).confidences
    top = ablate(evolved, classifier=lenet, top=2, progress=False, controls=1)
    assert {ablation.index for ablation in top.classes} == set(confidences.argsort()[-2:].tolist())


def bad(capfd, argv: list[str]) -> str:
    """Run a command that must fail; returns its one line of stderr."""
    capfd.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    assert code == 2
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_inputs_are_one_line_and_exit_2(evolved, known, lenet, tmp_path, capfd):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = ["--out", str(tmp_path / "out"), "--quiet"]
    assert "no finished run" in bad(capfd, ["ablate", str(empty), *out])
    assert "no finished run" in bad(capfd, ["ablate", str(tmp_path / "missing"), *out])

    figure = tmp_path / "figure1"  # a run directory, but not of a search
    figure.mkdir()
    (figure / "summary.json").write_text(json.dumps({"method": "figure1", "points": []}))
    assert "not a search run" in bad(capfd, ["ablate", str(figure), *out])

    unknown = tmp_path / "unknown"  # a run whose classifier cannot be loaded
    shutil.copytree(evolved, unknown)
    summary = json.loads((unknown / "summary.json").read_text())
    (unknown / "summary.json").write_text(json.dumps({**summary, "classifier": "alexnet-x"}))
    err = bad(capfd, ["ablate", str(unknown), *out])
    assert "cannot load the classifier 'alexnet-x' that the run fooled" in err

    assert "not among the run's classes" in bad(capfd, ["ablate", str(evolved), "--classes",
                                                        "eleven", *out])  # fmt: skip
    assert "--controls" in bad(capfd, ["ablate", str(evolved), "--controls", "0", *out])
    before = (evolved / "summary.json").read_bytes()
    err = bad(capfd, ["ablate", str(evolved), "--out", str(evolved), "--force"])
    assert "is the run being ablated" in err
    assert (evolved / "summary.json").read_bytes() == before
    assert not (tmp_path / "out").exists()


def test_a_run_of_another_model_is_refused(lenet, tmp_path):
    copies, _ = three_copies()
    run = constructed_run(lenet, tmp_path / "other", copies[None], [1], confidences=[0.5])
    with pytest.raises(fooling.FoolingError, match="the run fooled another model"):
        ablate(run, classifier=lenet, out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_run_against_other_weights_is_refused_unless_they_are_given(tmp_path, capfd):
    # evolved against lenet-mnist with lenet-mnist-b's weights: the run names lenet-mnist
    run = tmp_path / "run"
    other = str(shipped_weights_path("lenet-mnist-b"))
    assert main(["evolve", "--weights", other, "--generations", "3", "--population", "20",
                 "--out", str(run), "--quiet"]) == 0  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary["classifier"] == "lenet-mnist"
    assert summary["weights"] == fooling.load_classifier("lenet-mnist-b").identity()["weights"]
    capfd.readouterr()
    out = ["--out", str(tmp_path / "out"), "--quiet", "--max-steps", "2"]
    assert "fooled lenet-mnist with weights" in bad(capfd, ["ablate", str(run), *out])
    assert not (tmp_path / "out").exists()
    with pytest.raises(fooling.FoolingError, match="give those weights with --weights"):
        ablate(run, out=tmp_path / "out", progress=False)
    assert main(["ablate", str(run), "--weights", other, *out]) == 0
