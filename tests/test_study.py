"""`fooling study`: a page of real runs answered in a real (headless) Chromium, then scored."""

import json
from pathlib import Path

import pytest
from browser import CHROMIUM, FLAGS, browser_only
from test_cli_errors import fails_with_one_line

import fooling
from fooling.cli import main
from fooling.report.study import score_answers, wilson_interval
from fooling.report.study_page import make_study

LOADED = """() => {
  const image = document.getElementById("image");
  return image.complete && image.naturalWidth > 0
    && !document.querySelector("#options button").disabled;
}"""


def playwright():
    return pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A direct and a CPPN run of the built-in LeNet, 10 classes each, and a study of both."""
    folder = tmp_path_factory.mktemp("study")
    for encoding in ("direct", "cppn"):
        argv = ["evolve", "--encoding", encoding, "--generations", "5", "--population", "20"]
        assert main([*argv, "--out", str(folder / encoding), "--quiet"]) == 0
    argv = ["study", str(folder / "direct"), str(folder / "cppn"), "--seed", "3"]
    assert main([*argv, "--out", str(folder / "study"), "--quiet"]) == 0
    return folder


def summary_of(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def answer_all(page, items: dict, pick, reload_after: int | None = None) -> list:
    """Answer every image with `pick(item)`; returns what each step showed."""
    steps = []
    for step in range(len(items)):
        if step == reload_after:
            stored(page, step)
            page.reload()
        page.wait_for_function(LOADED)
        item = items[int(page.get_attribute("#image", "data-item"))]
        options = page.eval_on_selector_all("#options button", "all => all.map(b => b.textContent)")
        size = page.eval_on_selector("#image", "i => [i.naturalWidth, i.naturalHeight]")
        steps.append((item["id"], page.inner_text("#count"), options, size))
        page.locator("#options button").nth(options.index(pick(item))).click()
    return steps


def stored(page, count: int) -> None:
    """Wait until the browser, not only this page, holds `count` answers in localStorage.

    A page writes localStorage at once, but Chromium hands the write to the browser
    process on its own time; a reload that comes first may read the older value.
    Another page of the same origin reads what the browser process has.
    """
    other = page.context.new_page()
    other.goto(page.url)
    other.wait_for_function(
        "n => Object.keys(localStorage).some(key => key.startsWith('fooling-study-')"
        " && JSON.parse(localStorage.getItem(key)).length >= n)", arg=count,
    )  # fmt: skip
    other.close()


def download_answers(page, study: str, path: Path) -> dict:
    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename == f"answers-{study}.json"
    info.value.save_as(path)
    return json.loads(path.read_text())


@browser_only
def test_people_answer_in_the_browser_and_the_scores_count_them(runs, tmp_path, capsys):
    sync = playwright()
    summary = summary_of(runs / "study")
    study, items = summary["study"], {item["id"]: item for item in summary["items"]}
    assert len(items) == 20 and {item["run"] for item in items.values()} == {"direct", "cppn"}

    def pick(item):  # always the truth for CPPN images; for noise, only for classes 0-2
        if item["run"] == "cppn" or item["class"] < 3:
            return item["label"]
        return next(option for option in item["options"] if option != item["label"])

    with sync.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(accept_downloads=True).new_page()
        page.set_default_timeout(10_000)
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto((runs / "study" / "study.html").as_uri())
        steps = answer_all(page, items, pick, reload_after=7)
        kept = page.evaluate(f"() => JSON.parse(localStorage.getItem('fooling-study-{study}'))")
        done = [page.inner_text("#count"), page.is_visible("#done"), page.is_visible("#image")]
        answers = download_answers(page, study, tmp_path / "answers.json")
        browser.close()

    # The page showed every item once, in the study's order, across the reload.
    assert [step[0] for step in steps] == [item["id"] for item in summary["items"]]
    assert [step[1] for step in steps] == [f"{k} of 20" for k in range(1, 21)]
    assert all(step[2] == items[step[0]]["options"] for step in steps)
    assert all(step[3] == [28, 28] for step in steps)  # every PNG decoded, at its real size
    assert done == ["20 of 20", True, False]
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests)
    assert len(kept) == 20 and kept == answers["answers"]

    assert answers["format"] == "fooling-study-answers" and answers["version"] == 1
    assert answers["study"] == study and answers["items"] == 20
    for answer in answers["answers"]:
        item = items[answer["item"]]
        assert answer["run"] == item["run"] and answer["method"] == "evolve"
        assert answer["encoding"] == item["run"]  # the runs are named by their encoding
        assert (answer["class"], answer["label"], answer["options"]) == (
            item["class"],
            item["label"],
            item["options"],
        )
        assert answer["choice"] == pick(item) and answer["time"].endswith("Z")

    assert main(["study", "--score", str(tmp_path / "answers.json")]) == 0
    printed = capsys.readouterr().out.splitlines()
    rows = {tuple(line.split()[:3]): line.split()[3:] for line in printed}
    assert rows["cppn", "evolve", "cppn"] == ["10/10", "100.0%", "[72.2%,", "100.0%]"]
    assert rows["direct", "evolve", "direct"] == ["3/10", "30.0%", "[10.8%,", "60.3%]"]
    assert rows["(all)", "evolve", "cppn"][:2] == ["10/10", "100.0%"]  # per method and encoding
    assert rows["(all)", "evolve", "direct"][:2] == ["3/10", "30.0%"]
    assert rows["chance:", "25.0%", "(one"] == ["of", "4", "labels)"]

    two_people = score_answers([tmp_path / "answers.json"] * 2)  # several files add up
    by_run = {score.run: score for score in two_people if score.run is not None}
    assert (by_run["cppn"].recognised, by_run["cppn"].answered) == (20, 20)
    assert (by_run["direct"].recognised, by_run["direct"].answered) == (6, 20)


@browser_only
def test_labels_are_shown_as_text_not_markup(lenet, tmp_path):
    sync = playwright()
    labels = [
        "<b>x</b>",
        "<script>window.hit=1</script>",
        "<!--<script>",
        "a & b",
        "</script><script>window.hit=2</script>",
        '"quoted"',
        "<img src=x onerror=hit=3>",
    ]
    labels += [f"digit {d}" for d in range(7, 10)]  # fmt: skip
    classifier = fooling.Classifier(lenet.model, input_shape=(1, 28, 28), labels=labels)
    fooling.evolve(classifier, generations=2, population=10, progress=False).save(tmp_path / "evil")
    study = make_study([tmp_path / "evil"], tmp_path / "study", seed=1)
    items = {item.id: {"id": item.id, "label": item.label, "options": item.options}
             for item in study.items}  # fmt: skip
    with sync.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(accept_downloads=True).new_page()
        page.set_default_timeout(10_000)
        page.goto(study.page.as_uri())
        steps = answer_all(page, items, lambda item: item["label"])
        injected = page.evaluate(
            "() => [window.hit, document.querySelectorAll('b, img:not(#image)').length, "
            "document.scripts.length]"
        )
        answers = download_answers(page, study.id, tmp_path / "answers.json")
        browser.close()
    assert all(step[2] == items[step[0]]["options"] for step in steps)  # the labels, literally
    assert {option for step in steps for option in step[2]} <= set(labels)
    assert {step[2][step[2].index(items[step[0]]["label"])] for step in steps} == set(labels)
    assert injected == [None, 0, 2]  # no label ran or became an element
    assert [answer["choice"] for answer in answers["answers"]] == [
        item.label for item in study.items
    ]


# ------------------------------------------------------------------ without a browser
def test_a_study_is_seeded_and_takes_filled_cells_only(runs, tmp_path):
    summary = summary_of(runs / "study")
    for item in summary["items"]:
        assert len(set(item["options"])) == 4 and item["label"] in item["options"]
        assert set(item["options"]) <= {str(digit) for digit in range(10)}
    again = make_study([runs / "direct", runs / "cppn"], tmp_path / "again", seed=3)
    assert again.id == summary["study"]  # the same runs and seed: the same study
    assert [item.describe()["options"] for item in again.items] == [
        item["options"] for item in summary["items"]
    ]
    other = make_study([runs / "direct", runs / "cppn"], tmp_path / "other", seed=4)
    assert other.id != again.id
    assert [item.id for item in other.items] != [item.id for item in again.items]

    result = fooling.load_run(runs / "cppn")
    result.confidences[[2, 5]] = -1  # two empty cells
    result.save(tmp_path / "holes")
    capped = make_study([tmp_path / "holes", runs / "direct"], tmp_path / "capped", per_run=9)
    taken = [(item.run, item.index) for item in capped.items]
    assert len(taken) == 8 + 9 and ("holes", 2) not in taken and ("holes", 5) not in taken
    written = summary_of(tmp_path / "capped")
    assert written["per_run"] == 9 and [run["items"] for run in written["runs"]] == [8, 9]


def answer(item: int, run: str, choice: str, label: str = "3", encoding="cppn") -> dict:
    return {"item": item, "run": run, "method": "evolve", "encoding": encoding, "class": 3,
            "label": label, "choice": choice, "options": ["1", "3", "5", "7"],
            "time": "2025-01-01T00:00:00.000Z"}  # fmt: skip


def answers_file(path: Path, entries: list, **changes) -> Path:
    content = {"format": "fooling-study-answers", "version": 1, "study": "abc", "items": 9,
               "answers": entries, **changes}  # fmt: skip
    path.write_text(json.dumps(content))
    return path


def test_the_last_answer_to_an_item_counts_and_people_add_up(tmp_path, capsys, monkeypatch):
    first = answers_file(tmp_path / "a.json", [
        answer(0, "cppn", "1"), answer(1, "cppn", "3"), answer(0, "cppn", "3"),  # 0: changed
        answer(2, "direct", "5", encoding="direct"),
    ])  # fmt: skip
    second = answers_file(tmp_path / "b.json", [answer(0, "cppn", "7")])
    scores = score_answers([first, second])
    assert [(s.run, s.encoding, s.recognised, s.answered) for s in scores] == [
        ("cppn", "cppn", 2, 3), ("direct", "direct", 0, 1),
        (None, "cppn", 2, 3), (None, "direct", 0, 1),
    ]  # fmt: skip
    assert wilson_interval(10, 10) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert scores[0].low == pytest.approx(wilson_interval(2, 3)[0])

    out = tmp_path / "scores"
    assert main(["study", "--score", str(first), str(second), "--out", str(out)]) == 0
    assert "4 answers from 2 files" in capsys.readouterr().out
    written = summary_of(out)
    assert written["method"] == "study-score" and written["chance"] == 0.25
    assert written["scores"][0] == {"run": "cppn", "method": "evolve", "encoding": "cppn",
                                    "recognised": 2, "answered": 3, "low": scores[0].low,
                                    "high": scores[0].high, "share": 2 / 3}  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["study", "--score", str(first)]) == 0
    assert not (tmp_path / "runs").exists()  # no --out: nothing written


BAD_ANSWERS = {
    "not-json": ("{", "is not JSON"),
    "not-utf8": (b"\xff\xfe{}", "is not JSON"),
    "deep": ("[" * 100_000, "is not JSON"),
    "a-list": ("[]", "is not an answers file"),
    "another-format": ({"format": "fooling-elites-2"}, "is not an answers file"),
    "version-2": ({"version": 2}, "format version 2"),
    "no-study": ({"study": ""}, "names no study"),
    "answers-not-a-list": ({"answers": {}}, "no list of answers"),
    "choice-not-an-option": ([answer(0, "cppn", "9")], "choice '9' that is not among"),
    "label-not-an-option": ([answer(0, "cppn", "1", label="8")], "true label '8'"),
    "three-options": ([{**answer(0, "cppn", "1"), "options": ["1", "3", "5"]}], "4 different"),
    "same-option-twice": ([{**answer(0, "cppn", "1"), "options": ["1", "3", "3", "7"]}],
                          "options"),
    "no-run": ([{**answer(0, "cppn", "1"), "run": None}], "answer 1 has no run"),
    "class-true": ([{**answer(0, "cppn", "1"), "class": True}], "has no class"),
    "item-negative": ([answer(0, "c", "1"), {**answer(0, "c", "1"), "item": -1}], "answer 2"),
    "answer-a-string": (["3"], "not a JSON object"),
    "no-answers": ([], "no answers in"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_bad_answers_files_are_refused_with_one_line(case, tmp_path, capsys):
    content, match = BAD_ANSWERS[case]
    path = tmp_path / "answers.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, list):
        answers_file(path, content)
    else:
        answers_file(path, [answer(0, "cppn", "3")], **content)
    fails_with_one_line(capsys, ["study", "--score", str(path)], match)


def test_bad_arguments_are_refused_with_one_line(runs, tmp_path, capsys):
    good = answers_file(tmp_path / "good.json", [answer(0, "cppn", "3")])
    cases = [
        (["study"], "give the run directories"),
        (["study", str(runs / "cppn"), "--score", str(good)], "not both"),
        (["study", "--score", str(good), "--per-run", "3"], "--per-run is for making a study"),
        (["study", "--score", str(tmp_path)], "cannot read"),  # a folder
        (["study", "--score", str(tmp_path / "missing.json")], "cannot read"),
        (["study", str(runs / "cppn"), "--per-run", "0"], "--per-run"),
        (["study", str(tmp_path / "missing")], "does not exist"),
        (["study", str(good)], "is a file"),
        (["study", str(runs / "study")], "holds no search"),  # a study is no run
        (["study", str(runs / "cppn"), "--out", str(runs / "cppn"), "--force"], "one of the runs"),
        (["study", str(runs / "cppn"), str(runs / "study" / ".." / "cppn")], "named 'cppn'"),
        (["study", str(runs / "cppn"), "--out", str(runs / "study")], "already holds a run"),
    ]
    for argv, match in cases:
        fails_with_one_line(capsys, [*argv, "--quiet"], match)
    assert summary_of(runs / "study")["method"] == "study"  # nothing replaced


def test_a_classifier_needs_four_labels(lenet, tmp_path, capsys):
    labels = [f"class {index}" for index in range(10)]  # a classifier fooling does not know
    classifier = fooling.Classifier(lenet.model, input_shape=(1, 28, 28), labels=labels)
    three = fooling.evolve(classifier, generations=1, population=4, classes=[0, 1, 2],
                           progress=False)  # fmt: skip
    three.save(tmp_path / "three")
    argv = ["study", str(tmp_path / "three"), "--out", str(tmp_path / "s")]
    fails_with_one_line(capsys, argv, "only 3 labels")
    assert not (tmp_path / "s").exists()
