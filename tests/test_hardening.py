"""Issue 9, item by item: what a hostile or careless user tried, and what must hold.

Each test makes its own hostile files (see `hostile_files`). The table of bad
inputs for every command is in `test_hostile_inputs.py`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hostile_files import Trap, exported_lenet, forge_checkpoint, hostile_pt2, tree
from safetensors.torch import load_file, save_file

import fooling
from fooling.classifiers import Classifier, load_classifier
from fooling.classifiers.lenet import shipped_weights_path
from fooling.cli import main
from fooling.errors import FoolingError
from fooling.records import atomic_write_text
from fooling.runs.directory import MARKER, RunDirectory
from fooling.user_files import no_unpickling

EVOLVE = ["evolve", "--generations", "2", "--population", "8", "--quiet"]
HEN = Path(__file__).parent / "data" / "hen_256.png"


def run(capfd, argv) -> tuple[int, str]:
    """The exit code and stderr of one command, run in this process."""
    capfd.readouterr()
    try:
        code = main([str(part) for part in argv])
    except SystemExit as exit_:
        code = exit_.code
    return code, capfd.readouterr().err


def one_line(code: int, err: str, match: str, status: int = 2) -> None:
    assert code == status, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert match in err, err


@pytest.fixture(scope="module")
def models(lenet, tmp_path_factory):
    return exported_lenet(copy.deepcopy(lenet.model), tmp_path_factory.mktemp("models"))


# 1 ------------------------------------------------------------- model files never run code
def test_a_pt2_with_a_pickle_inside_is_refused_by_every_command(models, tmp_path, capfd):
    marker = tmp_path / "ran"
    evil = hostile_pt2(models["export"], tmp_path / "evil.pt2", marker)
    shape = ["--input-shape", "1", "28", "28"]
    for argv in (
        ["classify", "--classifier", evil, *shape, HEN],
        [*EVOLVE, "--classifier", evil, *shape, "--out", tmp_path / "evolve"],
        ["ascend", "--classifier", evil, *shape, "--steps", "2", "--out", tmp_path / "ascend"],
    ):
        one_line(*run(capfd, argv), "holds pickled Python objects")
        assert not marker.exists()
    # the file is truly hostile: torch.export.load alone runs its pickle
    with contextlib.suppress(Exception):
        torch.export.load(evil)
    assert marker.exists()
    # and the same model, saved properly, loads
    assert load_classifier(str(models["export"]), "cpu", input_shape=(1, 28, 28)).num_classes == 10


def test_no_unpickling_refuses_every_pickle_that_names_a_global(tmp_path):
    marker = tmp_path / "ran"
    with (
        pytest.raises(FoolingError, match=r"pickled Python objects \(\w+\.mkdir\)"),
        no_unpickling("payload"),
    ):
        pickle.loads(pickle.dumps(Trap(marker)))
    assert not marker.exists()
    assert pickle.loads(pickle.dumps({"outside": [1]})) == {"outside": [1]}  # only when asked


def test_weights_that_hide_a_pickle_are_refused(tmp_path, capfd):
    marker, weights = tmp_path / "ran", tmp_path / "evil.pth"
    torch.save({"features.0.weight": Trap(marker)}, weights)
    one_line(*run(capfd, [*EVOLVE, "--weights", weights, "--out", tmp_path / "r"]), "more than")
    assert not marker.exists()


# 2 ---------------------------------------------------- --force deletes only a run's own files
def test_force_never_deletes_from_a_folder_fooling_did_not_make(tmp_path, capfd):
    album = tmp_path / "album"
    (album / "images").mkdir(parents=True)
    (album / "images" / "holiday.jpg").write_bytes(b"a summer")
    (album / "plots").mkdir()
    (album / "plots" / "garden.png").write_bytes(b"a plan")
    before = tree(album)
    code, err = run(capfd, [*EVOLVE, "--out", album, "--force"])
    one_line(code, err, "not a fooling run directory")
    assert tree(album) == before and not (album / MARKER).exists()


def test_force_replaces_a_run_and_keeps_what_else_is_there(tmp_path, capfd):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0
    (out / "notes.txt").write_text("mine")
    assert run(capfd, [*EVOLVE, "--seed", "1", "--out", out, "--force"])[0] == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["seed"] == 1


def test_force_still_replaces_runs_written_before_the_marker(tmp_path, capfd):
    out = tmp_path / "demo"
    demo = ["demo", "--generations", "2", "--population", "8", "--quiet", "--out", out]
    assert run(capfd, demo)[0] == 0
    for marker in out.rglob(MARKER):  # as the version before markers left it
        marker.unlink()
    assert run(capfd, [*demo, "--force"])[0] == 0
    assert (out / MARKER).exists() and (out / "direct" / MARKER).exists()


# 3 --------------------------------------------------------------------- no writing through links
def test_resume_refuses_a_link_in_a_run(tmp_path, capfd):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    image = sorted((out / "images").iterdir())[0]
    image.unlink()
    image.symlink_to(victim)
    resume = [*EVOLVE, "--out", out, "--resume", "--generations", "4"]
    one_line(*run(capfd, resume), "is a symbolic link")
    image.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(out / "plots")
    (out / "plots").symlink_to(elsewhere)
    one_line(*run(capfd, resume), "is a symbolic link")
    assert victim.read_bytes() == b"precious" and not list(elsewhere.iterdir())


def test_an_atomic_write_replaces_a_link_and_never_writes_through_it(tmp_path):
    victim, link = tmp_path / "victim", tmp_path / "summary.json"
    victim.write_text("precious")
    link.symlink_to(victim)
    atomic_write_text(link, "{}")
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() == "{}"


# 4 ------------------------------------------------------------------ checkpoints are verified
def test_every_bit_flip_in_a_checkpoint_is_refused(tmp_path, capfd):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0
    checkpoint = out / "checkpoint" / "state.safetensors"
    original = checkpoint.read_bytes()
    resume = [*EVOLVE, "--out", out, "--resume", "--generations", "3"]
    draw = random.Random(0)
    for _ in range(40):
        damaged = bytearray(original)
        damaged[draw.randrange(len(damaged))] ^= 1 << draw.randrange(8)
        checkpoint.write_bytes(bytes(damaged))
        code, err = run(capfd, resume)
        one_line(code, err, "checkpoint")
    checkpoint.write_bytes(original)
    assert run(capfd, resume)[0] == 0


def _confidence(value: float):
    def change(tensors, data):
        tensors["archive.confidence"][0] = value

    return change


def _class_out_of_range(tensors, data):
    tensors["archive.classes"][-1] = 99
    data["settings"]["classes"][-1] = 99


def _found_later(tensors, data):
    tensors["archive.found_at"][0] = 10**6


def _history_nan(tensors, data):
    tensors["history"][0, 4] = float("nan")


@pytest.mark.parametrize(
    ("change", "match"),
    [(_confidence(2.0), "probabilities"), (_confidence(float("nan")), "probabilities"),
     (_class_out_of_range, "out of range"), (_found_later, "after its last generation"),
     (_history_nan, "history")],
    ids=["confidence-2", "confidence-nan", "class-99", "found-later", "history-nan"],
)  # fmt: skip
def test_a_forged_checkpoint_out_of_range_is_refused(tmp_path, capfd, change, match):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0
    forge_checkpoint(out / "checkpoint" / "state.safetensors", change)
    one_line(*run(capfd, [*EVOLVE, "--out", out, "--resume", "--generations", "3"]), match)


def test_a_summary_is_always_valid_json(tmp_path, capfd):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0

    def refuse(constant):
        raise ValueError(f"{constant} in summary.json")

    json.loads((out / "summary.json").read_text(), parse_constant=refuse)
    with pytest.raises(ValueError):
        RunDirectory(out).write_summary({"median_confidence": float("nan")})


# 5 --------------------------------------------------------- resume checks the model is the same
def test_resume_refuses_other_weights_for_a_built_in(tmp_path, capfd):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0
    weights = load_file(shipped_weights_path())
    weights["classifier.3.bias"] = weights["classifier.3.bias"] + 0.01
    save_file(weights, tmp_path / "other.safetensors")
    resume = [*EVOLVE, "--out", out, "--resume", "--generations", "4"]
    one_line(*run(capfd, [*resume, "--weights", tmp_path / "other.safetensors"]), "weights")
    assert run(capfd, resume)[0] == 0


def test_resume_refuses_another_file_or_preprocessing_for_a_model_file(lenet, tmp_path, capfd):
    folder = tmp_path / "models"
    model = exported_lenet(copy.deepcopy(lenet.model), folder)["torchscript"]
    out = tmp_path / "run"
    shape = ["--classifier", model, "--input-shape", "1", "28", "28"]
    assert run(capfd, [*EVOLVE, *shape, "--out", out])[0] == 0
    resume = [*EVOLVE, *shape, "--out", out, "--resume", "--generations", "4"]
    one_line(*run(capfd, [*resume, "--mean", "0.1"]), "mean")
    one_line(*run(capfd, [*resume, "--outputs", "probabilities"]), "outputs")
    other = copy.deepcopy(lenet.model)
    with torch.no_grad():
        other.classifier[3].bias += 0.01
    exported_lenet(other, folder)  # another file under the same name
    one_line(*run(capfd, resume), "weights")


# 6 ---------------------------------------------------------------------- a run directory is locked
def test_a_run_directory_in_use_is_refused_and_left_alone(tmp_path, capfd):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0
    before = tree(out)
    with RunDirectory(out).resumable():  # as another process's run would hold it
        one_line(*run(capfd, [*EVOLVE, "--out", out, "--force"]), "in use")
        one_line(*run(capfd, [*EVOLVE, "--out", out, "--resume", "--generations", "4"]), "in use")
    assert tree(out) == before
    assert run(capfd, [*EVOLVE, "--out", out, "--resume", "--generations", "4"])[0] == 0


def test_a_killed_process_leaves_no_lock_behind(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom fooling.runs.directory import RunDirectory\n"
         "held = RunDirectory(sys.argv[1]).claim()\nprint('claimed', flush=True)\ntime.sleep(120)",
         str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "claimed"
        with pytest.raises(FoolingError, match="in use"):
            RunDirectory(out).claim()
    finally:
        holder.kill()  # SIGKILL: no clean-up runs
        holder.wait()
    with RunDirectory(out).claim() as directory:
        assert directory.path == out


# 7 ------------------------------------------------------------------ model outputs are checked
def test_infinite_logits_are_an_error_not_a_result(lenet):
    def blows_up(images):
        scores = lenet.model(images)
        return scores.masked_fill(images.flatten(1)[:, :1] > 0.5, float("inf"))

    classifier = Classifier(blows_up, input_shape=(1, 28, 28), labels=lenet.labels)
    with pytest.raises(FoolingError, match="NaN or infinite"):
        fooling.evolve(classifier, generations=3, population=20, progress=False)


def test_probabilities_outside_0_1_are_refused(models, capfd, tmp_path):
    logits = ["--classifier", models["torchscript"], "--input-shape", "1", "28", "28"]
    code, err = run(capfd, [*EVOLVE, *logits, "--outputs", "probabilities", "--out", tmp_path])
    one_line(code, err, "outside [0, 1]")


# 8 -------------------------------------------------------------------- failures are one line
def _fooling(argv, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fooling", *map(str, argv)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options,
    )  # fmt: skip


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    process = _fooling([*EVOLVE, "--out", tmp_path / "run"])
    time.sleep(0.4)  # importing torch
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_ctrl_c_inside_code_run_by_exec_still_exits_130(tmp_path):
    # dataclasses builds methods with exec(string); a Ctrl-C there made `python -m` exit by SIGINT
    script = tmp_path / "interrupted.py"
    script.write_text(
        "import sys\n"
        "from fooling.interrupt import InterruptAnywhere\n"
        "def main():\n"
        "    try:\n"
        "        with InterruptAnywhere():\n"
        "            exec('raise KeyboardInterrupt')\n"
        "    except KeyboardInterrupt:\n"
        "        return 130\n"
        "sys.exit(main())\n"
    )
    finished = subprocess.run(
        [sys.executable, "-m", "interrupted"], cwd=tmp_path, capture_output=True, text=True
    )
    assert finished.returncode == 130, finished.stderr


def test_a_ctrl_c_python_drops_in_a_callback_stops_the_next_loop(monkeypatch):
    import weakref

    from fooling.interrupt import InterruptAnywhere, StopOnInterrupt

    printed = []  # what Python would print as "Exception ignored in ..."
    monkeypatch.setattr(sys, "unraisablehook", printed.append)

    class Module:
        pass

    with pytest.raises(KeyboardInterrupt), InterruptAnywhere() as anywhere:
        module = Module()
        # Ctrl-C landing in the callback: its handler runs there (a real SIGINT raised in this
        # process crashed pytest after a compiled model had been unpickled; see test_backends)
        weakref.finalize(module, anywhere._handle, signal.SIGINT, None)
        del module  # the callback is interrupted, and Python drops that
        with StopOnInterrupt():
            pytest.fail("the loop started although Ctrl-C was pressed")
    assert printed == []


def test_ctrl_c_while_the_report_is_written_loses_nothing(tmp_path, capfd, monkeypatch):
    import fooling.report.search_report as report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(report, "write_report", interrupted)
    one_line(*run(capfd, [*EVOLVE, "--out", out]), "interrupted", status=130)
    monkeypatch.undo()
    assert run(capfd, [*EVOLVE, "--out", out, "--resume"])[0] == 0
    assert json.loads((out / "summary.json").read_text())["generations"] == 2


def test_a_full_disk_is_one_line_and_leaves_no_half_files(tmp_path):
    import resource

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, 16_384))

    out = tmp_path / "run"
    process = _fooling([*EVOLVE, "--out", out], preexec_fn=small_files)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "File too large" in err
    left = [path for path in out.rglob("*") if path.is_file() and path.name != MARKER]
    assert all(path.stat().st_size > 0 and not path.name.endswith(".tmp") for path in left), left


# 9 --------------------------------------------------------------- no leftovers, no contradictions
def test_temporary_files_of_a_crash_are_removed_on_resume(tmp_path, capfd):
    out = tmp_path / "run"
    assert run(capfd, [*EVOLVE, "--out", out])[0] == 0
    stale = out / "checkpoint" / ".state.safetensors.4242.0badcafe.tmp"
    stale.write_bytes(b"half a checkpoint")
    inner = out / "checkpoint" / ".tmpn9jiZi"  # safetensors writes through one of its own
    inner.write_bytes(b"the other half")
    assert run(capfd, [*EVOLVE, "--out", out, "--resume", "--generations", "3"])[0] == 0
    assert not stale.exists() and not inner.exists()


def test_after_a_failed_first_run_both_messages_agree(tmp_path, capfd, monkeypatch):
    def interrupted(self):  # Ctrl-C twice in generation 0: no checkpoint yet
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(fooling.Evolution, "step", interrupted)
    one_line(*run(capfd, [*EVOLVE, "--out", out]), "interrupted", status=130)
    monkeypatch.undo()
    code, err = run(capfd, [*EVOLVE, "--out", out])
    one_line(code, err, "pass --force to replace it")
    assert "--resume" not in err
    one_line(*run(capfd, [*EVOLVE, "--out", out, "--resume"]), "start it again with --force")
    assert run(capfd, [*EVOLVE, "--out", out, "--force"])[0] == 0


def test_a_plot_that_fails_half_way_leaves_the_old_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from fooling.report.plots import save_figure

    path = tmp_path / "plots" / "confidence.png"
    path.parent.mkdir()
    path.write_bytes(b"the old plot")

    def half_written(self, target, **options):
        target.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError):
        save_figure(Figure(), path)
    assert path.read_bytes() == b"the old plot" and os.listdir(path.parent) == [path.name]
