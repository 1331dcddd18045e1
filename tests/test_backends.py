"""CPU backends: the real LeNet and EfficientNet-Lite0 compiled by OpenVINO and ONNX Runtime."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import fooling
from fooling.classifiers import Classifier, backends, load_classifier
from fooling.cli import main
from fooling.errors import FoolingError
from fooling.user_files import read_image


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache, so that a test sees exports happen (or not)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "fooling" / "backends"


def lenet_on(backend: str, **options) -> Classifier:
    return load_classifier("lenet-mnist", "cpu", backend=backend, **options)


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_a_backend_agrees_with_torch_and_runs(backend):
    torch_lenet, compiled = lenet_on("torch"), lenet_on(backend)
    assert compiled.backend == backend and compiled.precision == "fp32"
    images = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    expected = torch_lenet(images)
    assert (compiled(images) - expected).abs().max() <= backends.AGREEMENT
    assert torch.equal(compiled(images).argmax(dim=1), expected.argmax(dim=1))
    assert compiled.identity()["backend"] == backend


def test_two_preparations_of_one_model_at_once_race_it_once(fresh_cache, monkeypatch):
    """The second waits on the cache's lock, then finds the first one's races there.

    (Threads meet the lock too. Without it, two exports of one model at once failed
    here, and both fell back to torch.)
    """
    monkeypatch.setattr(backends, "RACE_IMAGES", 20)
    real, running, seen = backends._best_seconds, [0], []

    def watched(*forwards, **options):
        running[0] += 1
        seen.append(running[0])  # how many races run now, this one included
        try:
            time.sleep(0.2)  # time for the other thread to begin one, were it free to
            return real(*forwards, **options)
        finally:
            running[0] -= 1

    monkeypatch.setattr(backends, "_best_seconds", watched)
    with ThreadPoolExecutor(2) as pool:  # (a lock of the cache's is a file: threads meet it too)
        first, second = pool.map(lambda _: lenet_on("auto"), range(2))
    assert seen and max(seen) == 1  # never two races at once
    assert len(seen) == len(list(fresh_cache.glob("race-*.json")))  # each raced once
    assert first.backend == second.backend


def test_auto_races_once_and_remembers(fresh_cache, monkeypatch):
    """EfficientNet-Lite0 runs about 7x faster on OpenVINO here; the race is kept."""
    monkeypatch.setattr(backends, "RACE_IMAGES", 20)  # a real race, on a tenth of the batch
    assert load_classifier("efficientnet-lite0", "cpu", backend="auto").backend == "openvino"
    races = {path: json.loads(path.read_text()) for path in fresh_cache.glob("race-*.json")}
    (against_torch,) = [path for path, race in races.items() if "torch-fp32" in race["seconds"]]
    seconds = races[against_torch]["seconds"]
    (compiled,) = [name for name in seconds if name != "torch-fp32"]
    assert seconds[compiled] * backends.TORCH_MARGIN < seconds["torch-fp32"]
    # on a CPU with bf16, bf16 raced OpenVINO's fp32 too
    assert len(races) == (2 if backends.cpu_has_bf16() else 1)
    # as if torch had been a little slower only: not by the margin, so no new race, and torch
    slower = {compiled: 1.0, "torch-fp32": 0.99 * backends.TORCH_MARGIN}
    against_torch.write_text(json.dumps({"seconds": slower}))
    assert load_classifier("efficientnet-lite0", "cpu", backend="auto").backend == "torch"
    assert lenet_on("torch").backend == "torch"


@pytest.mark.parametrize(
    ("slow_per_image", "images_timed"), [(8.0, 25), (1.5, 200), (0.7, 200), (0.5, 25)]
)
def test_a_race_ends_after_a_slice_of_the_batch_only_where_one_side_leads_by_far(
    monkeypatch, slow_per_image, images_timed
):
    """The verdict is 1.25; a lead of 2x over it (above 2.5 or below 0.625) ends the race."""
    lenet = lenet_on("torch")
    seen = []

    def fast(images):
        seen.append(len(images))
        return lenet(images)

    per_image = {fast: 1.0, lenet: slow_per_image}
    monkeypatch.setattr(
        backends, "_seconds", lambda forward, images: per_image[forward] * len(images)
    )
    batch = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    timed = backends._best_seconds(fast, lenet, batch, verdict=backends.TORCH_MARGIN)
    assert timed == (200.0, slow_per_image * 200, images_timed)
    assert seen == [25]  # the warm-up, on the slice


@pytest.mark.parametrize(
    ("bf16_wins", "compiled_wins", "backend", "precision"),
    [
        (True, True, "openvino", "bf16"),
        (False, True, "openvino", "fp32"),
        (True, False, "torch", "fp32"),
        (False, False, "torch", "fp32"),
    ],
)
def test_auto_backend_and_precision_follow_the_races(
    fresh_cache, monkeypatch, bf16_wins, compiled_wins, backend, precision
):
    """On a CPU with bf16 but no AMX either race may go either way: the choice follows both."""
    from fooling.classifiers.lenet import MNIST_LABELS, load_lenet

    raced = []

    def forced(contender, _forward, baseline, _baseline_forward, **_):
        raced.append((contender, baseline))
        return bf16_wins if baseline == ("openvino", "fp32") else compiled_wins

    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(backends, "_faster", forced)
    classifier = Classifier(load_lenet(), input_shape=(1, 28, 28), labels=MNIST_LABELS,
                            name="lenet", backend="auto", precision="auto")  # fmt: skip
    assert (classifier.backend, classifier.precision) == (backend, precision)
    chosen = ("openvino", "bf16" if bf16_wins else "fp32")
    assert raced == [(("openvino", "bf16"), ("openvino", "fp32")), (chosen, ("torch", "fp32"))]
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert classifier(images).shape == (4, 10)


def test_named_precisions_run_no_precision_race(fresh_cache, monkeypatch):
    raced = []
    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(backends, "_faster", lambda c, _f, b, _g, **_: raced.append(b) or True)
    assert lenet_on("openvino", precision="bf16").precision == "bf16"
    assert lenet_on("openvino", precision="fp32").precision == "fp32"
    assert lenet_on("auto", precision="fp32").precision == "fp32"
    assert raced == [("torch", "fp32")]  # only `auto` backend races, and only against torch


def test_a_wrong_export_is_refused_with_one_warning_and_torch_runs(fresh_cache, monkeypatch):
    export = backends.export

    def wrong(backend, model, *args):  # the export of another network
        other = copy.deepcopy(model)
        with torch.no_grad():
            other.classifier[3].bias += torch.arange(10.0)  # (a constant would not show)
        export(backend, other, *args)

    monkeypatch.setattr(backends, "export", wrong)
    with pytest.warns(UserWarning, match="disagrees with torch") as caught:
        classifier = lenet_on("openvino")
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert classifier.backend == "torch"


def test_a_model_that_cannot_be_exported_falls_back_to_torch(fresh_cache):
    class Unexportable(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            scores = self.net(images)
            return torch.from_numpy(scores.detach().numpy().copy())  # leaves the graph

    net = copy.deepcopy(load_classifier("lenet-mnist", "cpu", backend="torch").model)
    with pytest.warns(UserWarning, match="could not run on openvino"):
        classifier = Classifier(
            Unexportable(net), input_shape=(1, 28, 28), labels=list("0123456789"),
            backend="openvino",
        )  # fmt: skip
    assert classifier.backend == "torch"
    assert classifier(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_the_export_is_cached_and_a_second_start_does_not_export(fresh_cache, monkeypatch):
    calls = []
    export = backends.export

    def counted(*args):
        calls.append(args[0])
        export(*args)

    monkeypatch.setattr(backends, "export", counted)
    lenet_on("openvino")
    assert calls == ["openvino"] and len(list(fresh_cache.iterdir())) == 1
    again = lenet_on("openvino")
    assert calls == ["openvino"] and again.backend == "openvino"


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
@pytest.mark.parametrize("damage", [b"", b"<?xml garbage \x00\xff", b"\x08\x01garbage"])
def test_a_damaged_cache_entry_is_rebuilt_once_and_said_so_in_one_line(
    fresh_cache, backend, damage, capfd
):
    lenet_on(backend)
    (entry,) = fresh_cache.iterdir()
    model = next(entry.glob("model.*"))
    model.write_bytes(damage)  # truncated, or garbage
    with pytest.warns(UserWarning, match="could not be used") as caught:
        again = lenet_on(backend)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert str(entry) in str(caught[0].message) and "rebuilt" in str(caught[0].message)
    assert again.backend == backend and model.stat().st_size > 1000
    assert capfd.readouterr().err == ""  # no lines of the backend's own logging (absl)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: the next start is quiet
        assert lenet_on(backend).backend == backend


def test_a_backend_named_but_not_installed_is_one_clear_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(backends, "installed", lambda backend: False)
    with pytest.raises(FoolingError, match="pip install onnxruntime"):
        lenet_on("onnxruntime")
    argv = ["evolve", "--backend", "openvino", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install openvino" in err[0]
    assert lenet_on("auto").backend == "torch"  # auto goes on without it


def test_a_python_callable_runs_on_torch_only(lenet):
    with pytest.raises(FoolingError, match="Python callable"):
        Classifier(lambda x: lenet(x), input_shape=(1, 28, 28), labels=lenet.labels,
                   backend="openvino")  # fmt: skip
    assert Classifier(lambda x: lenet(x), input_shape=(1, 28, 28), labels=lenet.labels,
                      backend="auto").backend == "torch"  # fmt: skip


def test_a_compiled_classifier_pickles():
    classifier = lenet_on("openvino")
    copied = pickle.loads(pickle.dumps(classifier))
    images = torch.rand(20, 1, 28, 28)
    assert copied.backend == "openvino"
    assert torch.equal(copied(images), classifier(images))


def test_a_compiled_classifier_unpickles_on_a_machine_without_its_cache(tmp_path):
    """As on a Ray worker of another node: the export is made again there."""
    classifier = lenet_on("openvino")
    (tmp_path / "classifier.pickle").write_bytes(pickle.dumps(classifier))
    images = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.save(classifier(images), tmp_path / "expected.pt")
    code = (
        "import pickle, sys, torch; from pathlib import Path; folder = Path(sys.argv[1]); "
        "copied = pickle.loads((folder / 'classifier.pickle').read_bytes()); "
        "assert copied.backend == 'openvino', copied.backend; "
        "images = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0)); "
        "torch.save(copied(images), folder / 'found.pt')"
    )
    elsewhere = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "empty-cache")}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=elsewhere,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "empty-cache" / "fooling" / "backends").iterdir())  # exported there
    found = torch.load(tmp_path / "found.pt", weights_only=True)
    assert torch.equal(found, torch.load(tmp_path / "expected.pt", weights_only=True))


TELEMETRY_WATCH = """
import sys
forks = []
sys.addaudithook(lambda event, _: event == "os.fork" and forks.append(event))
from fooling.classifiers import load_classifier
import nncf  # (`--precision int8`)
assert load_classifier("lenet-mnist", "cpu", backend="openvino").backend == "openvino"
assert not forks, f"{len(forks)} processes forked"
"""


def test_openvino_and_nncf_send_no_telemetry_and_write_nothing_in_home(tmp_path):
    """Their telemetry forks a process per event, and keeps an id and counts in ~/intel."""
    pytest.importorskip("nncf")
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    elsewhere.pop("CI", None)  # (which would turn it off too)
    done = subprocess.run([sys.executable, "-c", TELEMETRY_WATCH], env=elsewhere,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "cache" / "fooling" / "backends").iterdir())  # it converted a model
    assert not any(home.iterdir())


@pytest.mark.skipif(not backends.cpu_has_bf16(), reason="this CPU has no fast bf16")
def test_a_bf16_search_reports_fp32_confidences(tmp_path):
    bf16 = lenet_on("openvino", precision="bf16")
    assert bf16.precision == "bf16" and not bf16.exact
    out = tmp_path / "run"
    result = fooling.evolve(bf16, generations=20, population=50, progress=False, out=out)
    fp32 = lenet_on("torch")
    for index, confidence in zip(result.classes, result.confidences.tolist(), strict=True):
        image = read_image(out / f"images/{index:03d}_{index}.png", channels=1)
        assert fp32(image[None])[0, index].item() == pytest.approx(confidence, abs=1e-4)
    archive_says = bf16(result.images.float() / 255).diagonal()
    assert not torch.allclose(archive_says, result.confidences, atol=1e-6)  # bf16 differs


def test_the_command_line_takes_a_backend(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["evolve", "--backend", "onnxruntime", "--generations", "3", "--population", "20"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an agreeing backend warns of nothing
        assert main([*argv, "--out", str(out), "--quiet"]) == 0
    assert fooling.load_run(out).fooled(0.0) == 10


def test_a_users_onnx_model_runs_on_openvino(tmp_path):
    net = copy.deepcopy(lenet_on("torch").model).to(memory_format=torch.contiguous_format)
    path = tmp_path / "lenet.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.rand(2, 1, 28, 28),), path, dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "n"}})  # fmt: skip
    on_onnxruntime = load_classifier(str(path), "cpu", backend="torch")  # its own path
    on_openvino = load_classifier(str(path), "cpu", backend="openvino", precision="fp32")
    assert on_openvino.backend == "openvino" and not on_openvino.differentiable
    images = torch.rand(50, 1, 28, 28)
    assert (on_openvino(images) - on_onnxruntime(images)).abs().max() <= backends.AGREEMENT


def test_reported_fp32_turns_tf32_off_on_a_gpu_and_restores_the_flags():
    """What `ieee_fp32` sets is read back here; that cuDNN then computes in IEEE fp32 is
    for `tests/test_cuda.py` on a GPU."""
    from fooling.classifiers.classifier import ieee_fp32

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    new_api = hasattr(cudnn, "conv") and hasattr(cudnn.conv, "fp32_precision")

    def flags():
        if new_api:
            return cudnn.conv.fp32_precision, matmul.fp32_precision
        return cudnn.allow_tf32, matmul.allow_tf32

    before = flags()
    with ieee_fp32(torch.device("cpu")):
        assert flags() == before
    with ieee_fp32(torch.device("cuda")):
        assert flags() == (("ieee", "ieee") if new_api else (False, False))
    assert flags() == before
