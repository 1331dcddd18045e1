"""A one-file page that asks people which class each fooling image shows (`fooling study`).

`make_study` turns the elites of finished `evolve` and `ascend` runs into
`study.html`: one self-contained page (images inline as `data:` URIs, no network)
that shows them one at a time, in a seeded random order, each drawn large with
four labels to choose from: the true one and three others of the classifier's,
drawn with the same seed. Answers stay in the browser's localStorage under a key
with the study's id, so a reload continues where the person was, and a button
saves them as `answers-<study id>.json` (read by `fooling.report.study`).

Labels reach the page only as JSON inside `<script type="application/json">` (every
`<` written as `\\u003c`) and are shown with `textContent`, so a label is text,
never markup.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from fooling.classifiers.efficientnet import VARIANTS, imagenet_labels
from fooling.classifiers.lenet import MNIST_LABELS, SHIPPED_WEIGHTS
from fooling.errors import FoolingError
from fooling.limits import SEED, whole
from fooling.records import atomic_write_text
from fooling.report.study import ANSWERS_FORMAT, CHANCE, OPTIONS, PAGE_VERSION
from fooling.runs.directory import RunDirectory
from fooling.search.result import load_run

PER_RUN = whole("per_run", 1, 10**6)
"""The range of `--per-run`, the most images a study takes from one run."""


@dataclass
class StudyItem:
    """One image of a study.

    Attributes:
        id: the item's number in the study (0, 1, ... in the order of the runs given).
        run: the run folder's name.
        path: the run directory.
        classifier: the classifier the run fooled.
        method: `"evolve"` or `"ascend"`.
        encoding: `"direct"`, `"cppn"` or None (gradient ascent).
        index: the class index of the elite.
        label: its true label.
        confidence: the classifier's probability for that class.
        image: the elite's PNG, relative to the run directory.
        options: the labels to choose from, the true one among them, in the order shown.
        png: the image as PNG bytes, exactly the pixels of the run's PNG.
    """

    id: int
    run: str
    path: Path
    classifier: str
    method: str
    encoding: str | None
    index: int
    label: str
    confidence: float
    image: str
    options: list[str] = field(default_factory=list)
    png: bytes = b""

    def describe(self) -> dict[str, Any]:
        """What `summary.json` says of the item (no image bytes)."""
        return {
            "id": self.id, "run": self.run, "path": str(self.path), "classifier": self.classifier,
            "method": self.method, "encoding": self.encoding, "class": self.index,
            "label": self.label, "confidence": self.confidence, "image": self.image,
            "options": self.options,
        }  # fmt: skip

    def on_page(self) -> dict[str, Any]:
        """What the page holds of the item: what an answer records, and the image."""
        return {
            "id": self.id, "run": self.run, "method": self.method, "encoding": self.encoding,
            "class": self.index, "label": self.label, "options": self.options,
            "src": "data:image/png;base64," + base64.b64encode(self.png).decode("ascii"),
        }  # fmt: skip


@dataclass
class Study:
    """A study page and what it shows.

    Attributes:
        id: the study's id, a hash of its items, options and order (the same runs and
            seed give the same id).
        page: the path of `study.html`.
        seed: the seed of the order and the other labels.
        per_run: the most images taken from a run (None: all).
        items: the items, in the order the page shows them.
    """

    id: str
    page: Path
    seed: int
    per_run: int | None
    items: list[StudyItem]

    def summary(self) -> dict[str, Any]:
        """The `summary.json` content: the study's id, its runs and its items in page order."""
        runs: dict[str, dict[str, Any]] = {}
        for item in sorted(self.items, key=lambda item: item.id):
            run = runs.setdefault(item.run, {
                "name": item.run, "path": str(item.path), "classifier": item.classifier,
                "method": item.method, "encoding": item.encoding, "items": 0,
            })  # fmt: skip
            run["items"] += 1
        return {
            "method": "study", "format": ANSWERS_FORMAT, "version": PAGE_VERSION,
            "study": self.id, "seed": self.seed, "per_run": self.per_run, "options": OPTIONS,
            "chance": CHANCE, "runs": list(runs.values()),
            "items": [item.describe() for item in self.items],
        }  # fmt: skip

    def headline(self) -> str:
        """One line: `20 images from 2 runs, study 0123abcd4567`."""
        runs = len({item.run for item in self.items})
        return f"{len(self.items)} images from {runs} run{'s' * (runs != 1)}, study {self.id}"


def make_study(
    runs: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    force: bool = False,
    seed: int = 0,
    per_run: int | None = None,
) -> Study:
    """Write `study.html` and `summary.json`: the elites of finished runs, as a page that asks.

    Every filled cell of every run becomes an item (empty cells are skipped; with
    `per_run`, that many are drawn at random from each run). Each item gets the
    true label and `OPTIONS - 1` others drawn from the classifier's labels: a
    built-in classifier's own, otherwise all those of the study's runs of that
    classifier. Items are shown in a random order. `seed` fixes all of it.

    Args:
        runs: run directories of `fooling evolve` or `fooling ascend`.
        out: the study's run directory (claimed; see `RunDirectory`).
        force: replace a run already in `out`.
        seed: the seed of the draws and the order.
        per_run: the most images per run (None: all).

    Returns:
        The study.

    Raises:
        FoolingError: no runs, two runs with the same folder name, `out` is one of
            them, a run directory holds no finished search or no elites, a classifier
            has fewer than `OPTIONS` labels, a number is out of range, or `out` holds
            a run and `force` is False.
    """
    paths = [Path(runs)] if isinstance(runs, str | Path) else [Path(run) for run in runs]
    if not paths:
        raise FoolingError("a study needs at least one run directory")
    SEED.check(seed)
    if per_run is not None:
        PER_RUN.check(per_run)
    if any(Path(out).resolve() == path.resolve() for path in paths):
        raise FoolingError(f"--out {out} is one of the runs to study: choose another --out")
    names = [path.resolve().name for path in paths]
    for name in names:
        if names.count(name) > 1:
            raise FoolingError(
                f"two of the runs are named {name!r}; answers name runs by folder name, "
                "so give runs whose folders have different names"
            )
    rng = random.Random(seed)
    items = [item for path in paths for item in _read_run(path, rng, per_run)]
    for number, item in enumerate(items):
        item.id = number
    pools = _label_pools(items)
    for item in items:
        others = [label for label in pools[item.classifier] if label != item.label]
        item.options = [item.label, *rng.sample(others, OPTIONS - 1)]
        rng.shuffle(item.options)
    rng.shuffle(items)
    study_id = _study_id(items)
    with RunDirectory(out).claim(force=force) as directory:
        study = Study(study_id, directory.path / "study.html", seed, per_run, items)
        atomic_write_text(study.page, study_page(study))
        directory.write_summary(study.summary())
    return study


def _read_run(path: Path, rng: random.Random, per_run: int | None) -> list[StudyItem]:
    """The filled cells of one finished search as items (ids and options still to come).

    Raises:
        FoolingError: the path is no run directory of a search, or it holds no elites.
    """
    directory = RunDirectory(path)
    if not directory.path.is_dir():
        what = "is a file" if directory.path.exists() else "does not exist"
        raise FoolingError(f"{path} {what}: give the run directory of an evolve or ascend run")
    summary = directory.read_summary()
    if not isinstance(summary.get("classes"), list) or "method" not in summary:
        raise FoolingError(
            f"{path} holds no search (its summary.json lists no elites): give the run "
            "directory of an evolve or ascend run"
        )
    result = load_run(path)
    filled = [position for position, value in enumerate(result.confidences.tolist()) if value >= 0]
    if not filled:
        raise FoolingError(f"the run in {path} holds no elites (every cell is empty)")
    if per_run is not None and len(filled) > per_run:
        filled = sorted(rng.sample(filled, per_run))
    items = []
    for position in filled:  # the confidence of an empty cell is -1
        item = StudyItem(
            id=-1, run=path.resolve().name, path=path, classifier=result.classifier,
            method=result.method, encoding=result.encoding, index=result.classes[position],
            label=result.labels[position], confidence=float(result.confidences[position]),
            image=summary["classes"][position]["image"], png=_png_bytes(result.images[position]),
        )  # fmt: skip
        items.append(item)
    return items


def _png_bytes(image: Any) -> bytes:
    """A `uint8 [C, H, W]` image (C 1 or 3) as PNG bytes, pixel for pixel."""
    from PIL import Image

    pixels = image.permute(1, 2, 0).numpy()
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _label_pools(items: list[StudyItem]) -> dict[str, list[str]]:
    """Each classifier's labels to draw the other options from, without repeats.

    Raises:
        FoolingError: a classifier has fewer than `OPTIONS` distinct labels.
    """
    pools: dict[str, list[str]] = {}
    for item in items:
        pools.setdefault(item.classifier, []).append(item.label)
    for name, seen in pools.items():
        labels = list(dict.fromkeys([*built_in_labels(name), *seen]))
        if len(labels) < OPTIONS:
            raise FoolingError(
                f"the runs of {name} name only {len(labels)} labels, and a study shows "
                f"{OPTIONS} per image: give runs of more classes of that classifier"
            )
        pools[name] = labels
    return pools


def built_in_labels(name: str) -> list[str]:
    """The labels of a built-in classifier, read without loading it; [] for another name.

    Args:
        name: a classifier's name, as a run's `summary.json` gives it.

    Returns:
        Its labels in class order, or an empty list.
    """
    if name in SHIPPED_WEIGHTS:
        return list(MNIST_LABELS)
    if name in VARIANTS:
        return imagenet_labels()
    return []


def _study_id(items: list[StudyItem]) -> str:
    """12 hex digits of a hash over the items in order: ids, runs, labels, options, images."""
    digest = hashlib.sha256(f"{ANSWERS_FORMAT} {PAGE_VERSION}".encode())
    for item in items:
        key = [item.id, item.run, item.method, item.encoding, item.index, item.label, item.options]
        digest.update(json.dumps(key).encode())
        digest.update(hashlib.sha256(item.png).digest())
    return digest.hexdigest()[:12]


# ------------------------------------------------------------------ the page
_CSS = """
:root{color-scheme:light}
body{font:16px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem auto;
max-width:40rem;padding:0 1rem;background:#f6f6f6;color:#222;text-align:center}
h1{font-size:1.4rem;margin:0 0 .5rem}
p{margin:.5rem 0}
#count{font-variant-numeric:tabular-nums;color:#555}
#image{display:block;margin:.75rem auto;width:min(90vw,55vh,448px);height:auto;
background:#fff;border:1px solid #ccc;image-rendering:crisp-edges;image-rendering:pixelated}
#options{display:grid;grid-template-columns:1fr 1fr;gap:.5rem;max-width:28rem;margin:0 auto}
button{font:inherit;padding:.6rem;border:1px solid #888;border-radius:6px;background:#fff;
cursor:pointer;overflow-wrap:anywhere}
button:hover:not(:disabled){background:#e8f0fe}
#options button{min-height:3rem}
#download{margin-top:1.5rem}
.note{color:#555;font-size:.9rem}
"""

# The page's whole script: answers go to localStorage under the study's key after every
# click, and "Download answers" writes them out through a Blob. Labels are set as text.
_SCRIPT = """
"use strict";
const study = JSON.parse(document.getElementById("study").textContent);
const key = "fooling-study-" + study.id;
const image = document.getElementById("image");
const count = document.getElementById("count");
const buttons = Array.from(document.querySelectorAll("#options button"));
let answers = [];
try { answers = JSON.parse(localStorage.getItem(key)) || []; } catch (error) { answers = []; }

function current() {
  const answered = new Set(answers.map(answer => answer.item));
  return study.items.find(item => !answered.has(item.id));
}

function show() {
  const item = current();
  const n = study.items.length;
  document.getElementById("question").hidden = !item;
  document.getElementById("done").hidden = Boolean(item);
  count.textContent = (item ? answers.length + 1 : n) + " of " + n;
  if (!item) return;
  buttons.forEach((button, i) => { button.textContent = item.options[i]; button.disabled = true; });
  image.dataset.item = item.id;
  image.src = item.src;
}

function answer(i) {
  const item = current();
  if (!item) return;
  answers.push({item: item.id, run: item.run, method: item.method, encoding: item.encoding,
                class: item.class, label: item.label, choice: item.options[i],
                options: item.options, time: new Date().toISOString()});
  try { localStorage.setItem(key, JSON.stringify(answers)); } catch (error) { /* kept here */ }
  show();
}

function download() {
  const data = {format: study.format, version: study.version, study: study.id,
                items: study.items.length, answers: answers};
  const blob = new Blob([JSON.stringify(data, null, 1)], {type: "application/json"});
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "answers-" + study.id + ".json";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

image.addEventListener("load", () => buttons.forEach(button => { button.disabled = false; }));
buttons.forEach((button, i) => button.addEventListener("click", () => answer(i)));
document.getElementById("download").addEventListener("click", download);
show();
"""


def study_page(study: Study) -> str:
    """The HTML of the study page: one file, images inline, no network, labels as text.

    Args:
        study: the study, its items in the order to show them.

    Returns:
        The page's text.
    """
    data = {
        "format": ANSWERS_FORMAT, "version": PAGE_VERSION, "id": study.id,
        "items": [item.on_page() for item in study.items],
    }  # fmt: skip
    # Inside <script>, "</script" or "<!--" would end or derail the element: write every "<"
    # as \u003c, which JSON.parse reads back as "<".
    embedded = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    buttons = "".join('<button type="button"></button>' for _ in range(OPTIONS))
    n = len(study.items)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>Which class is it? (study {escape(study.id)})</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Which class is it?</h1>
<p class="note">Each picture was labelled by a classifier as one of the four labels under
it. Choose the one you think it shows; if you cannot tell, make your best guess.</p>
<p id="count">1 of {n}</p>
<div id="question">
<img id="image" alt="the picture to label">
<div id="options">{buttons}</div>
</div>
<div id="done" hidden>
<p>All {n} answered: thank you. Download your answers and send the file to whoever gave you
this page.</p>
</div>
<button type="button" id="download">Download answers</button>
<p class="note">Your answers stay in this browser: closing or reloading the page continues
where you were.</p>
<script type="application/json" id="study">{embedded}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""


__all__ = ["PER_RUN", "Study", "StudyItem", "built_in_labels", "make_study", "study_page"]
