"""The experiments' work on Ray workers (`fooling.distributed.pool`): the same results as in one
process, on a real local cluster of 2 CPUs bound to 127.0.0.1."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from test_cli_errors import fails_with_one_line

import fooling
from fooling.cli import main
from fooling.errors import FoolingError
from fooling.experiments.gather import gather
from fooling.runs.state import load_state, save_state
from fooling.search.evolution import CHECKPOINT_FILE, CHECKPOINT_FORMAT

ray = pytest.importorskip("ray")
from fooling.distributed.pool import Workers, ordered_map  # noqa: E402
from fooling.search.islands import evolve_islands  # noqa: E402


def square_with_pid(context, item):
    return context * item * item, os.getpid()


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests


def test_results_come_in_order_and_a_killed_worker_is_restarted(ray_cluster):
    results = ordered_map(square_with_pid, 2, range(8), workers=2)
    first, pid = next(results)
    os.kill(pid, signal.SIGKILL)
    rest = list(results)
    assert [first, *[value for value, _ in rest]] == [2 * item * item for item in range(8)]
    assert pid not in {worker for _, worker in rest[2:]}  # its items went to a new process


def test_kept_workers_serve_several_maps_each_with_its_own_context(ray_cluster):
    with Workers(2) as kept:
        first = list(ordered_map(square_with_pid, 2, range(6), workers=kept))
        stopped = ordered_map(square_with_pid, 5, range(100), workers=kept)
        next(stopped)
        stopped.close()  # early: the workers stay for the next map
        second = list(ordered_map(square_with_pid, 3, range(6), workers=kept))
    assert [value for value, _ in first] == [2 * item * item for item in range(6)]
    assert [value for value, _ in second] == [3 * item * item for item in range(6)]
    assert {pid for _, pid in second} <= {pid for _, pid in first}  # started once


def test_gathering_on_two_workers_finds_the_same_images_as_one_process(ray_cluster, lenet):
    options = {"classes": list(range(10)), "generations": 8, "population": 40, "progress": False}
    here = gather(lenet, 45, **options)
    spread = gather(lenet, 45, workers=2, **options)
    assert torch.equal(here.images, spread.images) and torch.equal(here.classes, spread.classes)
    assert (here.searches, here.evaluations) == (spread.searches, spread.evaluations)


@pytest.fixture(scope="module")
def run(lenet, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pool") / "cppn"
    fooling.evolve(lenet, encoding="cppn", generations=10, population=40, progress=False,
                   out=folder)  # fmt: skip
    return folder


def test_transfer_on_two_workers_gives_the_same_table(ray_cluster, run, tmp_path, capsys):
    argv = ["transfer", str(run), "--to", "lenet-mnist-b", "lenet-mnist", "--quiet", "--out"]
    assert main([*argv, str(tmp_path / "here")]) == 0
    assert main([*argv, str(tmp_path / "spread"), "--workers", "2"]) == 0
    here, spread = (json.loads((tmp_path / name / "summary.json").read_text())
                    for name in ("here", "spread"))  # fmt: skip
    assert here["table"] == spread["table"] and len(spread["table"]) == 2


def test_more_workers_than_the_cluster_has_cpus_is_refused_not_a_hang(ray_cluster, lenet):
    encoding = fooling.encodings.make_encoding("cppn", lenet.input_shape)
    evolution = fooling.search.evolution.Evolution(lenet, encoding, population=10)
    with pytest.raises(FoolingError, match="3 workers need 3 CPUs and the Ray cluster has 2"):
        evolve_islands(evolution, 5, workers=3)


def test_without_ray_more_workers_is_one_line_saying_how_to_install_it(tmp_path):
    out = tmp_path / "run"
    code = (
        "import sys; sys.modules['ray'] = None; from fooling.cli import main; "
        f"sys.exit(main(['evolve', '--workers', '2', '--generations', '3', '--out', {str(out)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == 'fooling: error: --workers needs Ray: pip install "fooling[ray]"'
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["evolve", "--workers", "0"], "--workers: must be"),
        (["evolve", "--workers", "2", "--migrate-every", "0"], "--migrate-every: must be"),
        (["evolve", "--address", "auto"], "--address is the Ray cluster of --workers N > 1"),
        (["evolve", "--workers", "2", "--address", "127.0.0.1:1"], "no Ray cluster answers"),
        (["evolve", "--workers", "2", "--address", "nowhere"], "must be auto or HOST:PORT"),
        (["evolve", "--migrate-every", "5"], "--migrate-every is for the islands of --workers"),
        (["retrain", "--address", "auto", "--quick"], "--address is the Ray cluster"),
        (["transfer", "RUN", "--to", "lenet-mnist-b", "--workers", "-1"], "--workers: must be"),
    ],
)
def test_bad_worker_options_are_one_line(capsys, tmp_path, argv, match):
    out = tmp_path / "out"
    fails_with_one_line(capsys, [*argv, "--out", str(out)], match)
    assert not out.exists()


def test_a_resumed_run_keeps_its_workers(ray_cluster, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["evolve", "--workers", "2", "--population", "20", "--generations", "6", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    before = (out / "summary.json").read_bytes()
    resume = ["evolve", "--resume", "--generations", "9", "--out", str(out), "--quiet"]
    fails_with_one_line(capsys, [*resume, "--workers", "3"], "has 2 workers, not 3")
    fails_with_one_line(capsys, [*resume, "--migrate-every", "2"], "comes from its checkpoint")
    assert (out / "summary.json").read_bytes() == before
    checkpoint = out / "checkpoint" / CHECKPOINT_FILE
    state = load_state(checkpoint, kind=CHECKPOINT_FORMAT)
    state["islands"]["evaluations"] = torch.zeros(3, dtype=torch.long)  # 2 islands, 3 counts
    save_state(checkpoint, state, kind=CHECKPOINT_FORMAT)
    fails_with_one_line(capsys, resume, "damaged island state: not one evaluation count")
    assert (out / "summary.json").read_bytes() == before
    single = tmp_path / "single"
    assert main(["evolve", "--population", "20", "--generations", "6", "--quiet", "--out",
                 str(single)]) == 0  # fmt: skip
    fails_with_one_line(capsys, ["evolve", "--resume", "--generations", "9", "--out",
                                 str(single), "--workers", "2"], "ran in one process")  # fmt: skip
