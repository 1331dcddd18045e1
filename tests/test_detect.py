"""`fooling detect`: pytorch-ood detectors fitted on real MNIST, scoring real runs of the LeNet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from browser import browser_only, load_page
from test_cli_errors import fails_with_one_line

import fooling
from fooling.cli import main
from fooling.data.mnist import load_mnist
from fooling.detectors import DETECTORS, Detectors
from fooling.detectors.against import AgainstDetector
from fooling.detectors.real_images import real_images
from fooling.errors import FoolingError
from fooling.experiments.detect import REAL, read_fooling_images
from fooling.search.refine import Refinement

FEW = ["--fit-count", "1000", "--held-out-count", "200"]


@pytest.fixture(scope="module")
def runs(lenet, tmp_path_factory):
    """Real runs against lenet-mnist: CPPN evolution, pixel ascent and PGD."""
    folder = tmp_path_factory.mktemp("detect")
    fooling.evolve(lenet, encoding="cppn", generations=40, population=50, seed=0, progress=False,
                   out=folder / "cppn")  # fmt: skip
    fooling.ascend(lenet, progress=False, out=folder / "ascend")
    argv = ["adversarial", "--classifier", "lenet-mnist", "--attack", "pgd", "--eps", "0.2",
            "--count", "20", "--show", "20", "--quiet", "--out", str(folder / "pgd")]  # fmt: skip
    assert main(argv) == 0
    return folder


@pytest.fixture(scope="module")
def few_real(lenet):
    return real_images(lenet, fit_count=1000, held_out_count=200)


def test_detectors_catch_noise_and_let_real_digits_through(lenet, few_real):
    detectors = Detectors(lenet, DETECTORS, few_real.fit_images, few_real.fit_labels,
                          few_real.held_out)  # fmt: skip
    for name in DETECTORS:  # the threshold lets 95% of the real held-out digits through
        assert detectors.caught(detectors.real_scores)[name].float().mean() <= 0.05
    other_digits = load_mnist("test")[0][5000:5200]
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    on_digits = detectors.caught(detectors.scores(other_digits))
    on_noise = detectors.caught(detectors.scores(noise))
    for name in ("energy", "vim", "knn"):
        assert on_noise[name].float().mean() > 0.8, name
        assert on_digits[name].float().mean() < 0.2, name


def test_detect_pools_runs_by_kind_and_scores_every_image(lenet, runs, few_real):
    result = fooling.detect(lenet, [runs / "cppn", runs / "ascend", runs / "pgd"],
                            detectors=["msp", "mahalanobis"], real=few_real)  # fmt: skip
    names = [source.name for source in result.sources]
    assert names == [REAL, "evolve cppn", "ascend", "adversarial pgd"]
    cppn = fooling.load_run(runs / "cppn")
    assert len(result.sources[1].images) == int((cppn.confidences >= 0.99).sum())
    pgd = json.loads((runs / "pgd" / "summary.json").read_text())
    assert len(result.sources[3].images) == sum(item["success"] for item in pgd["items"])
    rows = result.table()
    assert len(rows) == 2 * 4
    for row in rows:
        if row["source"] == REAL:
            assert row["auroc"] is None and row["caught"] <= 0.05
        else:
            assert 0.0 <= row["auroc"] <= 1.0
    # the top softmax cannot tell an image at >= 99% from a confident real digit
    msp = {row["source"]: row for row in rows if row["detector"] == "msp"}
    assert msp["evolve cppn"]["caught"] == 0.0


def test_hybrid_runs_are_a_source_of_their_own(lenet, tmp_path):
    out = tmp_path / "hybrid"
    fooling.evolve(lenet, encoding="cppn", generations=4, population=20, progress=False,
                   refinement=Refinement(steps=2, every=2), out=out)  # fmt: skip
    assert read_fooling_images(out, lenet, threshold=0.0)[0] == "evolve cppn refined"


def test_the_command_writes_a_summary_a_page_and_a_table(runs, tmp_path, capsys):
    out = tmp_path / "detect"
    argv = ["detect", str(runs / "cppn"), str(runs / "pgd"), "--detectors", "energy", "knn",
            *FEW, "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "AUROC" in printed and "adversarial pgd" in printed and "knn" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["beyond_the_paper"] and summary["detectors"] == ["energy", "knn"]
    assert summary["real"]["fitted_on"] == 1000 and summary["real"]["held_out"] == 200
    assert {row["source"] for row in summary["table"]} == {REAL, "evolve cppn", "adversarial pgd"}
    assert (out / "plots" / "roc.png").is_file() and (out / "plots" / "detection.png").is_file()
    assert (out / "report.html").is_file()


@browser_only
def test_the_page_shows_the_figures_and_the_images(runs, tmp_path):
    out = tmp_path / "detect"
    assert main(["detect", str(runs / "ascend"), *FEW, "--quiet", "--out", str(out)]) == 0
    page = load_page(out / "report.html")
    assert not page.errors
    assert page.images and all(image["complete"] and image["width"] > 0 for image in page.images)
    assert "would a detector catch these?" in page.text
    assert "ascend: from least to most detected" in page.text
    assert "caught by" in page.text


def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys):
    out = tmp_path / "never"
    run = str(runs / "cppn")
    fails_with_one_line(capsys, ["detect", run, "--detectors", "magic", "--out", str(out)],
                        "unknown detector 'magic'")  # fmt: skip
    fails_with_one_line(
        capsys,
        ["detect", run, "--classifier", "lenet-mnist-b", *FEW, "--out", str(out)],
        "made with lenet-mnist, not lenet-mnist-b",
    )
    wrong = tmp_path / "data" / "cat"
    wrong.mkdir(parents=True)
    shutil.copy(runs / "cppn" / "images" / "000_0.png", wrong / "a.png")
    fails_with_one_line(capsys, ["detect", run, "--data", str(wrong.parent), "--out", str(out)],
                        "names no class of lenet-mnist")  # fmt: skip
    argv = ["adversarial", "--classifier", "lenet-mnist", "--attack", "fgsm", "--eps", "0.001",
            "--count", "5", "--quiet", "--out", str(tmp_path / "held")]  # fmt: skip
    assert main(argv) == 0
    fails_with_one_line(capsys, ["detect", str(tmp_path / "held"), *FEW, "--out", str(out)],
                        "no saved adversarial example that succeeded")  # fmt: skip
    fails_with_one_line(capsys, ["detect", str(tmp_path), *FEW, "--out", str(out)],
                        "holds no finished run")  # fmt: skip
    assert not out.exists()


def test_a_classifier_without_mnist_needs_its_real_images(efficientnet):
    with pytest.raises(FoolingError, match="need its real images: give --data FOLDER"):
        real_images(efficientnet)


def test_against_scores_passing_images_as_the_classifier_and_discounts_caught_ones(lenet, few_real):
    detectors = Detectors(lenet, ["mahalanobis"], few_real.fit_images, few_real.fit_labels,
                          few_real.held_out)  # fmt: skip
    images = torch.cat(
        [
            load_mnist("test")[0][6000:6050],
            torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(1)),
        ]
    )
    caught = detectors.caught(detectors.scores(images))["mahalanobis"]
    assert 0 < int(caught.sum()) < len(images)
    plain = lenet.exact_probabilities(images).cpu()
    soft = AgainstDetector(detectors, "mahalanobis", "soft")(images).cpu()
    gate = AgainstDetector(detectors, "mahalanobis", "gate")(images).cpu()
    torch.testing.assert_close(soft[~caught], plain[~caught], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(gate[~caught], plain[~caught], atol=1e-5, rtol=1e-4)
    assert bool((gate[caught] == 0).all())
    assert bool((soft[caught] < plain[caught]).all()) and bool((soft[caught] > 0).any())


def test_evolve_against_a_detector_reports_each_elite_and_resumes(lenet, tmp_path, capsys):
    out = tmp_path / "against"
    argv = ["evolve", "--classifier", "lenet-mnist", "--encoding", "cppn", "--population", "50",
            "--against", "mahalanobis", *FEW, "--quiet", "--out", str(out)]  # fmt: skip
    assert main([*argv, "--generations", "20"]) == 0
    assert "against mahalanobis:" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    against = summary["against"]
    assert against["detector"] == "mahalanobis" and against["penalty"] == "soft"
    assert against["fitted_on"] == 1000 and against["held_out"] == 200
    assert len(against["elites"]) == sum(cell["confidence"] >= 0 for cell in summary["classes"])
    searched = {cell["index"]: cell["confidence"] for cell in summary["classes"]}
    for row in against["elites"]:
        assert row["passed"] == (row["score"] <= against["threshold"])
        if row["passed"]:  # a passing elite scores its plain class probability
            assert abs(row["confidence"] - searched[row["class"]]) < 1e-4
        else:
            assert searched[row["class"]] < row["confidence"]
    kind, images, _, _ = read_fooling_images(out, lenet, threshold=0.0)
    assert kind == "evolve cppn against mahalanobis" and len(images) == len(against["elites"])
    resumed = ["evolve", "--resume", "--generations", "30", "--quiet", "--out", str(out)]
    assert main(resumed) == 0
    assert json.loads((out / "summary.json").read_text())["generations"] == 30
    fails_with_one_line(capsys, [*resumed[:-2], "--against", "knn", "--out", str(out)],
                        "--against of a resumed run comes from its checkpoint")  # fmt: skip
    fails_with_one_line(capsys, ["evolve", "--data", str(tmp_path), "--out", str(tmp_path / "x")],
                        "--data is for --against DETECTOR")  # fmt: skip


def test_efficientnet_shows_its_pooled_features_and_its_logits(efficientnet):
    from fooling.detectors.readout import Readout
    from fooling.user_files import read_image

    hen = read_image(Path(__file__).parent / "data" / "hen_256.png", 3).unsqueeze(0)
    images = torch.cat([hen, hen.flip(-1)])
    logits, features = Readout(efficientnet).read(images)
    assert features.shape == (2, 1280) and logits.shape == (2, 1000)
    probabilities = efficientnet.exact_probabilities(images).cpu()
    torch.testing.assert_close(logits.softmax(dim=1), probabilities, atol=1e-4, rtol=1e-3)
    assert int(logits[0].argmax()) == 8  # the hen
