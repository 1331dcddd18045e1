"""The paper at its budget (issue 23): publish a `fooling reproduce` folder, finished or not.

    python benchmarks/campaign.py export imagenet|mnist REPORT_DIR DEST

`REPORT_DIR` is the `--out` of `fooling reproduce imagenet|mnist` at the paper's settings,
a run of hours kept outside the work tree and continued across sessions by running the
same command again. `export` writes what it has reached to `DEST` (e.g. `docs/results/
imagenet`), whether the report has finished or not:

- `report.md`: the CPU (model and the flags that decide precision), each step's status
  (finished, with its wall time; in progress, with the generation reached, its search
  time so far and the time it would take to finish at its recent rate; or not started),
  the headline figures beside the paper's, and, once the report has finished, the whole
  report as `report.html` shows it (its table, notes, further tables, differences from the
  original code and steps);
- `<step>.summary.json` for each finished step, `<step>.progress.csv` for each evolution
  step (the curve so far), and `<step>.png`, a contact sheet of its elites (at most 2 MB);
- `curves.png`: median confidence over generations of each evolution step;
- for a retraining step (finished or not): `<step>.summary.json`, `<step>.png` (its
  figures over iterations) and `<step>.gathered.png` (a row of the fooling images each
  iteration gathered).

An evolution step in progress is read from its checkpoint: its elites are re-scored
here in fp32 on torch, as a finished run's summary is, since the search itself scores
in bf16 on OpenVINO where the CPU has it.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import re
import shutil
import statistics
import sys
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from reproduce_runs import markdown_table

from fooling.classifiers import load_classifier
from fooling.data.mnist import load_mnist
from fooling.errors import FoolingError
from fooling.experiments.near_real import NearReal
from fooling.experiments.retrain import IMAGES_FORMAT
from fooling.machine import describe_cpu
from fooling.records import Statistics
from fooling.reproduce.findings import extra_table
from fooling.reproduce.imagenet import ImagenetPlan
from fooling.reproduce.mnist import MnistPlan, recall_far
from fooling.reproduce.reading import (
    PAPER_LEVEL,
    adversarial_figures,
    cppn_size,
    detection_table,
    percent,
    summary_of,
)
from fooling.reproduce.steps import REPORT_DIR, Step, read_manifest, run_folder
from fooling.runs.images import read_png
from fooling.runs.progress import read_progress
from fooling.runs.state import load_state
from fooling.search.evolution import read_checkpoint

SHEET_BYTES = 2 * 2**20  # the most a contact sheet may take
ASCENT_CROP = 64  # ascent's sheet: a square this size from each image larger than it
ASCENT_SHOWN = 100  # ... of at most this many classes
CROP_GAP = 2  # white pixels between crops
COMPARED = {"evolve-cppn-hidden32": "evolve-cppn"}  # a run, and the run it varies
STRIP = 24  # gathered images shown per retraining iteration
PAPER = {  # the paper's headline figures, by step: (median confidence, classes at >= 99%)
    "evolve-cppn": (0.8811, None),
    "evolve-direct": (0.2159, 45),
}
RECENT = 200  # generations whose rate projects the time to finish
SLOPE = 1000  # generations over which a headline says how fast the median still rises
PAUSE = 60  # a generation this many times slower than the median was paused


def export(dataset: str, report: Path, dest: Path) -> None:
    manifest = read_manifest(report)  # (written once the first step has finished)
    settings = manifest.get("settings") or {"dataset": dataset, "quick": False}
    if settings["dataset"] != dataset:
        sys.exit(f"{report} is a report on {settings['dataset']}, not {dataset}")
    if dataset == "imagenet":
        plan = ImagenetPlan(quick=bool(settings["quick"]), data=settings.get("data"))
    else:
        plan = MnistPlan(quick=bool(settings["quick"]),
                         retrain_iterations=settings.get("retrain_iterations"),
                         seeds=settings.get("seeds"))  # fmt: skip
    dest.mkdir(parents=True, exist_ok=True)
    lines = [f"# `fooling reproduce {dataset}` at the paper's settings", ""]
    lines += [f"CPU: {describe_cpu()}, {torch.get_num_threads()} threads. Steps run at a "
              "low priority (`nice`) beside the project's other work, so their wall times "
              "are upper bounds; time the process was stopped (to measure something else "
              "alone) is left out and shown apart. How each campaign ran: "
              "[docs/results/README.md](../README.md).",
              ""]  # fmt: skip
    lines += ["| step | status | reached | wall time | search ran on | command |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    curves, headline, ascents, tables = {}, [], [], []
    for step in plan.steps():
        folder = run_folder(report, step.name)
        record = (manifest.get("steps") or {}).get(step.name)
        command = _braced(step.command(Path(REPORT_DIR)))
        status, generations, wall, scored = "not started", "", "", ""
        if record is not None:
            status, wall = "finished", _hours(record["seconds"])
            shutil.copy(folder / "summary.json", dest / f"{step.name}.summary.json")
        paused = 0.0
        progress = folder / "progress.csv"
        if step.command_name == "evolve" and progress.is_file():
            rows = read_progress(progress)
            planned = int(step.arguments[step.arguments.index("--generations") + 1])
            curves[step.name] = rows
            shutil.copy(progress, dest / f"{step.name}.progress.csv")
            generations = f"{rows[-1].generation:,} of {planned:,}"
            paused = _paused(rows)
            finished = record is not None or _ended(folder, planned)
            if not finished:
                status = "in progress"
                wall = (f"{_hours(rows[-1].seconds - paused)} so far; about "
                        f"{_hours(_remaining(rows, planned))} to go")  # fmt: skip
            else:  # (the step's record times only its last session; the log, every one)
                wall = _hours(rows[-1].seconds - paused)
            if record is None and finished:  # run by hand with the step's command
                status = "finished (started by hand; reproduce reuses it)"
                shutil.copy(folder / "summary.json", dest / f"{step.name}.summary.json")
            scored = _scored_on(folder)
            figures = _elites(folder, step, finished=finished, dest=dest)
            cap = _cap_usage(report, step) if finished else ""
            headline.append(_headline(step.name, rows, planned, figures) + cap
                            + _beside(step.name, rows, curves))  # fmt: skip
        summary = folder / "summary.json"
        if step.command_name == "retrain" and summary.is_file():
            retraining = json.loads(summary.read_text())
            iterations = retraining["iterations"]
            planned = int(step.arguments[step.arguments.index("--iterations") + 1])
            shutil.copy(summary, dest / f"{step.name}.summary.json")
            if (folder / "plots" / "retrain.png").is_file():  # its figures over iterations
                shutil.copy(folder / "plots" / "retrain.png", dest / f"{step.name}.png")
            _gathered_strip(folder, dest / f"{step.name}.gathered.png", len(iterations) - 1)
            generations = f"iteration {len(iterations) - 1} of {planned}"
            wall = _hours(sum(row["seconds"] for row in iterations))  # (every session's)
            if record is None and retraining.get("finished") and len(iterations) > planned:
                status = "finished (started by hand; reproduce reuses it)"
            elif record is None:
                status, wall = "in progress", f"{wall} so far"
            recorded = all("held_out_far" in row for row in iterations[1:])  # newer runs
            far = {} if recorded else _held_out_far(folder)
            searched = retraining["settings"]["generations"]  # (each iteration's search)
            headline.append(_retrain_headline(step.name, iterations, far, searched))
        if record is not None and step.command_name == "ascend":
            ascents.append(folder)
        elif record is not None and step.command_name in ("ablate", "transfer"):
            headline.append(_finding(step, folder, dest))
        elif record is not None and step.command_name in ("adversarial", "figure1"):
            headline.append(_measured(report, step))
        elif record is not None and step.command_name == "detect":
            tables.append(extra_table(*detection_table(report, step.name)))
        if paused:
            wall += f" (and {_hours(paused)} paused)"
        lines.append(f"| {step.name} | {status} | {generations} | {wall} | {scored} | "
                     f"`{command}` |")  # fmt: skip
    if ascents:
        headline.append(_ascent_headline(plan, ascents, dest))
    if (report / "summary.json").is_file() and (report / "report.html").is_file():
        lines += ["", "## Headline figures", "", *headline, ""]  # (the report has the tables)
        whole = markdown_table(report).splitlines()  # its headings, a level down
        lines += [
            f"## The report: {whole[0].removeprefix('# ')}",
            *(f"#{line}" if line.startswith("#") else line for line in whole[1:]),
        ]
    else:
        lines += ["", "## Headline figures so far", "", *headline, ""]
        lines += [line for table in tables for line in (*table, "")]
    (dest / "report.md").write_text("\n".join(lines) + "\n")
    if curves:
        _plot(curves, dest / "curves.png")
    print(f"wrote {dest / 'report.md'}")


def _ended(folder: Path, planned: int) -> bool:
    """Whether an evolution step's run reached its planned generations and wrote its
    summary, though `reproduce` has not recorded it (it was started by hand)."""
    summary = folder / "summary.json"
    return summary.is_file() and json.loads(summary.read_text())["generations"] >= planned


def _elites(folder: Path, step: Step, *, finished: bool, dest: Path) -> dict[str, float]:
    """Median confidence and classes at >= 0.99 in fp32, the generation they are of (a
    run in progress: its last checkpoint's), and the contact sheet."""
    if finished:
        summary = json.loads((folder / "summary.json").read_text())
        images = torch.stack([read_png(folder / cell["image"]) for cell in summary["classes"]])
        confidences = torch.tensor([cell["confidence"] for cell in summary["classes"]])
        generation = int(summary["generations"])
    else:
        state = read_checkpoint(folder / "checkpoint")
        archive, generation = state["archive"], int(state["generation"])
        images, stored = archive["images"], archive["confidence"]
        classifier = load_classifier(step.arguments[step.arguments.index("--classifier") + 1],
                                     "cpu", backend="torch", precision="fp32")  # fmt: skip
        # scored here, not taken from the archive: those are the search's (bf16) figures,
        # and an fp32 classifier's exact_confidences would hand them back unchanged
        scored = classifier.exact_probabilities(images.float().div(255))
        mine = scored.gather(1, archive["classes"].view(-1, 1)).squeeze(1)
        confidences = torch.where(stored < 0, stored, mine)  # (-1: an empty cell)
    contact_sheet(images, dest / f"{step.name}.png")
    figures = Statistics.of(confidences)  # as a run's summary counts them
    return {"median": figures.median, "fooled": figures.fooled, "classes": len(confidences),
            "generation": generation}  # fmt: skip


def _ascent_headline(plan: ImagenetPlan | MnistPlan, folders: list[Path], dest: Path) -> str:
    """The finished ascent steps together: classes at the paper's 99.99% as re-scored in
    fp32 and as the search scored them when it stopped, the steps taken, and one sheet."""
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in folders]
    cells = [(folder, cell) for folder, summary in zip(folders, summaries, strict=True)
             for cell in summary["classes"]]  # fmt: skip
    # runs made before ascent confirmed its stop in fp32 do not say where they stopped
    in_fp32 = all(summary["ascent"].get("stopped_in") == "fp32" for summary in summaries)
    shown = _ascent_sheet(torch.stack([read_png(folder / cell["image"]) for folder, cell in cells]),
                          dest / "ascend.png")  # fmt: skip
    confidences = [cell["confidence"] for _, cell in cells]
    last_rows = [read_progress(folder / "progress.csv")[-1] for folder in folders]
    for folder in folders:
        shutil.copy(folder / "progress.csv", dest / f"{folder.name}.progress.csv")
    planned = sum(step.command_name == "ascend" for step in plan.steps())
    steps = sorted(row.generation for row in last_rows)
    searched = min(row.lowest_confidence for row in last_rows)
    at = sum(confidence >= PAPER_LEVEL for confidence in confidences)
    stop = "fp32 scores" if in_fp32 else "the search scores"
    return (f"- **ascend** ({len(folders)} of {planned} steps finished): each class stops "
            f"once {stop} it at ≥ 99.99%; every step had stopped all its classes "
            f"after {_span(steps)} steps, the lowest at {searched:.6f} as the search "
            f"scored it. Re-scored in fp32: {at} of {len(confidences)} classes at ≥ 99.99% "
            f"(the paper: every class), median {percent(statistics.median(confidences))}, "
            f"lowest {min(confidences):.6f}. [ascend.png](ascend.png) shows {shown}, in "
            "class order.")  # fmt: skip


def _ascent_sheet(images: torch.Tensor, path: Path) -> str:
    """The ascent's contact sheet; returns what it shows. Images larger than `ASCENT_CROP`
    are shown by their centres at full resolution: shrunk whole, their fine noise
    averages to grey."""
    if images.shape[-1] <= ASCENT_CROP:
        contact_sheet(images, path)
        return "every image"
    every = math.ceil(len(images) / ASCENT_SHOWN)
    contact_sheet(images[::every], path, crop=ASCENT_CROP)
    which = "every image" if every == 1 else f"the image of one class in {every}"
    return (f"the {ASCENT_CROP}-pixel square at the centre of {which}, at full resolution "
            "(shrunk whole, their fine noise averages to grey)")  # fmt: skip


def _span(values: list[int]) -> str:
    return f"{values[0]}" if values[0] == values[-1] else f"{values[0]} to {values[-1]}"


def _finding(step: Step, folder: Path, dest: Path) -> str:
    """A finished ablation's or transfer's figures, and its plot copied as `<step>.png`."""
    summary = json.loads((folder / "summary.json").read_text())
    plot = folder / "plots" / ("median.png" if step.command_name == "ablate" else "transfer.png")
    shown = ""
    if plot.is_file():
        shutil.copy(plot, dest / f"{step.name}.png")
        shown = f" [{step.name}.png]({step.name}.png)"
    if step.command_name == "ablate":
        after = summary["median_after_all"]
        found = (f"repeated copies found in {summary['classes_with_motif']} of "
                 f"{summary['classes_ablated']} elites")  # fmt: skip
        if after is None:
            return f"- **{step.name}**: {found}; nothing to ablate."
        return (f"- **{step.name}**: {found}; their median confidence "
                f"{percent(summary['median_motif'][0])} falls to {percent(after['motif'])} as "
                f"every copy is removed, and to {percent(after['control'])} when the same area "
                f"is removed elsewhere (the paper: confidence drops as copies are "
                f"removed).{shown}")  # fmt: skip
    pairs = [f"{Path(row['run']).name} → {row['target']}: same top-1 "
             f"{percent(row['same_top1'], 1)}, at ≥ 99% {percent(row['at_0.99'], 1)} (on the "
             f"network it was evolved on: {percent(row['source_at_0.99'], 1)})"
             for row in summary["table"]]  # fmt: skip
    return f"- **{step.name}**, elites classified alike: {'; '.join(pairs)}.{shown}"


def _measured(report: Path, step: Step) -> str:
    """A finished attack's or Figure 1's figures (the report's rows say the same once it ends)."""
    if step.command_name == "figure1":
        summary = summary_of(report, step.name)
        return (
            f"- **{step.name}**: fooling points lie {summary['mean_distance_fooling']:.2f} "
            f"from the nearest training point, adversarial ones "
            f"{summary['mean_distance_adversarial']:.3f} ({summary['ratio']:.0f} times nearer)."
        )
    figures = adversarial_figures(report, step.name)
    paper = " (Goodfellow et al., a maxout network at ε 0.25: 89.4%)" if step.name == "fgsm" else ""
    return (f"- **{step.name}**: {percent(figures['success_rate'], 1)} of "
            f"{figures['images']} test digits misclassified{paper}, mean confidence "
            f"{percent(figures['mean_confidence'], 1)} in the wrong class, mean L∞ "
            f"{figures['mean_linf']:.3f}, mean L2 {figures['mean_l2']:.2f}.")  # fmt: skip


def _cap_usage(report: Path, step: Step) -> str:
    """For a finished CPPN run: how many elites use every hidden node they may have."""
    if step.arguments[step.arguments.index("--encoding") + 1] != "cppn":
        return ""
    size = cppn_size(report, step.name)
    return (f" {size['at_cap']} of its {size['elites']} elites use all {size['max_hidden']} "
            f"hidden nodes they may have (mean {size['mean_hidden']:.1f}).")  # fmt: skip


def _scored_on(folder: Path) -> str:
    """The backend and precision the search scored in, as its checkpoint says."""
    try:
        model = read_checkpoint(folder / "checkpoint")["settings"]["model"]
    except (FoolingError, KeyError, TypeError):
        return "?"
    return f"{model.get('backend')} {model.get('precision')}"


def _headline(name: str, rows: list, planned: int, figures: dict[str, float]) -> str:
    paper = PAPER.get(name)
    said = f"- **{name}** at generation {figures['generation']:,} of {planned:,}"
    if figures["generation"] != rows[-1].generation:
        said += f" (its last checkpoint; its log goes on to {rows[-1].generation:,})"
    said += (f": median confidence {percent(figures['median'])}, {figures['fooled']} of "
             f"{figures['classes']} classes at ≥ 99% (fp32)")  # fmt: skip
    if paper is not None:
        median, classes = paper
        said += f"; the paper's AlexNet: median {percent(median)}" + (
            f", {classes} classes at ≥ 99%" if classes is not None else ", many classes at ≥ 99%"
        )
    if rows[-1].generation > SLOPE:
        start = rows[-1].generation - SLOPE
        before = next(row for row in reversed(rows) if row.generation <= start)
        rise = rows[-1].median_confidence - before.median_confidence
        said += (f". Over its last {SLOPE:,} generations the median (as scored in the search) "
                 f"rose {rise * 100:+.2f} points, from {percent(before.median_confidence)} to "
                 f"{percent(rows[-1].median_confidence)}")  # fmt: skip
    return said + "."


def _beside(name: str, rows: list, curves: dict[str, list]) -> str:
    """For a run that varies another (`COMPARED`): both medians at this run's last
    generation, by the search's scores (the other run's fp32 figures are at its end)."""
    other = COMPARED.get(name)
    if other not in curves:
        return ""
    generation = rows[-1].generation
    then = next((row for row in reversed(curves[other]) if row.generation <= generation), None)
    if then is None:
        return ""
    return (f" By the search's scores at generation {then.generation:,}: median "
            f"{percent(rows[-1].median_confidence)}, against {percent(then.median_confidence)} for "
            f"{other} at the same generation.")  # fmt: skip


def _retrain_headline(name: str, iterations: list[dict], far: dict[int, int],
                      generations: int) -> str:  # fmt: skip
    """Each retraining iteration's recall (and of how many images far from real digits),
    digits fooled in its search of `generations`, share near real digits and cost."""

    def each(key: str, form: str) -> str:
        shown = [form.format(row[key]) if row.get(key) is not None else "none"
                 for row in iterations[1:]]  # fmt: skip
        return " / ".join(shown) or "none yet"

    recalls = " / ".join(recall_far(row, far.get(row["iteration"]), places=3)
                         for row in iterations[1:]) or "none yet"  # fmt: skip
    return (f"- **{name}** at iteration {len(iterations) - 1}: per iteration, fooling recall "
            f"on the held-out images far from real digits {recalls}"
            f"; digits of 10 that a fresh evolution against the new network takes to ≥ 99% "
            f"in {generations} generations "
            f"{each('fooled_at_0.99', '{}')} (with an image far from every real digit: "
            f"{each('fooled_at_0.99_far_from_real', '{}')})"
            f"; share of gathered images near a real digit {each('gathered_near_real', '{:.0%}')}"
            f"; fooling images gathered and trained on {each('gathered', '{}')}"
            f"; searches {each('gathered_searches', '{}')}; seconds {each('seconds', '{:.0f}')}; "
            f"capped {each('gathering_capped', '{}')}."
            + (f" [{name}.gathered.png]({name}.gathered.png) shows, a row per iteration, "
               "fooling images it gathered." if len(iterations) > 1 else ""))  # fmt: skip


def _held_out_far(run: Path) -> dict[int, int]:
    """How many of each finished iteration's held-out fooling images lie far from every
    real MNIST digit (the images its far-from-real recall is measured on), by the same
    `NearReal` measure retraining calibrates."""
    saved = sorted(run.glob("iterations/*/fooling.safetensors"))
    if not saved:
        return {}
    near_real = NearReal.calibrate(load_mnist("train")[0], load_mnist("test")[0])
    return {int(path.parent.name): int(near_real.far(load_state(path, kind=IMAGES_FORMAT)
                                                      ["held_out"]).sum())
            for path in saved}  # fmt: skip


def _durations(rows: list) -> list[float]:
    return [after.seconds - before.seconds for before, after in itertools.pairwise(rows)]


def _paused(rows: list) -> float:
    """Seconds of generations that took over `PAUSE` times the median: the process was
    stopped (SIGSTOP) in them, to measure something else alone; not the search's time."""
    durations = _durations(rows)
    if not durations:
        return 0.0
    typical = statistics.median(durations)
    return sum(d - typical for d in durations if d > PAUSE * typical)


def _remaining(rows: list, planned: int) -> float:
    """Seconds to reach `planned` at the rate of the last `RECENT` generations (pauses out)."""
    recent = rows[-RECENT:]
    if len(recent) < 2:
        return math.nan
    seconds = recent[-1].seconds - recent[0].seconds - _paused(recent)
    rate = seconds / (recent[-1].generation - recent[0].generation)
    return rate * (planned - rows[-1].generation)


def _braced(command: str) -> str:
    """`--classes 0 1 ... 99` as bash's `--classes {0..99}`: the same command, shorter."""

    def braces(match: re.Match[str]) -> str:
        numbers = [int(word) for word in match.group(1).split()]
        if numbers != list(range(numbers[0], numbers[-1] + 1)) or len(numbers) < 3:
            return match.group(0)
        return f"--classes {{{numbers[0]}..{numbers[-1]}}}"

    return re.sub(r"--classes ((?:\d+ )+\d+)", braces, command)


def _hours(seconds: float) -> str:
    if math.isnan(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def contact_sheet(images: torch.Tensor, path: Path, *, crop: int | None = None) -> None:
    """Every image in class order on one PNG, thumbnails shrunk until it fits `SHEET_BYTES`.

    `images` are `uint8 [N, C, H, W]`, as runs store them (a float tensor is refused: a
    sheet of 0-255 values read as 0-1 came out white once, unnoticed). With `crop`, each
    thumbnail is instead the `crop`-pixel square at its image's centre, at full
    resolution: pixel ascent's images are fine noise, which shrinking averages to grey."""
    if images.dtype != torch.uint8:
        raise TypeError(f"contact_sheet takes uint8 images, not {images.dtype}")
    columns = math.ceil(math.sqrt(len(images) * 1.6))
    for size in (64, 48, 40, 32, 24, 16) if crop is None else (crop,):
        if crop is None:
            thumbs = torch.nn.functional.interpolate(images.float().div(255), size=size,
                                                     mode="area")  # fmt: skip
        else:
            top, left = (images.shape[-2] - crop) // 2, (images.shape[-1] - crop) // 2
            thumbs = images[..., top : top + crop, left : left + crop].float().div(255)
        rows = math.ceil(len(images) / columns)
        pitch = size + (0 if crop is None else CROP_GAP)  # crops of noise would run together
        canvas = torch.ones(thumbs.shape[1], rows * pitch, columns * pitch)
        for index, thumb in enumerate(thumbs):
            top, left = (index // columns) * pitch, (index % columns) * pitch
            canvas[:, top : top + size, left : left + size] = thumb
        array = canvas.mul(255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        image = Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= SHEET_BYTES:
            path.write_bytes(buffer.getvalue())
            return
    raise RuntimeError(f"no contact sheet of {len(images)} images fits {SHEET_BYTES} bytes")


def _gathered_strip(run: Path, path: Path, finished: int) -> None:
    """One row per finished retraining iteration (1 to `finished`): `STRIP` of the fooling
    images it gathered, evenly spaced in the order found, so that the drift toward legible
    digits shows. An iteration still in progress may have gathered already: not shown."""
    rows = []
    for number in range(1, finished + 1):
        saved = run / "iterations" / f"{number:02d}" / "fooling.safetensors"
        if not saved.is_file():
            continue
        trained = load_state(saved, kind=IMAGES_FORMAT)["trained"]
        picked = torch.linspace(0, len(trained) - 1, min(STRIP, len(trained))).round().long()
        rows.append(torch.cat(list(trained[picked].float().div(255)), dim=-1))
    if not rows:
        return
    width = max(row.shape[-1] for row in rows)
    canvas = torch.ones(rows[0].shape[0], len(rows) * rows[0].shape[-2], width)
    for index, row in enumerate(rows):
        height = row.shape[-2]
        canvas[:, index * height : (index + 1) * height, : row.shape[-1]] = row
    canvas = torch.nn.functional.interpolate(canvas[None], scale_factor=2, mode="nearest")[0]
    array = canvas.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).save(path)


def _plot(curves: dict[str, list], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for name, rows in curves.items():
        axes.plot([row.generation for row in rows], [row.median_confidence for row in rows],
                  label=name)  # fmt: skip
        if name in PAPER:
            axes.axhline(PAPER[name][0], linestyle="--", linewidth=1, color="#888888")
    axes.set_xlabel("generation")
    axes.set_ylabel("median confidence (the search's own scores)")
    axes.set_ylim(0, 1)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=9)
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    exporting = commands.add_parser("export")
    exporting.add_argument("dataset", choices=("imagenet", "mnist"))
    exporting.add_argument("report", type=Path)
    exporting.add_argument("dest", type=Path)
    args = parser.parse_args()
    export(args.dataset, args.report, args.dest)


if __name__ == "__main__":
    main()
