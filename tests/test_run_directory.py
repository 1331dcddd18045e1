"""Runs on disk: written, read back and re-rendered exactly; claimed, never overwritten."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import fooling
from fooling.cli import COMMANDS, build_parser, main
from fooling.records import quantize, to_bytes
from fooling.runs.directory import RunDirectory


def rerendered(result: fooling.SearchResult) -> torch.Tensor:
    """The elites' images made again from their genomes by an encoding rebuilt from settings."""
    encoding = result.make_encoding()
    return to_bytes(quantize(encoding.render(result.genomes)))


@pytest.mark.parametrize("encoding", ["direct", "cppn"])
def test_a_saved_run_reads_back_and_its_genomes_render_its_pngs(tmp_path, encoding):
    out = tmp_path / "run"
    argv = ["evolve", "--encoding", encoding, "--generations", "25", "--population", "40"]
    assert main([*argv, "--seed", "3", "--out", str(out), "--quiet"]) == 0
    result = fooling.load_run(out)
    summary = json.loads((out / "summary.json").read_text())
    assert result.classes == list(range(10)) and result.encoding == encoding
    assert result.confidences.tolist() == [cell["confidence"] for cell in summary["classes"]]
    assert result.generations == 25 and len(result.history) == 26
    assert result.images.dtype == torch.uint8 and result.images.shape == (10, 1, 28, 28)
    assert torch.equal(rerendered(result), result.images)  # every pixel of every PNG


def test_colour_elites_render_their_pngs_too(efficientnet, tmp_path):
    for encoding in ("direct", "cppn"):
        result = fooling.evolve(
            efficientnet, encoding=encoding, generations=2, population=3, seed=0,
            classes=["hen", "goldfish"], progress=False,
        )  # fmt: skip
        result.save(tmp_path / encoding)
        loaded = fooling.load_run(tmp_path / encoding)
        assert loaded.images.shape == (2, 3, 224, 224)
        assert torch.equal(loaded.images, result.images)
        assert torch.equal(rerendered(loaded), loaded.images)
        assert loaded.labels == ["hen", "goldfish"]


def test_an_ascent_run_reads_back_with_its_pixels(lenet, tmp_path):
    result = fooling.ascend(lenet, steps=20, classes=[2, 5], progress=False, out=tmp_path / "a")
    loaded = fooling.load_run(tmp_path / "a")
    assert loaded.method == "ascend" and loaded.encoding is None
    assert torch.equal(loaded.images, result.images)
    assert torch.equal(to_bytes(loaded.genomes["pixels"].clone()), loaded.images)
    with pytest.raises(fooling.FoolingError, match="no encoding"):
        loaded.make_encoding()


def test_a_run_saved_before_genomes_were_kept_still_reads(lenet, tmp_path):
    result = fooling.evolve(lenet, generations=3, population=10, progress=False)
    result.save(tmp_path / "old")
    (tmp_path / "old" / "elites.safetensors").unlink()
    loaded = fooling.load_run(tmp_path / "old")
    assert loaded.genomes is None and torch.equal(loaded.images, result.images)
    assert loaded.confidences.tolist() == pytest.approx(result.confidences.tolist())


def test_reading_what_is_not_a_run_is_one_clear_error(tmp_path):
    with pytest.raises(fooling.FoolingError, match="no finished run"):
        fooling.load_run(tmp_path)
    (tmp_path / "summary.json").write_text("[1, 2]")
    with pytest.raises(fooling.FoolingError, match="not a run summary"):
        fooling.load_run(tmp_path)
    (tmp_path / "summary.json").write_text('{"classes": [{"index": 0}]}')
    with pytest.raises(fooling.FoolingError, match="cannot read the run"):
        fooling.load_run(tmp_path)


def test_saving_over_a_run_needs_force(lenet, tmp_path):
    result = fooling.evolve(lenet, generations=2, population=5, progress=False)
    result.save(tmp_path / "run")
    with pytest.raises(fooling.FoolingError, match="--force"):
        result.save(tmp_path / "run")
    (tmp_path / "run" / "mine.txt").write_text("kept")
    result.save(tmp_path / "run", force=True)
    assert (tmp_path / "run" / "mine.txt").read_text() == "kept"


def test_pages_come_from_the_writer_handed_in_and_the_api_hands_one(lenet, tmp_path):
    from fooling.search import evolve as bare_evolve

    pages = {"gallery.html", "plots"}
    bare = bare_evolve(lenet, generations=2, population=5, progress=False, out=tmp_path / "bare")
    assert not pages & {path.name for path in (tmp_path / "bare").iterdir()}
    assert fooling.write_pages(bare, tmp_path / "bare") == tmp_path / "bare" / "gallery.html"
    assert pages <= {path.name for path in (tmp_path / "bare").iterdir()}
    fooling.evolve(lenet, generations=2, population=5, progress=False, out=tmp_path / "api")
    assert pages <= {path.name for path in (tmp_path / "api").iterdir()}
    saved = bare.save(tmp_path / "saved", pages=fooling.write_pages)
    assert saved == tmp_path / "saved" / "gallery.html"
    with pytest.raises(fooling.FoolingError, match="no pages for a dict"):
        fooling.write_pages({}, tmp_path / "saved")


# ------------------------------------------------------------ the CLI convention
WRITERS = [name for name in COMMANDS if name != "classify"]


@pytest.mark.parametrize("command", WRITERS)
def test_every_command_that_writes_has_out_force_quiet_and_seed(command):
    required = {"train": ["lenet-mnist"], "adversarial": ["--attack", "pgd", "--eps", "0.1"],
                "transfer": ["runs/evolve", "--to", "lenet-mnist-b"],
                "ablate": ["runs/evolve"], "reproduce": ["mnist"],
                "detect": ["runs/evolve"]}  # fmt: skip
    args = build_parser().parse_args([command, *required.get(command, [])])
    assert str(args.out) == f"runs/{command}"  # the same default everywhere
    for option in ("out", "force", "quiet"):
        assert hasattr(args, option), option
    # transfer and detect draw nothing at random; reproduce runs the paper's seeds
    assert hasattr(args, "seed") == (command not in ("transfer", "reproduce", "detect"))
    assert callable(args.run)


EXISTING_RUN = {
    "figure1": ["figure1"],
    "train": ["train", "lenet-mnist", "--max-steps", "1"],
    "ascend": ["ascend", "--steps", "1"],
    "adversarial": ["adversarial", "--attack", "fgsm", "--eps", "0.1", "--count", "2"],
    "evolve": ["evolve", "--generations", "1", "--population", "2"],
    "demo": ["demo", "--generations", "1", "--population", "2"],
    "transfer": ["transfer", "{source}", "--to", "lenet-mnist-b"],  # reads another run
    "ablate": ["ablate", "{source}"],  # reads another run
    "retrain": ["retrain", "--quick", "--iterations", "1"],  # refused before any work
    "study": ["study", "{source}"],  # reads another run
    "reproduce": ["reproduce", "mnist", "--quick"],  # refused before any step
    "audit": ["audit", "--classifier", "lenet-mnist-b"],  # refused before any step
    "detect": [
        "detect",
        "{source}",
        "--threshold",
        "1e-30",
        "--detectors",
        "msp",
        "--fit-count",
        "100",
        "--held-out-count",
        "20",
    ],  # refused before fitting
}


@pytest.mark.parametrize("command", WRITERS)
def test_no_command_writes_over_a_run(command, tmp_path, capsys):
    run = tmp_path / "run"
    argv = [part.format(source=tmp_path / "source") for part in EXISTING_RUN[command]]
    argv += ["--out", str(run), "--quiet"]
    fooling.evolve("lenet-mnist", generations=1, population=2, progress=False, out=run)
    shutil.copytree(run, tmp_path / "source")
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds a run" in err[0] and "--force" in err[0]
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before


def test_train_writes_a_run_directory_that_weights_can_name(tmp_path, capsys):
    out = tmp_path / "lenet"
    argv = ["train", "lenet-mnist", "--max-steps", "20", "--seed", "1", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "train" and summary["recipe"]["max_steps"] == 20
    assert 0.3 < summary["test_accuracy"] <= 1
    capsys.readouterr()
    result = fooling.evolve("lenet-mnist", generations=1, population=4, progress=False)
    result.save(tmp_path / "r")
    image = tmp_path / "r" / "images" / "000_0.png"
    assert main(["classify", "--weights", str(out), "--json", str(image)]) == 0
    shipped = json.loads(capsys.readouterr().out)[0]["predictions"]
    assert main(["classify", "--json", str(image)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["predictions"] != shipped  # other weights


def test_adversarial_seed_repeats_pgd_and_another_seed_moves_it(tmp_path, capsys):
    base = ["adversarial", "--attack", "pgd", "--eps", "0.15", "--count", "30", "--steps", "10"]
    rates = []
    for name, seed in (("a", "4"), ("b", "4"), ("c", "5")):
        assert main([*base, "--seed", seed, "--out", str(tmp_path / name), "--quiet"]) == 0
        items = json.loads((tmp_path / name / "summary.json").read_text())["items"]
        rates.append([(item["linf"], item["l2"]) for item in items])
    capsys.readouterr()
    assert rates[0] == rates[1]  # PGD starts at a random point: the seed fixes it
    assert rates[0] != rates[2]


def test_help_loads_neither_matplotlib_nor_foolbox():
    script = (
        "import sys\nfrom fooling.cli import main\n"
        "for argv in (['--help'], ['classify', '--help'], ['evolve', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'foolbox'}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=120, check=True)  # fmt: skip
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_ctrl_c_stops_training_with_one_line_and_no_weights(tmp_path):
    out = tmp_path / "train"
    process = subprocess.Popen(
        [sys.executable, "-m", "fooling", "train", "lenet-mnist", "--out", str(out), "--quiet"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not out.is_dir():  # claimed: the command is running
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip() == "fooling: interrupted; train stopped"
    assert not (out / "weights.safetensors").exists() and not (out / "summary.json").exists()


def test_run_directory_names_what_a_run_holds(tmp_path):
    directory = RunDirectory(tmp_path / "new")
    assert directory.run_files() == []
    with pytest.raises(fooling.FoolingError, match="no checkpoint"):
        directory.resumable()
    directory.claim()
    directory.write_summary({"method": "test"})
    assert directory.run_files() == ["summary.json"]
    assert directory.read_summary() == {"method": "test"}
    (tmp_path / "file").write_text("")
    with pytest.raises(fooling.FoolingError, match="not a directory"):
        RunDirectory(tmp_path / "file").claim()


OLD_RUN = Path(__file__).parent / "data" / "run-0.1.0"  # made by `fooling evolve` of 0.1.0


def test_a_run_made_by_release_0_1_0_loads_and_resumes_as_if_never_stopped(tmp_path):
    """`fooling evolve --encoding cppn --classes 3 7 --generations 4 --population 8
    --checkpoint-every 2 --seed 5`, written before runs/ became a package of its own."""
    lenet = fooling.load_classifier("lenet-mnist", "cpu", backend="torch")  # as it was made
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    summary = json.loads((run / "summary.json").read_text())
    loaded = fooling.load_run(run)
    assert loaded.generations == 4 and loaded.classes == [3, 7]
    assert loaded.confidences.tolist() == [cell["confidence"] for cell in summary["classes"]]
    resumed = fooling.resume(run, generations=6, classifier=lenet, progress=False)
    straight = fooling.evolve(lenet, encoding="cppn", classes=[3, 7], generations=6,
                              population=8, seed=5, progress=False)  # fmt: skip
    # the first 4 generations were scored by whichever backend won this machine's race then
    # (torch or OpenVINO, which differ in the last bits): the same elites, to within those
    assert torch.allclose(resumed.confidences, straight.confidences, rtol=1e-5, atol=0)
    assert torch.equal(resumed.images, straight.images)
