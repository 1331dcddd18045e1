"""Retraining with a fooling class: real LeNet, real MNIST, small but whole iterations."""

import copy
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from cluster import also_on_two_nodes
from PIL import Image
from test_cli_errors import fails_with_one_line

import fooling
from fooling.classifiers import load_classifier
from fooling.classifiers.lenet import LeNet
from fooling.data.mnist import load_mnist
from fooling.experiments import near_real as near_real_module
from fooling.experiments.gather import Searches, gather, search
from fooling.experiments.near_real import NearReal
from fooling.experiments.retrain import IMAGES_FORMAT, STATE_FORMAT, RetrainSettings
from fooling.runs.images import read_png
from fooling.runs.state import load_state, save_state
from fooling.training.fine_tune import with_extra_class
from fooling.user_files import read_weights

# Every part of an iteration, at the smallest size that still does each step for real.
TINY = RetrainSettings(
    iterations=2, fooling_per_iteration=60, held_out=30, gather_generations=8,
    gather_population=40, epochs=1, max_steps=150, generations=8, population=40,
)  # fmt: skip


def rows_without_time(out):
    rows = json.loads((out / "summary.json").read_text())["iterations"]
    return [{key: value for key, value in row.items() if not key.endswith("seconds")}
            for row in rows]  # fmt: skip


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
    assert gallery.count("<h2") == 8 and "iteration 2 · cppn" in gallery
    assert "iteration 2 · held-out fooling images it calls real" in gallery


def test_gathered_images_are_distinct_and_fool_the_network_they_were_found_against(straight, lenet):
    # they were once views of a search's archive, overwritten as its elites improved
    images = load_state(straight[0] / "iterations" / "01" / "fooling.safetensors",
                        kind=IMAGES_FORMAT)  # fmt: skip
    everything = torch.cat([images["trained"], images["held_out"]])
    assert len({bytes(image.numpy().tobytes()) for image in everything}) == len(everything)
    best = lenet(everything.float() / 255).max(dim=1).values
    assert bool((best >= 0.99).all()), best.min()


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


def test_missed_held_out_images_are_written_and_recall_far_from_real_ones_is_measured(straight):
    out, result = straight
    near_real = NearReal.calibrate(load_mnist("train")[0], load_mnist("test")[0])
    for number in (1, 2):
        folder = out / "iterations" / f"{number:02d}"
        network = LeNet(num_classes=11)
        network.load_state_dict(read_weights(folder / "weights.safetensors"))
        held_out = load_state(folder / "fooling.safetensors", kind=IMAGES_FORMAT)["held_out"]
        with torch.no_grad():
            probabilities = network(held_out.float() / 255).softmax(dim=1)
        caught = probabilities.argmax(dim=1) == 10
        near = near_real.near(held_out)
        row = result.iterations[number]
        assert row["held_out_far"] == int((~near).sum())
        if (~near).any():
            assert row["fooling_recall_far_from_real"] == pytest.approx(
                float(caught[~near].float().mean())
            )
        missed = (~caught).nonzero().flatten().tolist()
        assert len(row["missed_held_out"]) == len(missed)  # fewer than MISSED_SHOWN here
        for shown, index in zip(row["missed_held_out"], missed, strict=True):
            assert torch.equal(read_png(folder / shown["image"]), held_out[index])
            assert shown["label"] == str(int(probabilities[index].argmax()))
            assert shown["near_real"] == bool(near[index])
        assert 0 <= row["gathered_near_real"] <= 1
    for row in result.iterations:
        folder = out / "iterations" / f"{row['iteration']:02d}" / "evolved"
        runs = [fooling.load_run(folder / name) for name in ("direct", "cppn")]
        fooled = torch.stack([
            (run.confidences >= 0.99) & (near_real.distances(run.images) > near_real.cutoff)
            for run in runs
        ]).any(dim=0)  # fmt: skip
        assert row["fooled_at_0.99_far_from_real"] == int(fooled.sum()) <= row["fooled_at_0.99"]


def test_near_real_separates_real_digits_from_noise():
    training, test = load_mnist("train")[0], load_mnist("test")[0]
    near_real = NearReal.calibrate(training, test[:1000])
    others = near_real.near(test[5000:6000]).float().mean()
    assert 0.88 <= float(others) <= 0.99  # the cut lets 95% of the calibration set in
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert not near_real.near(noise).any()
    assert near_real.distances(training[:3]).max() == pytest.approx(0.0, abs=1e-3)
    assert near_real.near(training[:3].mul(255).round().to(torch.uint8)).all()  # uint8 read as /255
    assert near_real.distances(torch.empty(0, 1, 28, 28)).shape == (0,)


def test_near_real_measures_the_distance_to_the_nearest_image_slice_by_slice(monkeypatch):
    training, test = load_mnist("train")[0][:3000], load_mnist("test")[0][:300]
    # each pair's distance from its differences, without the matrix product
    exact = torch.cdist(test.flatten(1), training.flatten(1),
                        compute_mode="donot_use_mm_for_euclid_dist").amin(dim=1)  # fmt: skip
    monkeypatch.setattr(near_real_module, "_VALUES", 784 * 700)  # slices of 700 images
    monkeypatch.setattr(near_real_module, "_QUERIES", 64)
    found = NearReal(training, cutoff=0.0).distances(test)
    assert torch.allclose(found, exact, atol=1e-4)


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


def test_resume_refuses_a_link_inside_an_iteration(stopped, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    weights = out / "iterations" / "01" / "weights.safetensors"
    elsewhere = tmp_path / "elsewhere.safetensors"
    weights.rename(elsewhere)
    weights.symlink_to(elsewhere)
    argv = ["retrain", "--resume", "--iterations", "2", "--out", str(out), "--quiet"]
    fails_with_one_line(capsys, argv, "symbolic link")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--resume"], "nothing to --resume"),
        (["--classifier", "efficientnet-lite0"], "give --data FOLDER"),
        (["--full"], "--full fine-tunes on --data"),
        (["--iterations", "0"], "iterations"),
        (["--threshold", "0"], "threshold"),
        (["--fooling-images", "0"], "--fooling-images"),
        (["--held-out", "-3"], "--held-out"),
        (["--mnist", "/nonexistent/mnist"], "MNIST"),
        (["--resume", "--force"], "contradict"),
        (["--gather", "near"], "--gather"),
        (["--max-searches", "0"], "--max-searches"),
        (["--max-searches", "many"], "--max-searches"),
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "two"], "--epochs"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, arguments, expected):
    out = tmp_path / "run"
    fails_with_one_line(capsys, ["retrain", "--out", str(out), "--quick", "--quiet", *arguments],
                        expected)  # fmt: skip
    assert not (out / "summary.json").exists()


def test_only_lenet_has_a_built_in_dataset():
    with pytest.raises(fooling.FoolingError, match="only for the MNIST LeNets"):
        fooling.retrain("efficientnet-lite0", out="unused", settings=TINY)


# ------------------------------------------------------------ any classifier, with --data
FOLDER = RetrainSettings(
    iterations=1, fooling_per_iteration=8, held_out=4, threshold=0.1, encodings=("direct",),
    gather_generations=2, gather_population=8, epochs=1, generations=2, population=8,
)  # fmt: skip
HEN = Path(__file__).parent / "data" / "hen_256.png"


def make_folder(root: Path, per_class: int = 5) -> Path:
    """Two ImageNet classes: crops of a real hen photo, and noise (which Lite0 calls a kite)."""
    generator = torch.Generator().manual_seed(0)
    photo = Image.open(HEN).convert("RGB")
    (root / "hen").mkdir(parents=True)
    (root / "021_kite").mkdir()
    for k in range(per_class):
        side = int(torch.randint(180, 257, (1,), generator=generator))
        x, y = (int(v) for v in torch.randint(0, 257 - side, (2,), generator=generator))
        photo.crop((x, y, x + side, y + side)).resize((160, 160)).save(root / "hen" / f"{k}.jpg")
        noise = torch.randint(0, 256, (160, 160, 3), dtype=torch.uint8, generator=generator)
        Image.fromarray(noise.numpy()).save(root / "021_kite" / f"{k}.png")
    return root


@pytest.fixture(scope="module")
def lite0():
    return load_classifier("efficientnet-lite0", "cpu", backend="torch", precision="fp32")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("data") / "images")


@pytest.fixture(scope="module")
def head_run(lite0, folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("retrain-data") / "run"
    fooling.retrain(lite0, out=out, data=folder, settings=FOLDER, progress=False)
    return out


def _weights_of(out, number):
    return read_weights(out / "iterations" / f"{number:02d}" / "weights.safetensors")


def test_a_folder_fine_tunes_the_head_of_any_classifier_with_one_more_class(lite0, head_run):
    out = head_run
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["iterations"]
    assert [row["iteration"] for row in rows] == [0, 1] and summary["finished"] is True
    assert rows[1]["trained_fooling_images"] == 8
    assert 0 <= rows[1]["test_accuracy"] <= 1 and rows[0]["test_accuracy"] == 1.0
    evolved = fooling.load_run(out / "iterations" / "01" / "evolved" / "direct")
    assert evolved.classes == [8, 21]  # the folder's classes, not all 1000
    weights = _weights_of(out, 1)
    assert weights["_fc.weight"].shape == (1001, 1280) and weights["_fc.bias"].shape == (1001,)
    original = lite0.model.state_dict()
    body = [name for name in weights if not name.startswith("_fc.")]
    assert body and all(torch.equal(weights[name], original[name]) for name in body)
    assert not torch.equal(weights["_fc.weight"][:1000], original["_fc.weight"])
    # the recall is what the saved network says of the held-out images
    network = with_extra_class(lite0.model, 1000)
    network.load_state_dict(weights)
    retrained = lite0.with_model(network, labels=[*lite0.labels, "fooling"], name="check")
    held_out = load_state(out / "iterations" / "01" / "fooling.safetensors", kind=IMAGES_FORMAT)
    assert held_out["held_out"].shape == (4, 3, 224, 224)
    share = (retrained(held_out["held_out"].float() / 255).argmax(dim=1) == 1000).float().mean()
    assert rows[1]["fooling_recall"] == pytest.approx(float(share))


def test_full_fine_tuning_changes_the_whole_network(lite0, folder, tmp_path):
    settings = dataclasses.replace(FOLDER, max_steps=1)
    fooling.retrain(lite0, out=tmp_path / "run", data=folder, full=True, settings=settings,
                    progress=False)  # fmt: skip
    weights = _weights_of(tmp_path / "run", 1)
    original = lite0.model.state_dict()
    body = [name for name in weights if name.endswith(".weight") and not name.startswith("_fc.")]
    assert sum(not torch.equal(weights[name], original[name]) for name in body) > len(body) // 2


def test_resume_refuses_other_data(lite0, head_run, folder, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(head_run, out)
    other = shutil.copytree(folder, tmp_path / "other")
    (other / "hen" / "0.jpg").unlink()
    with pytest.raises(fooling.FoolingError, match="trained on other data"):
        fooling.retrain(lite0, out=out, data=other, settings=FOLDER, resume=True, progress=False)


def test_data_that_does_not_fit_is_one_line(folder, tmp_path, capsys, lenet):
    out = tmp_path / "run"
    lite = ["retrain", "--classifier", "efficientnet-lite0", "--backend", "torch", "--quiet"]
    fails_with_one_line(capsys, [*lite, "--data", str(tmp_path / "none"), "--out", str(out)],
                        "is not a folder")  # fmt: skip
    typo = shutil.copytree(folder, tmp_path / "typo")
    (typo / "hen").rename(typo / "hens")
    fails_with_one_line(capsys, [*lite, "--data", str(typo), "--out", str(out)],
                        "'hens' names no class")  # fmt: skip
    twice = shutil.copytree(folder, tmp_path / "twice")
    shutil.copytree(twice / "hen", twice / "8")
    fails_with_one_line(capsys, [*lite, "--data", str(twice), "--out", str(out)],
                        "both hold class 8")  # fmt: skip
    lonely = shutil.copytree(folder, tmp_path / "lonely")
    for extra in sorted((lonely / "hen").iterdir())[1:]:
        extra.unlink()
    fails_with_one_line(capsys, [*lite, "--data", str(lonely), "--out", str(out)],
                        "has 1 image")  # fmt: skip
    scripted = tmp_path / "lenet.pt"
    torch.jit.script(copy.deepcopy(lenet.model)).save(scripted)
    digits = make_digit_folder(tmp_path / "digits")
    fails_with_one_line(capsys, ["retrain", "--classifier", str(scripted), "--input-shape",
                                 "1", "28", "28", "--data", str(digits), "--out", str(out)],
                        "not a TorchScript module")  # fmt: skip
    assert not out.exists()


def make_digit_folder(root: Path) -> Path:
    for digit in ("3", "7"):
        (root / digit).mkdir(parents=True)
        for k in range(2):
            Image.new("L", (28, 28), 40 * k + int(digit)).save(root / digit / f"{k}.png")
    return root


@also_on_two_nodes("test_retraining_that_loses_a_node_gathers_as_one_process")
def test_gathering_on_ray_workers_gathers_the_same_images(straight, tmp_path, ray_cluster):
    out = tmp_path / "run"
    fooling.retrain(out=out, settings=dataclasses.replace(TINY, iterations=1), progress=False,
                    workers=2)  # fmt: skip
    name = Path("iterations") / "01" / "fooling.safetensors"
    spread = load_state(out / name, kind=IMAGES_FORMAT)
    here = load_state(straight[0] / name, kind=IMAGES_FORMAT)
    assert torch.equal(spread["trained"], here["trained"])
    assert torch.equal(spread["held_out"], here["held_out"])


# ------------------------------------------------------------ gathering schemes and caps
@pytest.fixture(scope="module")
def far_and_capped(tmp_path_factory):
    """One iteration that trains only on images far from real ones, its gathering capped."""
    out = tmp_path_factory.mktemp("retrain") / "far"
    settings = dataclasses.replace(TINY, iterations=1, gather="far", max_searches=3)
    fooling.retrain(out=out, settings=settings, progress=False)
    return out


def test_gather_far_trains_only_on_images_far_from_every_real_one(far_and_capped, straight):
    row = json.loads((far_and_capped / "summary.json").read_text())["iterations"][1]
    images = load_state(far_and_capped / "iterations" / "01" / "fooling.safetensors",
                        kind=IMAGES_FORMAT)  # fmt: skip
    near = NearReal.calibrate(load_mnist("train")[0], load_mnist("test")[0])
    assert len(images["trained"]) == row["gathered"] == row["trained_fooling_images"] > 0
    assert not near.near(images["trained"]).any()
    # the held-out images are gathered the paper's way, so both schemes are measured alike
    straight_held_out = load_state(straight[0] / "iterations" / "01" / "fooling.safetensors",
                                   kind=IMAGES_FORMAT)["held_out"]  # fmt: skip
    assert torch.equal(images["held_out"], straight_held_out[: len(images["held_out"])])


def test_a_capped_iteration_trains_on_what_it_found_and_says_so(far_and_capped):
    row = json.loads((far_and_capped / "summary.json").read_text())["iterations"][1]
    assert row["gathered_searches"] <= 2 * 3
    assert row["gathering_capped"] is (row["gathered"] < 60 or row["gathered_held_out"] < 30)
    assert row["gathering_seconds"] > 0 and row["gathering_seconds"] <= row["seconds"]


def test_an_uncapped_iteration_records_its_cost(straight):
    for row in json.loads((straight[0] / "summary.json").read_text())["iterations"][1:]:
        assert (row["gathered"], row["gathered_held_out"]) == (60, 30)
        assert row["gathering_capped"] is False and row["gathered_searches"] >= 2


def test_gather_stops_at_its_cap_with_what_it_found_only_when_allowed(lenet):
    options = {"classes": range(10), "generations": 4, "population": 20, "max_searches": 2}
    capped = gather(lenet, 10_000, capped_ok=True, progress=False, **options)
    assert capped.capped and capped.searches == 2 and 0 < len(capped.images) < 10_000
    with pytest.raises(fooling.FoolingError, match="2 searches found only"):
        gather(lenet, 10_000, progress=False, **options)
    picky = gather(lenet, 5, keep=lambda images: images.float().mean((1, 2, 3)) > 127,
                   progress=False, classes=range(10), generations=4, population=20)  # fmt: skip
    assert len(picky.images) == 5 and (picky.images.float().mean((1, 2, 3)) > 127).all()


def test_a_search_not_on_course_is_given_up_at_a_snapshot(lenet):
    # a noise image is nowhere near a confident "1": below 0.99 * 2/100 after 2 generations
    hopeless = search(Searches(lenet, [1], ["direct"], 10, 0, 0.99, [2, 100]), 0)
    assert hopeless.given_up and len(hopeless.snapshots) == 1 and hopeless.evaluations == 30
    # against all ten digits some noise is already confident: it runs to the end
    on_course = search(Searches(lenet, list(range(10)), ["direct"], 10, 0, 0.99, [2, 100]), 0)
    assert not on_course.given_up and on_course.evaluations == 1010
    options = {"classes": [1], "generations": 100, "population": 10, "max_searches": 3}
    gathered = gather(lenet, 5, capped_ok=True, progress=False, **options)
    assert gathered.searches == 3 and gathered.given_up >= 1
    assert gathered.evaluations == gathered.given_up * 260 + (3 - gathered.given_up) * 1010


def test_a_run_from_before_gathering_schemes_resumes(stopped, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    path = out / "checkpoint" / "state.safetensors"
    state = load_state(path, kind=STATE_FORMAT)
    for key in ("gather", "max_searches"):
        del state["settings"][key]
    save_state(path, state, kind=STATE_FORMAT)
    fooling.retrain(out=out, settings=TINY, resume=True, progress=False)
    assert len(json.loads((out / "summary.json").read_text())["iterations"]) == 3


# ------------------------------------------------------------ stopped in the middle of gathering
class Stop(Exception):
    """What stops the machine part way through a gathering."""


def counting(monkeypatch, stop_at=None):
    """Replace gathering's search by one that records which searches run (and stops at the
    `stop_at`-th call)."""
    import fooling.experiments.gather as gathering

    ran = []

    def search_and_count(shared, number):
        if stop_at is not None and len(ran) == stop_at:
            raise Stop
        ran.append(number)
        return search(shared, number)

    monkeypatch.setattr(gathering, "search", search_and_count)
    return ran


def test_a_journal_gives_back_its_searches_only_to_the_same_settings(lenet, tmp_path, monkeypatch):
    options = {"classes": range(10), "generations": 8, "population": 40}
    journal = tmp_path / "journal"
    ran = counting(monkeypatch)
    first = gather(lenet, 30, seed=0, journal=journal, **options)
    assert ran == list(range(first.searches)) and first.resumed == 0
    ran.clear()
    again = gather(lenet, 30, seed=0, journal=journal, **options)
    assert ran == [] and again.resumed == first.searches  # every search read back
    assert torch.equal(again.images, first.images) and torch.equal(again.classes, first.classes)
    assert again.seconds >= again.earlier_seconds > 0
    other = gather(lenet, 30, seed=1, journal=journal, **options)
    assert ran == list(range(other.searches)) and other.resumed == 0  # another seed: run
    ran.clear()
    for path in journal.glob("*.safetensors"):  # damaged files are run again, not trusted
        path.write_bytes(path.read_bytes()[:-10])
    damaged = gather(lenet, 30, seed=0, journal=journal, **options)
    assert ran == list(range(first.searches)) and torch.equal(damaged.images, first.images)


def test_a_retraining_stopped_mid_gathering_runs_only_the_searches_it_had_not_finished(
    straight, stopped, tmp_path, monkeypatch
):
    import fooling.experiments.gather_journal as journal

    monkeypatch.setattr(journal, "FLUSH_SEARCHES", 1)  # a file per search
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    ran = counting(monkeypatch, stop_at=2)
    with pytest.raises(Stop):
        fooling.retrain(out=out, settings=TINY, resume=True, progress=False)
    assert ran == [0, 1]  # the third search of iteration 2's gathering was under way
    assert len(list((out / "iterations" / "02" / "gathering" / "trained").iterdir())) == 2
    ran = counting(monkeypatch)
    fooling.retrain(out=out, settings=TINY, resume=True, progress=False)
    assert ran[0] == 2  # searches 0 and 1 were read back
    row = json.loads((out / "summary.json").read_text())["iterations"][2]
    assert row["gathering_resumed"] == 2
    resumed = [{key: value for key, value in row.items() if key != "gathering_resumed"}
               for row in rows_without_time(out)]  # fmt: skip
    whole = [{key: value for key, value in row.items() if key != "gathering_resumed"}
             for row in rows_without_time(straight[0])]  # fmt: skip
    assert resumed == whole  # the same images, network and figures as a run never stopped
    name = Path("iterations") / "02" / "fooling.safetensors"
    assert torch.equal(load_state(out / name, kind=IMAGES_FORMAT)["trained"],
                       load_state(straight[0] / name, kind=IMAGES_FORMAT)["trained"])  # fmt: skip
    assert not (out / "iterations" / "02" / "gathering").exists()  # kept until the row was
