"""Bad input: one clear line on stderr, exit code 2, no traceback, nothing lost."""

import subprocess
import sys

import pytest
import torch

from fooling.cli import main


def fails_with_one_line(capsys, argv, match):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fooling") and "error" in lines[0]
    assert match in lines[0], lines[0]
    return lines[0]


EVOLVE = ["evolve", "--classifier", "lenet-mnist", "--generations", "2", "--population", "4"]


def test_unknown_classifier(capsys, tmp_path):
    argv = ["evolve", "--classifier", "alexnet-imaginary", "--out", str(tmp_path / "r")]
    fails_with_one_line(capsys, argv, "unknown classifier 'alexnet-imaginary'")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("option", ["--population", "--generations"])
@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_non_positive_numbers(capsys, tmp_path, option, value):
    argv = ["evolve", option, value, "--out", str(tmp_path / "r")]
    fails_with_one_line(capsys, argv, option)


def test_unknown_encoding(capsys, tmp_path):
    argv = [*EVOLVE, "--encoding", "genetic", "--out", str(tmp_path / "r")]
    fails_with_one_line(capsys, argv, "genetic")


def test_unknown_class(capsys, tmp_path):
    argv = [*EVOLVE, "--classes", "3", "eleven", "--out", str(tmp_path / "r")]
    fails_with_one_line(capsys, argv, "eleven")
    argv = [*EVOLVE, "--classes", "10", "--out", str(tmp_path / "r")]
    fails_with_one_line(capsys, argv, "out of range")


def test_unreadable_checkpoint(capsys, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "checkpoint" / "state.safetensors").write_bytes(b"\x00not a checkpoint" * 8)
    (run / "progress.csv").write_text("kept\n")
    fails_with_one_line(capsys, [*EVOLVE, "--out", str(run), "--resume"], "checkpoint")
    assert (run / "progress.csv").read_text() == "kept\n"


def test_resume_without_checkpoint(capsys, tmp_path):
    fails_with_one_line(capsys, [*EVOLVE, "--out", str(tmp_path), "--resume"], "no checkpoint")


def test_foreign_checkpoint_is_refused(capsys, tmp_path):
    run = tmp_path / "run"
    assert main([*EVOLVE, "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    before = (run / "summary.json").read_text()
    argv = [*EVOLVE, "--encoding", "cppn", "--out", str(run), "--resume"]
    fails_with_one_line(capsys, argv, "checkpoint")
    argv = [*EVOLVE[:-1], "8", "--out", str(run), "--resume"]
    fails_with_one_line(capsys, argv, "population")
    assert (run / "summary.json").read_text() == before


def test_checkpoint_with_misshapen_genomes_is_refused(capsys, tmp_path):
    """A crafted checkpoint, its checksum forged, must not reach the C kernels with
    genomes of the wrong shape."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from fooling.runs.state import _checksum

    run = tmp_path / "run"
    argv = [*EVOLVE, "--encoding", "cppn", "--out", str(run)]
    assert main([*argv, "--quiet"]) == 0
    capsys.readouterr()
    path = run / "checkpoint" / "state.safetensors"
    tensors = load_file(path)
    with safe_open(path, "pt") as file:
        metadata = file.metadata()
    tensors["archive.genomes.weight"] = torch.zeros(10, 3, 3)
    metadata["checksum"] = _checksum(metadata["format"], metadata["data"], tensors)
    save_file(tensors, path, metadata=metadata)
    fails_with_one_line(capsys, [*argv, "--resume", "--generations", "4"], "genome weight")


def test_existing_run_is_not_overwritten(capsys, tmp_path):
    run = tmp_path / "run"
    assert main([*EVOLVE, "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    fails_with_one_line(capsys, [*EVOLVE, "--seed", "1", "--out", str(run)], "--force")
    after = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    assert after == before
    (run / "notes.txt").write_text("mine")
    assert main([*EVOLVE, "--seed", "1", "--out", str(run), "--force", "--quiet"]) == 0
    assert (run / "notes.txt").read_text() == "mine"  # --force removes only run files


def test_classify_a_non_image_file(capsys, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a PNG")
    fails_with_one_line(capsys, ["classify", "--classifier", "lenet-mnist", str(text)], "notes.png")
    fails_with_one_line(capsys, ["classify", str(tmp_path / "missing.png")], "missing.png")


def test_bad_weights_file(capsys, tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"junk")
    image = tmp_path / "x.png"
    fails_with_one_line(
        capsys, ["classify", "--weights", str(weights), str(image)], "w.safetensors"
    )


def test_a_real_process_prints_no_traceback(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "fooling", "evolve", "--classifier", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        "fooling: error: unknown classifier 'nope'; built-in classifiers: lenet-mnist, "
        "lenet-mnist-b, efficientnet-lite0, efficientnet-lite1, efficientnet-lite2; or give a "
        "TorchScript, .pt2 or .onnx file, or torchvision:NAME / timm:NAME"
    )
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(("device", "match"), [("banana", "unknown device"), ("cuda:7", "CUDA")])
def test_bad_device(capsys, tmp_path, device, match):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    fails_with_one_line(capsys, [*EVOLVE, "--device", device, "--out", str(tmp_path)], match)
