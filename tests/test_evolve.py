"""End to end against the real LeNet trained on the real MNIST."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import fooling
from fooling.cli import main
from fooling.data.mnist import load_mnist
from fooling.encodings import make_encoding
from fooling.records import Statistics
from fooling.runs.progress import read_progress
from fooling.search.evolution import Evolution
from fooling.training import evaluate

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.parametrize("encoding", ["direct", "cppn"])
def test_a_short_run_fools_the_real_lenet(lenet, encoding):
    result = fooling.evolve(
        lenet, encoding=encoding, generations=150, population=100, seed=0, progress=False
    )
    assert result.evaluations == 151 * 100
    assert result.fooled(0.99) == 10, result.confidences
    assert result.median_confidence > 0.999


def test_the_run_directory(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["evolve", "--encoding", "cppn", "--generations", "20", "--population", "50"]
    assert main([*argv, "--classes", "3", "7", "--out", str(run), "--quiet"]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip().startswith(f"gallery: {run / 'gallery.html'}")
    assert printed.err == ""  # --quiet: no progress bar

    summary = json.loads((run / "summary.json").read_text())
    assert list(summary) == [
        "classifier", "weights", "method", "encoding", "seed", "generations", "population",
        "evaluations", "seconds", "median_confidence", "fooled_at_0.99", "classes",
    ]  # fmt: skip
    assert summary["classifier"] == "lenet-mnist" and summary["method"] == "evolve"
    assert summary["weights"] == fooling.load_classifier("lenet-mnist").identity()["weights"]
    assert summary["generations"] == 20 and summary["evaluations"] == 21 * 50
    assert [cell["index"] for cell in summary["classes"]] == [3, 7]
    assert [cell["image"] for cell in summary["classes"]] == [
        "images/003_3.png",
        "images/007_7.png",
    ]

    rows = read_progress(run / "progress.csv")
    assert [row.generation for row in rows] == list(range(21))
    assert rows[-1].median_confidence == pytest.approx(summary["median_confidence"])
    assert (run / "plots" / "confidence.png").stat().st_size > 1000
    assert (run / "plots" / "per_class.png").stat().st_size > 1000
    assert (run / "checkpoint" / "state.safetensors").is_file()
    html = (run / "gallery.html").read_text()
    assert html.count("data:image/png;base64,") == 2

    # the saved PNG scores what the summary says
    images = [str(run / cell["image"]) for cell in summary["classes"]]
    assert main(["classify", "--json", *images]) == 0
    predictions = json.loads(capsys.readouterr().out)
    for cell, prediction in zip(summary["classes"], predictions, strict=True):
        scored = {p["index"]: p["probability"] for p in prediction["predictions"]}
        assert scored[cell["index"]] == pytest.approx(cell["confidence"], abs=1e-6)


def test_same_seed_same_confidences(tmp_path):
    runs = []
    for name in ("a", "b"):
        argv = ["evolve", "--encoding", "cppn", "--generations", "15", "--population", "40"]
        assert main([*argv, "--seed", "3", "--out", str(tmp_path / name), "--quiet"]) == 0
        runs.append(json.loads((tmp_path / name / "summary.json").read_text()))
    confidences = [[cell["confidence"] for cell in run["classes"]] for run in runs]
    assert confidences[0] == confidences[1]
    argv = ["evolve", "--encoding", "cppn", "--generations", "15", "--population", "40"]
    assert main([*argv, "--seed", "4", "--out", str(tmp_path / "c"), "--quiet"]) == 0
    other = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert [cell["confidence"] for cell in other["classes"]] != confidences[0]


def test_an_interrupted_run_resumes_to_the_generations_asked_for(tmp_path):
    base = [sys.executable, "-m", "fooling", "evolve", "--encoding", "direct", "--quiet"]
    base += ["--population", "30", "--generations", "3000", "--checkpoint-every", "5"]
    run = tmp_path / "interrupted"
    process = subprocess.Popen([*base, "--out", str(run)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint" / "state.safetensors").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "continue with --resume" in err
    stopped_at = read_progress(run / "progress.csv")[-1].generation
    assert 0 <= stopped_at < 3000  # (the first checkpoint is written after generation 0)

    generations = str(stopped_at + 40)
    resume = [*base[:-2], "--generations", generations, "--out", str(run), "--resume"]
    subprocess.run(resume, check=True, timeout=300, env={**os.environ})
    summary = json.loads((run / "summary.json").read_text())
    assert summary["generations"] == stopped_at + 40
    rows = read_progress(run / "progress.csv")
    assert [row.generation for row in rows] == list(range(stopped_at + 41))

    # the same run without the interruption ends identically
    straight = tmp_path / "straight"
    subprocess.run([*base[:-2], "--generations", generations, "--out", str(straight)],
                   check=True, timeout=300)  # fmt: skip
    expected = json.loads((straight / "summary.json").read_text())
    assert [c["confidence"] for c in summary["classes"]] == [
        c["confidence"] for c in expected["classes"]
    ]


def test_the_readme_example_fools_a_users_own_module(tmp_path, monkeypatch):
    """README's ten lines, "fool a model of your own", run as printed (in a fresh folder)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (code,) = [block for block in blocks if "fooling.Classifier(net" in block]
    assert len(code.strip().splitlines()) <= 10
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    test_images, test_labels = load_mnist("test")
    assert evaluate(namespace["net"], test_images, test_labels) > 0.9  # a real digit classifier
    again = fooling.load_run("runs/my-model")  # what the README says reads it back
    assert again.fooled(0.99) >= 9 and torch.equal(again.images, namespace["result"].images)
    assert len(list((tmp_path / "runs" / "my-model" / "images").glob("*.png"))) == 10
    assert (tmp_path / "runs" / "my-model" / "gallery.html").is_file()  # as its comment says


def test_a_bare_module_is_refused_with_a_hint():
    with pytest.raises(fooling.FoolingError, match=r"fooling\.Classifier"):
        fooling.evolve(nn.Linear(4, 2))


def test_the_demo_writes_one_gallery_for_both_encodings(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--generations", "3", "--population", "10", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"gallery: {out / 'gallery.html'}"
    html = (out / "gallery.html").read_text()
    assert html.count("data:image/png;base64,") == 20
    assert "direct encoding" in html and "cppn encoding" in html
    for encoding in ("direct", "cppn"):
        assert json.loads((out / encoding / "summary.json").read_text())["encoding"] == encoding


def test_progress_read_at_intervals_as_on_a_gpu(lenet):
    """A GPU reads progress every few generations; the rows must be those of every generation."""
    runs = []
    for every in (1, 7):
        encoding = make_encoding("cppn", lenet.input_shape, lenet.device)
        evolution = Evolution(lenet, encoding, population=20, seed=0)
        evolution.report_every = every  # 1 on a CPU, GPU_REPORT_EVERY on a GPU
        seen = []
        evolution.run(20, progress=False, on_generation=seen.append)
        assert [row.generation for row in seen] == list(range(21))
        assert evolution.history == seen
        runs.append([value for row in seen for value in row.values()])
    # the same run, on the same random numbers (seconds aside: every row's third value)
    width = len(seen[0].values())
    del runs[0][2::width], runs[1][2::width]
    assert runs[0] == pytest.approx(runs[1])


@pytest.mark.parametrize("cells", [[0.5, -1.0, 0.999, 0.2], [0.3, 0.99, -1.0]])
def test_progress_figures_on_the_device_match_those_on_the_host(cells):
    confidence = torch.tensor(cells)
    on_device = Statistics(*Statistics.on_device(confidence).tolist())
    on_host = Statistics.of(confidence)
    assert on_device.fooled == on_host.fooled
    assert [on_device.best, on_device.median, on_device.mean, on_device.lowest] == pytest.approx(
        [on_host.best, on_host.median, on_host.mean, on_host.lowest]
    )


def test_max_hidden_sets_the_cppn_size_and_progress_keeps_the_weakest_class(tmp_path, capsys):
    out = tmp_path / "wide"
    argv = ["evolve", "--encoding", "cppn", "--max-hidden", "12", "--generations", "30"]
    assert main([*argv, "--population", "40", "--out", str(out), "--quiet"]) == 0
    run = fooling.load_run(out)
    assert run.make_encoding().max_hidden == 12 and run.genomes["alive"].shape[1] == 4 + 12 + 1
    last = read_progress(out / "progress.csv")[-1]
    assert last.lowest_confidence == pytest.approx(float(run.confidences.min()), abs=1e-6)
    assert all(row.lowest_confidence <= row.median_confidence for row in run.history)
    for extra, message in ((["--encoding", "direct"], "for --encoding cppn"),
                           (["--resume"], "made with max_hidden 12, not 4")):  # fmt: skip
        argv = ["evolve", "--max-hidden", "4", *extra, "--out", str(out)]
        assert main(argv) == 2
        assert message in capsys.readouterr().err
