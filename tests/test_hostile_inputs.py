"""Every command through a table of bad inputs: exit code 2, one short message, nothing lost.

Each case runs the real command line in this process. Stderr is read at the
file-descriptor level, so a traceback that a library logs also counts. Every
command that writes is pointed, with `--force`, at a marker directory that
holds a finished run. After each case the marker must be byte for byte what
it was: bad input is found before anything already written is touched.
"""

from __future__ import annotations

import copy
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from hostile_files import Trap, exported_lenet, hostile_pt2, png_claiming, tree

from fooling.cli import main

HEN = Path(__file__).parent / "data" / "hen_256.png"
SHAPE = ["--input-shape", "1", "28", "28"]


@pytest.fixture(scope="module")
def files(lenet, tmp_path_factory):
    """The marker run and every hostile file the table names, by name."""
    folder = tmp_path_factory.mktemp("hostile")
    made = {"marker": folder / "marker", "hen": HEN}
    assert main(["evolve", "--generations", "2", "--population", "8", "--quiet",
                 "--out", str(made["marker"])]) == 0  # fmt: skip
    models = exported_lenet(copy.deepcopy(lenet.model), folder / "models")
    made["torchscript"] = models["torchscript"]
    made["evil_pt2"] = hostile_pt2(models["export"], folder / "evil.pt2", folder / "ran")
    damaged = bytearray(models["export"].read_bytes())
    made["damaged_pt2"] = folder / "damaged.pt2"
    made["damaged_pt2"].write_bytes(bytes(damaged[: len(damaged) // 2]))
    made["evil_pth"] = folder / "evil.pth"
    torch.save({"features.0.weight": Trap(folder / "ran")}, made["evil_pth"])
    made["big_png"] = png_claiming(100_000, 100_000, folder / "big.png")
    made["not_an_image"] = folder / "notes.png"
    made["not_an_image"].write_text("not a picture")
    made["a_file"] = folder / "a_file"
    made["a_file"].write_text("a user's file")
    made["labels_3"] = folder / "three.txt"
    made["labels_3"].write_text("a\nb\nc\n")
    made["empty_dir"] = folder / "empty"
    made["empty_dir"].mkdir()
    made["missing"] = folder / "missing"

    class OneAtATime(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.net(images).view(1, 10)  # fails for more than one image

    made["batch_one"] = folder / "batch_one.ts"
    net = copy.deepcopy(lenet.model).to(memory_format=torch.contiguous_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(OneAtATime(net)).save(made["batch_one"])
        made["onnx"] = folder / "lenet.onnx"
        torch.onnx.export(net, (torch.rand(2, 1, 28, 28),), made["onnx"], dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "n"}})  # fmt: skip
    made["run"] = folder / "run"  # a finished run for `transfer` to read
    shutil.copytree(made["marker"], made["run"])
    made["before"] = tree(made["marker"])
    return made


OUT = ["--out", "{marker}", "--force"]
EVOLVE = ["evolve", "--generations", "2", "--population", "8", *OUT]
ASCEND = ["ascend", "--steps", "2", *OUT]
ATTACK = ["adversarial", "--attack", "fgsm", "--eps", "0.1", "--count", "4", *OUT]
RESUME = ["evolve", "--out", "{marker}", "--resume", "--generations", "3"]
TRANSFER_B = ["transfer", "--to", "lenet-mnist-b", *OUT, "--"]  # then the run directories

CASES = {
    # evolve: numbers
    "population-0": ([*EVOLVE, "--population", "0"], "--population"),
    "population-negative": ([*EVOLVE, "--population", "-3"], "--population"),
    "population-word": ([*EVOLVE, "--population", "many"], "not an integer"),
    "population-huge": ([*EVOLVE, "--population", "10000000"], "1..1000000"),
    "population-float": ([*EVOLVE, "--population", "1e3"], "not an integer"),
    "generations-0": ([*EVOLVE, "--generations", "0"], "--generations"),
    "generations-huge": ([*EVOLVE, "--generations", "99999999999"], "1..1000000000"),
    "generations-nan": ([*EVOLVE, "--generations", "nan"], "not an integer"),
    "seed-negative": ([*EVOLVE, "--seed", "-1"], "--seed"),
    "seed-too-big": ([*EVOLVE, "--seed", str(2**64)], "--seed"),
    "checkpoint-every-0": ([*EVOLVE, "--checkpoint-every", "0"], "--checkpoint-every"),
    # evolve: names and classes
    "encoding-unknown": ([*EVOLVE, "--encoding", "genetic"], "genetic"),
    "class-out-of-range": ([*EVOLVE, "--classes", "10"], "out of range"),
    "class-unknown": ([*EVOLVE, "--classes", "eleven"], "eleven"),
    "class-repeated": ([*EVOLVE, "--classes", "3", "3"], "repeat"),
    "classifier-unknown": ([*EVOLVE, "--classifier", "alexnet-imaginary"], "unknown classifier"),
    "population-beyond-memory": (
        [*EVOLVE, "--classifier", "efficientnet-lite0", "--population", "1000000"],
        "GiB",
    ),
    # evolve: model files
    "pt2-with-pickle": ([*EVOLVE, "--classifier", "{evil_pt2}", *SHAPE], "pickled"),
    "pt2-damaged": ([*EVOLVE, "--classifier", "{damaged_pt2}", *SHAPE], "torch.export"),
    "model-one-image-at-a-time": ([*EVOLVE, "--classifier", "{batch_one}", *SHAPE], "batch of two"),
    "model-no-input-shape": ([*EVOLVE, "--classifier", "{torchscript}"], "--input-shape"),
    "model-wrong-input-shape": (
        [*EVOLVE, "--classifier", "{torchscript}", "--input-shape", "3", "32", "32"],
        "fails",
    ),
    "input-shape-zero": (
        [*EVOLVE, "--classifier", "{torchscript}", "--input-shape", "1", "0", "28"],
        "--input-shape",
    ),
    "input-shape-huge": (
        [*EVOLVE, "--classifier", "{torchscript}", "--input-shape", "1", "99999", "28"],
        "--input-shape",
    ),
    "model-is-an-image": ([*EVOLVE, "--classifier", "{hen}", *SHAPE], "TorchScript"),
    "probabilities-from-logits": (
        [*EVOLVE, "--classifier", "{torchscript}", *SHAPE, "--outputs", "probabilities"],
        "outside [0, 1]",
    ),
    "mean-nan": ([*EVOLVE, "--classifier", "{torchscript}", *SHAPE, "--mean", "nan"], "--mean"),
    "mean-too-many": (
        [*EVOLVE, "--classifier", "{torchscript}", *SHAPE, "--mean", "1", "2"],
        "2 values for 1 channels",
    ),
    "std-zero": ([*EVOLVE, "--classifier", "{torchscript}", *SHAPE, "--std", "0"], "zeros"),
    "labels-wrong-count": (
        [*EVOLVE, "--classifier", "{torchscript}", *SHAPE, "--labels", "{labels_3}"],
        "3 labels",
    ),
    "labels-missing": (
        [*EVOLVE, "--classifier", "{torchscript}", *SHAPE, "--labels", "{missing}"],
        "cannot read labels",
    ),
    "mean-for-built-in": ([*EVOLVE, "--mean", "0.5"], "built in"),
    "weights-with-pickle": ([*EVOLVE, "--weights", "{evil_pth}"], "more than tensors"),
    "weights-missing": ([*EVOLVE, "--weights", "{missing}"], "not found"),
    "weights-not-weights": ([*EVOLVE, "--weights", "{hen}"], "weights"),
    "weights-for-a-file": (
        [*EVOLVE, "--classifier", "{torchscript}", *SHAPE, "--weights", "{a_file}"],
        "--weights",
    ),
    # evolve: devices
    "device-unknown": ([*EVOLVE, "--device", "tpu"], "device"),
    "backend-unknown": ([*EVOLVE, "--backend", "tensorrt"], "--backend"),
    "device-absent-gpu": ([*EVOLVE, "--device", "cuda:7"], "cuda:7"),
    "device-mps": ([*EVOLVE, "--device", "mps"], "mps"),
    "device-second-cpu": ([*EVOLVE, "--device", "cpu:3"], "cpu:3"),
    # evolve: --out and --resume
    "out-empty": (["evolve", "--out", ""], "empty"),
    "out-is-a-file": (["evolve", "--out", "{a_file}"], "not a directory"),
    "out-under-a-file": (["evolve", "--out", "{a_file}/run"], "{a_file}"),
    "out-impossible": (["evolve", "--out", "/proc/fooling-run"], "/proc/fooling-run"),
    "resume-and-force": ([*RESUME, "--force"], "contradict"),
    "resume-nothing": (["evolve", "--out", "{empty_dir}", "--resume"], "no checkpoint"),
    "resume-other-population": ([*RESUME, "--population", "9"], "population"),
    "resume-other-encoding": ([*RESUME, "--encoding", "cppn"], "encoding"),
    "resume-other-classes": ([*RESUME, "--classes", "3"], "classes"),
    "resume-other-classifier": ([*RESUME, "--classifier", "{torchscript}", *SHAPE], "lenet"),
    # ascend
    "ascend-steps-0": ([*ASCEND, "--steps", "0"], "--steps"),
    "ascend-steps-huge": ([*ASCEND, "--steps", "1000000000000"], "--steps"),
    "ascend-lr-nan": ([*ASCEND, "--lr", "nan"], "--lr"),
    "ascend-lr-zero": ([*ASCEND, "--lr", "0"], "--lr"),
    "ascend-lr-huge": ([*ASCEND, "--lr", "1e9"], "--lr"),
    "ascend-l2-one": ([*ASCEND, "--l2", "1"], "--l2"),
    "ascend-l2-negative": ([*ASCEND, "--l2", "-0.1"], "--l2"),
    "ascend-blur-every-negative": ([*ASCEND, "--blur-every", "-1"], "--blur-every"),
    "ascend-blur-sigma-huge": ([*ASCEND, "--blur-sigma", "1e6"], "--blur-sigma"),
    "ascend-blur-sigma-inf": ([*ASCEND, "--blur-sigma", "inf"], "--blur-sigma"),
    "ascend-blur-wider-than-image": (
        [*ASCEND, "--param", "pixel", "--blur-every", "1", "--blur-sigma", "50"],
        "wider than",
    ),
    "ascend-threshold-2": ([*ASCEND, "--threshold", "2"], "--threshold"),
    "ascend-threshold-0": ([*ASCEND, "--threshold", "0"], "--threshold"),
    "ascend-start-unknown": ([*ASCEND, "--start", "nowhere"], "nowhere"),
    "ascend-black-box": ([*ASCEND, "--classifier", "{onnx}"], "black box"),
    "ascend-pt2-with-pickle": ([*ASCEND, "--classifier", "{evil_pt2}", *SHAPE], "pickled"),
    # adversarial
    "attack-unknown": ([*ATTACK, "--attack", "none"], "--attack"),
    "attack-eps-0": ([*ATTACK, "--eps", "0"], "--eps"),
    "attack-eps-nan": ([*ATTACK, "--eps", "nan"], "--eps"),
    "attack-eps-negative": ([*ATTACK, "--eps", "-1"], "--eps"),
    "attack-steps-0": ([*ATTACK, "--steps", "0"], "--steps"),
    "attack-count-0": ([*ATTACK, "--count", "0"], "--count"),
    "attack-count-huge": ([*ATTACK, "--count", "1000000"], "--count"),
    "attack-show-0": ([*ATTACK, "--show", "0"], "--show"),
    "attack-target-unknown": ([*ATTACK, "--targeted", "11"], "out of range"),
    "attack-huge-image": ([*ATTACK, "{big_png}"], "pixels"),
    "attack-missing-image": ([*ATTACK, "{missing}"], "no such image"),
    "attack-not-an-image": ([*ATTACK, "{not_an_image}"], "as an image"),
    "attack-imagenet-without-images": (
        [*ATTACK, "--classifier", "efficientnet-lite0"],
        "give IMAGE files",
    ),
    "attack-black-box": ([*ATTACK, "--classifier", "{onnx}", "{hen}"], "black box"),
    # figure1
    "figure1-seed-negative": (["figure1", "--seed", "-5", *OUT], "--seed"),
    "figure1-out-a-file": (["figure1", "--out", "{a_file}"], "not a directory"),
    # classify
    "classify-huge-image": (["classify", "{big_png}"], "pixels"),
    "classify-missing-image": (["classify", "{missing}"], "no such image"),
    "classify-not-an-image": (["classify", "--json", "{not_an_image}"], "as an image"),
    "classify-pt2-with-pickle": (
        ["classify", "--classifier", "{evil_pt2}", *SHAPE, "{hen}"],
        "pickled",
    ),
    "classify-no-image": (["classify"], "IMAGE"),
    # train
    "train-epochs-0": (["train", "lenet-mnist", "--epochs", "0", *OUT], "--epochs"),
    "train-epochs-huge": (["train", "lenet-mnist", "--epochs", "1000000000", *OUT], "--epochs"),
    "train-max-steps-0": (["train", "lenet-mnist", "--max-steps", "0", *OUT], "--max-steps"),
    "train-mnist-missing": (["train", "lenet-mnist", "--mnist", "{missing}", *OUT], "MNIST"),
    "train-mnist-empty": (["train", "lenet-mnist", "--mnist", "{empty_dir}", *OUT], "MNIST"),
    "train-out-a-file": (["train", "lenet-mnist", "--out", "{a_file}"], "not a directory"),
    "train-unknown-network": (["train", "alexnet", *OUT], "alexnet"),
    # demo
    "demo-population-0": (["demo", "--population", "0", *OUT], "--population"),
    "demo-generations-word": (["demo", "--generations", "ten", *OUT], "--generations"),
    "demo-classifier-unknown": (["demo", "--classifier", "nothing", *OUT], "unknown classifier"),
    "demo-out-empty": (["demo", "--out", ""], "empty"),
    # transfer
    "transfer-not-a-run": ([*TRANSFER_B, "{empty_dir}"], "no finished"),
    "transfer-a-file-as-run": ([*TRANSFER_B, "{a_file}"], "{a_file} is a file"),
    "transfer-labels-cannot-fit": (
        ["transfer", "{run}", "--to", "efficientnet-lite0", "--backend", "torch", *OUT],
        "no single class labelled",
    ),
    "transfer-target-missing": (["transfer", "{run}", "--to", "{missing}", *OUT], "unknown"),
    "transfer-target-pickle": (
        ["transfer", "{run}", "--to", "{evil_pt2}", *SHAPE, *OUT],
        "pickled",
    ),
    "transfer-no-target": (["transfer", "{run}", *OUT], "--to"),
    "transfer-out-is-the-run": (["transfer", "{marker}", "--to", "lenet-mnist", *OUT], "one of"),
    "transfer-show-0": (
        ["transfer", "{run}", "--to", "lenet-mnist-b", "--show", "0", *OUT],
        "argument --show: must be",
    ),
    # ablate
    "ablate-not-a-run": (["ablate", "{empty_dir}", *OUT], "no finished run"),
    "ablate-a-file-as-run": (["ablate", "{a_file}", *OUT], "cannot read"),
    "ablate-out-is-the-run": (["ablate", "{marker}", *OUT], "is the run being ablated"),
    "ablate-controls-0": (["ablate", "{marker}", "--controls", "0", *OUT], "--controls"),
    "ablate-max-steps-0": (["ablate", "{marker}", "--max-steps", "0", *OUT], "--max-steps"),
    "ablate-top-0": (["ablate", "{marker}", "--top", "0", *OUT], "--top"),
    "ablate-class-unknown": (["ablate", "{marker}", "--classes", "eleven", *OUT], "not among"),
    "ablate-classifier-unknown": (
        ["ablate", "{marker}", "--classifier", "alexnet-imaginary", *OUT],
        "unknown classifier",
    ),
    "ablate-pt2-with-pickle": (
        ["ablate", "{marker}", "--classifier", "{evil_pt2}", *SHAPE, *OUT],
        "pickled",
    ),
    "ablate-another-model": (
        ["ablate", "{marker}", "--classifier", "efficientnet-lite0", "--backend", "torch", *OUT],
        "another model",
    ),
    # the command line itself
    "no-command": ([], "command"),
    "unknown-command": (["fool"], "fool"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_loses_nothing(files, capfd, case):
    template, expected = CASES[case]
    argv = [part.format(**files) for part in template]
    capfd.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capfd.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert 1 <= len(lines) <= 3 and "Traceback" not in err, err
    assert expected.format(**files) in err, err
    assert tree(files["marker"]) == files["before"], "the marker run changed"
    assert not (files["marker"].parent / "ran").exists(), "a pickle ran"


def test_the_marker_run_still_resumes_after_the_battery(files, capfd, tmp_path):
    """The run every case aimed at is intact: a copy of it resumes to its end."""
    copy_of_marker = tmp_path / "copy"
    shutil.copytree(files["marker"], copy_of_marker)
    argv = ["evolve", "--out", str(copy_of_marker), "--resume", "--generations", "3", "--quiet"]
    assert main(argv) == 0
