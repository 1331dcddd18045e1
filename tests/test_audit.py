"""`fooling audit` of a small MNIST model of our own, as TorchScript and as ONNX, in Chromium."""

import json
import warnings
from pathlib import Path

import pytest
import torch
from browser import browser_only, load_page
from test_cli_errors import fails_with_one_line
from torch import nn

import fooling
from fooling.cli import main
from fooling.data.mnist import load_mnist


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """A small network trained briefly on the real MNIST (not the built-in LeNet), exported."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 48), nn.ReLU(), nn.Linear(48, 10))
    recipe = fooling.Recipe(epochs=1, batch_size=128, learning_rate=2e-3, optimizer="adam",
                            schedule="constant", max_steps=300)  # fmt: skip
    fooling.train(net, load_mnist("train"), recipe)
    net.eval()
    folder = tmp_path_factory.mktemp("audited")
    files = {"torchscript": folder / "small.ts", "onnx": folder / "small.onnx"}
    example = torch.rand(2, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.trace(net, example).save(files["torchscript"])
        torch.onnx.export(
            net, (example,), files["onnx"], dynamo=False, input_names=["x"],
            output_names=["scores"], dynamic_axes={"x": {0: "n"}, "scores": {0: "n"}},
        )  # fmt: skip
    return files


@pytest.fixture(scope="module")
def audits(exported, tmp_path_factory) -> dict[str, Path]:
    """Quick audits of both files, the TorchScript one against a reference."""
    folder = tmp_path_factory.mktemp("audits")
    argv = {
        "torchscript": ["--classifier", str(exported["torchscript"]), "--input-shape", "1", "28",
                        "28", "--reference", "lenet-mnist", "--detectors", "energy"],
        "onnx": ["--classifier", str(exported["onnx"])],
    }  # fmt: skip
    for kind, options in argv.items():
        out = folder / kind
        assert main(["audit", *options, "--budget", "quick", "--out", str(out), "--quiet"]) == 0
    return {kind: folder / kind for kind in argv}


def summary_of(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_a_torchscript_model_is_audited_by_every_method(audits):
    summary = summary_of(audits["torchscript"])
    steps = [step["name"] for step in summary["steps"]]
    assert steps == ["direct", "cppn", "ascend", "pgd-0.1", "pgd-0.15", "pgd-0.2", "pgd-0.3",
                     "detect", "against-energy", "transfer"]  # fmt: skip
    cppn = summary_of(audits["torchscript"] / "runs" / "cppn")
    assert cppn["generations"] == 50 and cppn["population"] == 100
    fooled = max(summary_of(audits["torchscript"] / "runs" / name)["fooled_at_0.99"]
                 for name in ("direct", "cppn", "ascend"))  # fmt: skip
    assert summary["headline"].startswith(f"{fooled}/10 classes of small.ts fooled at ≥ 99%")
    detect = summary_of(audits["torchscript"] / "runs" / "detect")
    assert [source["name"] for source in detect["sources"]] == [
        "real (held out)",
        "evolve direct",
        "evolve cppn",
        "ascend",
        "adversarial pgd",
    ]
    against = summary_of(audits["torchscript"] / "runs" / "against-energy")["against"]
    assert f"still puts {against['fooled_and_passed']}/10 classes" in summary["headline"]


@browser_only
@pytest.mark.parametrize("kind", ["torchscript", "onnx"])
def test_the_audit_page_shows_each_method(audits, kind):
    page = load_page(audits[kind] / "report.html")
    assert page.errors == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests)
    broken = [image["src"] for image in page.images if not image["complete"] or not image["width"]]
    assert broken == [] and len(page.images) >= 12
    lines = [line for line in page.text.splitlines() if line.strip()]
    assert lines[1] == summary_of(audits[kind])["headline"]  # right under the title
    methods = {row[0]: row[1:] for row in page.tables["extra-0"]}
    assert len(methods) == 7
    direct = methods["evolution, direct encoding"]
    assert direct[0].endswith("%)") and direct[1].endswith("%")
    gradient = ["gradient ascent", *(f"PGD, L∞ ε = {eps}" for eps in ("0.1", "0.15", "0.2", "0.3"))]
    for method in gradient:
        if kind == "onnx":  # a black box: no gradients
            assert methods[method][0].startswith("not applicable: a black box")
        else:
            assert methods[method][0][0].isdigit() and "%" in methods[method][1]
    if kind == "torchscript":
        transfer = page.tables["extra-1"]
        assert [row[1] for row in transfer] == ["lenet-mnist"] * 3
        assert all(row[2].endswith("%") for row in transfer)
        detectors = page.tables["extra-2"]
        assert detectors[0][0] == "energy" and len(detectors[0]) == 6
        assert "Beyond the paper: energy" in page.text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--classifier", "{tmp}/missing.onnx"], "missing.onnx"),
        (["--classifier", "lenet-mnist", "--budget", "huge"], "invalid choice"),
        (["--classifier", "lenet-mnist", "--reference", "nonesuch"], "nonesuch"),
        (["--classifier", "lenet-mnist", "--detectors", "magic"], "invalid choice: 'magic'"),
        (["--classifier", "lenet-mnist", "--data", "{tmp}"], "--data is for --detectors"),
    ],
)
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
    argv = ["audit", *(part.format(tmp=tmp_path) for part in argv), "--out", str(tmp_path / "a")]
    fails_with_one_line(capsys, argv, message)
    assert not (tmp_path / "a" / "steps.json").exists()
