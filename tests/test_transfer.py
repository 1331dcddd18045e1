"""`fooling transfer` on small real runs against the real MNIST LeNets."""

from __future__ import annotations

import copy
import json
import shutil
import warnings

import pytest
import torch
from test_cli_errors import fails_with_one_line
from torch import nn

import fooling
from fooling.classifiers import Classifier, load_classifier
from fooling.classifiers.lenet import MNIST_LABELS
from fooling.cli import main
from fooling.data.mnist import load_mnist
from fooling.experiments.transfer import transfer
from fooling.runs.images import read_png
from fooling.training import evaluate


@pytest.fixture(scope="module")
def runs(lenet, tmp_path_factory):
    """Two finished runs against lenet-mnist, one per encoding, written as `evolve` writes them."""
    folder = tmp_path_factory.mktemp("transfer")
    for encoding in ("cppn", "direct"):
        fooling.evolve(lenet, encoding=encoding, generations=15, population=40, seed=0,
                       progress=False, out=folder / encoding)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def lenet_b():
    return load_classifier("lenet-mnist-b", "cpu")


def expected_figures(run, classifier: Classifier, target_class) -> dict[str, float]:
    """The figures worked out here, from the saved PNGs, without the transfer code."""
    result = fooling.load_run(run)
    images = torch.stack([read_png(path) for path in sorted((run / "images").glob("*.png"))])
    probabilities = classifier.exact_probabilities(images.float() / 255)
    classes = torch.tensor([target_class(label) for label in result.labels])
    mine = probabilities[torch.arange(len(classes)), classes]
    return {
        "same_top1": (probabilities.argmax(dim=1) == classes).double().mean().item(),
        "at_0.99": (mine >= 0.99).double().mean().item(),
        "mean_confidence": mine.double().mean().item(),
        "source_at_0.99": (result.confidences >= 0.99).double().mean().item(),
        "source_mean_confidence": result.confidences.double().mean().item(),
    }


def test_the_source_classifier_as_target_scores_what_the_run_saved(runs, lenet):
    result = transfer([runs / "cppn", runs / "direct"], lenet, progress=False)
    assert result.targets == ["lenet-mnist"] and len(result.pairs) == 2
    for row, encoding in enumerate(("cppn", "direct")):
        pair = result.pair(row, 0)
        saved = fooling.load_run(runs / encoding).confidences
        torch.testing.assert_close(pair.target_confidences, saved, rtol=0, atol=1e-6)
        figures = pair.figures()
        assert figures["at_0.99"] == figures["source_at_0.99"]
        assert figures["mean_confidence"] == pytest.approx(figures["source_mean_confidence"])
        expected = expected_figures(runs / encoding, lenet, int)
        assert {key: figures[key] for key in expected} == pytest.approx(expected)
        # an elite above one half is its classifier's top-1
        assert bool(pair.transferred[saved > 0.5].all())
    assert not (runs / "transfer").exists()  # nothing written without `out`


def test_classes_are_matched_by_label_not_by_index(runs, lenet):
    """The same LeNet with its labels reversed: the run's "3" is the target's output 6."""
    reversed_lenet = Classifier(lenet.model, input_shape=(1, 28, 28), labels=MNIST_LABELS[::-1],
                                name="lenet-reversed")  # fmt: skip
    pair = transfer(runs / "cppn", reversed_lenet, progress=False).pair(0, 0)
    assert pair.target_classes.tolist() == [9 - digit for digit in range(10)]
    # worked out on the same scores (auto may have given `lenet` another backend)
    expected = expected_figures(runs / "cppn", reversed_lenet, lambda label: 9 - int(label))
    figures = pair.figures()
    assert {key: figures[key] for key in expected} == pytest.approx(expected)


def test_lenet_mnist_b_is_another_real_lenet(lenet, lenet_b):
    images, labels = load_mnist("test")
    assert evaluate(lenet_b.model, images, labels) >= 0.99
    assert lenet_b.name == "lenet-mnist-b" and lenet_b.labels == lenet.labels
    assert lenet_b.identity()["weights"] != lenet.identity()["weights"]
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(lenet_b(noise), lenet(noise), atol=1e-3)


def test_the_command_transfers_to_lenet_mnist_b(runs, lenet_b, tmp_path, capsys):
    out = tmp_path / "transfer"
    argv = ["transfer", str(runs / "cppn"), str(runs / "direct"), "--to", "lenet-mnist-b"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    line = printed.out.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"gallery: {out / 'gallery.html'}")
    assert "cppn -> lenet-mnist-b: same top-1" in line and "direct -> lenet-mnist-b" in line

    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "transfer" and summary["targets"] == ["lenet-mnist-b"]
    assert [run["path"] for run in summary["runs"]] == [str(runs / "cppn"), str(runs / "direct")]
    assert [row["run"] for row in summary["table"]] == [str(runs / "cppn"), str(runs / "direct")]
    for row in summary["table"]:
        expected = expected_figures(runs / row["run"].rsplit("/", 1)[1], lenet_b, int)
        assert {key: row[key] for key in expected} == pytest.approx(expected)
        assert row["elites"] == len(row["classes"]) == 10
        for cell in row["classes"]:
            assert (cell["target_top1"]["index"] == cell["index"]) == cell["same_top1"]
            assert (cell["target_confidence"] >= 0.99) == cell["at_0.99"]

    assert (out / "plots" / "transfer.png").read_bytes().startswith(b"\x89PNG")
    gallery = (out / "gallery.html").read_text()
    assert gallery.count("<section>") == 2 and gallery.count("<figure") == 20
    transferred = sum(cell["same_top1"] for row in summary["table"] for cell in row["classes"])
    assert gallery.count(" ✓</b>") == transferred
    assert gallery.count("✗ ") == 20 - transferred
    fooled = sum(cell["at_0.99"] for row in summary["table"] for cell in row["classes"])
    assert gallery.count("<figure class=hit>") == fooled

    # a second time needs --force, and --force replaces it
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*argv, "--out", str(out), "--quiet", "--force", "--show", "3"]) == 0
    assert (out / "gallery.html").read_text().count("<figure") == 6


def test_a_model_file_as_target_scores_as_the_built_in_it_holds(runs, lenet_b, tmp_path, capsys):
    """lenet-mnist-b saved as TorchScript (a user's file, read without unpickling)."""
    model_file = tmp_path / "lenet_b.ts"
    net = copy.deepcopy(lenet_b.model).to(memory_format=torch.contiguous_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated, and still read
        torch.jit.script(net).save(model_file)
    out = tmp_path / "to_file"
    argv = ["transfer", str(runs / "direct"), "--to", str(model_file), "lenet-mnist-b"]
    assert main([*argv, "--input-shape", "1", "28", "28", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    from_file, built_in = json.loads((out / "summary.json").read_text())["table"]
    assert from_file["target"] == "lenet_b.ts" and built_in["target"] == "lenet-mnist-b"
    for key in ("same_top1", "at_0.99", "mean_confidence"):
        assert from_file[key] == pytest.approx(built_in[key], abs=1e-6)


def test_a_target_with_other_channels_is_refused(runs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 28 * 28, 10))
    colour = Classifier(net, input_shape=(3, 28, 28), labels=MNIST_LABELS, name="colour-digits")
    with pytest.raises(fooling.FoolingError, match="colour-digits takes 3-channel images"):
        transfer(runs / "cppn", colour, progress=False)


def test_empty_cells_are_left_out(runs, lenet, tmp_path):
    """A cell without an elite (confidence -1, as an archive keeps it) is not counted."""
    run = tmp_path / "partial"
    result = fooling.load_run(runs / "cppn")
    result.confidences[3] = -1.0
    result.save(run)
    pair = transfer(run, lenet, progress=False).pair(0, 0)
    assert pair.classes == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert pair.figures()["elites"] == 9


def test_bad_input_is_one_line_and_loses_nothing(runs, tmp_path, capsys):
    out = tmp_path / "kept"
    shutil.copytree(runs / "cppn", out)
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    to = ["--out", str(out), "--force", "--quiet"]
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    fails_with_one_line(capsys, ["transfer", str(not_a_run), "--to", "lenet-mnist-b", *to],
                        "no finished run")  # fmt: skip
    transferred = tmp_path / "transferred"  # a run directory, but of a command without elites
    transfer(runs / "cppn", "lenet-mnist", out=transferred, progress=False)
    fails_with_one_line(capsys, ["transfer", str(transferred), "--to", "lenet-mnist-b", *to],
                        "holds a transfer run, which has no elites")  # fmt: skip
    argv = ["transfer", str(runs / "cppn"), "--to"]
    fails_with_one_line(capsys, [*argv, "efficientnet-lite0", "--backend", "torch", *to],
                        "efficientnet-lite0 cannot score the run")  # fmt: skip
    fails_with_one_line(capsys, [*argv, str(tmp_path / "absent.onnx"), *to], "unknown classifier")
    fails_with_one_line(capsys, [*argv, "lenet-mnist-b", "--input-shape", "1", "28", "28", *to],
                        "--input-shape is for targets given as model files")  # fmt: skip
    fails_with_one_line(capsys, ["transfer", str(out), "--to", "lenet-mnist-b", *to],
                        "is one of the runs")  # fmt: skip
    # it scores every elite with every target and draws nothing, so it has no --seed
    fails_with_one_line(capsys, [*argv, "lenet-mnist-b", "--seed", "1", *to], "--seed")
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
