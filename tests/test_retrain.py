"""Retraining with a fooling class: real LeNet, real MNIST, small but whole iterations."""

import dataclasses
import json
import shutil

import pytest
import torch
from test_cli_errors import fails_with_one_line

import fooling
from fooling.classifiers.lenet import LeNet
from fooling.experiments.retrain import IMAGES_FORMAT, RetrainSettings
from fooling.state_file import load_state
from fooling.user_files import read_weights

# Every part of an iteration, at the smallest size that still does each step for real.
TINY = RetrainSettings(
    iterations=2, fooling_per_iteration=60, held_out=30, gather_generations=8,
    gather_population=40, epochs=1, max_steps=150, generations=8, population=40,
)  # fmt: skip


def rows_without_time(out):
    rows = json.loads((out / "summary.json").read_text())["iterations"]
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """Two iterations in one go."""
    out = tmp_path_factory.mktemp("retrain") / "run"
    result = fooling.retrain(out=out, settings=TINY, progress=False)
    return out, result


def test_every_iteration_is_written_and_adds_to_the_fooling_class(straight):
    out, _ = straight
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "retrain" and summary["finished"] is True
    rows = summary["iterations"]
    assert [row["iteration"] for row in rows] == [0, 1, 2]
    assert rows[0]["fooling_recall"] is None and rows[0]["test_accuracy"] > 0.98
    assert [row["trained_fooling_images"] for row in rows] == [0, 60, 120]  # all kept
    for row in rows:
        assert 0.5 < row["test_accuracy"] <= 1 and 0 <= row["median_confidence"] <= 1
        assert set(row["evolved"]) == {"direct", "cppn"} and row["evaluations"] > 0
    for number in (1, 2):
        folder = out / "iterations" / f"{number:02d}"
        images = load_state(folder / "fooling.safetensors", kind=IMAGES_FORMAT)
        assert images["trained"].shape == (60, 1, 28, 28) and images["trained"].dtype == torch.uint8
        assert images["held_out"].shape == (30, 1, 28, 28)
        for encoding in ("direct", "cppn"):
            assert fooling.load_run(folder / "evolved" / encoding).classes == list(range(10))
    assert (out / "plots" / "retrain.png").stat().st_size > 0
    gallery = (out / "gallery.html").read_text()
    assert gallery.count("<h2") == 6 and "iteration 2 · cppn" in gallery


def test_fooling_recall_is_what_the_saved_network_says_of_the_held_out_images(straight):
    out, result = straight
    folder = out / "iterations" / "01"
    network = LeNet(num_classes=11)
    network.load_state_dict(read_weights(folder / "weights.safetensors"))
    held_out = load_state(folder / "fooling.safetensors", kind=IMAGES_FORMAT)["held_out"]
    with torch.no_grad():
        predicted = network(held_out.float() / 255).argmax(dim=1)
    assert result.iterations[1]["fooling_recall"] == pytest.approx(
        float((predicted == 10).float().mean())
    )


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """The same run stopped after one iteration."""
    out = tmp_path_factory.mktemp("retrain") / "stopped"
    fooling.retrain(out=out, settings=dataclasses.replace(TINY, iterations=1), progress=False)
    return out


def test_resume_continues_after_the_last_iteration_as_if_never_stopped(straight, stopped, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    assert len(json.loads((out / "summary.json").read_text())["iterations"]) == 2
    fooling.retrain(out=out, settings=TINY, resume=True, progress=False)
    assert rows_without_time(out) == rows_without_time(straight[0])


def test_resume_refuses_other_settings(stopped, capsys):
    before = (stopped / "summary.json").read_bytes()
    argv = ["retrain", "--resume", "--out", str(stopped), "--quick", "--quiet"]
    fails_with_one_line(capsys, argv, "was made with")
    assert (stopped / "summary.json").read_bytes() == before


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--resume"], "nothing to --resume"),
        (["--classifier", "efficientnet-lite0"], "invalid choice"),
        (["--iterations", "0"], "iterations"),
        (["--mnist", "/nonexistent/mnist"], "MNIST"),
        (["--resume", "--force"], "contradict"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, arguments, expected):
    out = tmp_path / "run"
    fails_with_one_line(capsys, ["retrain", "--out", str(out), "--quick", "--quiet", *arguments],
                        expected)  # fmt: skip
    assert not (out / "summary.json").exists()


def test_only_lenet_has_a_built_in_dataset():
    with pytest.raises(fooling.FoolingError, match="only for lenet-mnist"):
        fooling.retrain("efficientnet-lite0", out="unused", settings=TINY)
