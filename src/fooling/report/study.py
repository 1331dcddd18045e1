"""Can people see the class? The answers that study pages save, and their score.

The paper (Nguyen et al. 2015) observes that CPPN fooling images are sometimes
recognisable once the class is known, while direct-encoding (noise) images are
not. `fooling.report.study_page` makes a page that asks people: each image with
four labels to choose from, the true one among them. This module reads the
answers files the page saves and gives, per run and per method and encoding,
the share recognised with its 95% Wilson interval (`score_answers`); chance is
one in four (`CHANCE`).

An answers file (`ANSWERS_FORMAT`, version `PAGE_VERSION`):

    {"format": "fooling-study-answers", "version": 1, "study": "<id>", "items": 20,
     "answers": [{"item": 7, "run": "cppn", "method": "evolve", "encoding": "cppn",
                  "class": 3, "label": "3", "choice": "5", "options": ["5", "3", "1", "8"],
                  "time": "2025-01-01T12:00:00.000Z"}]}

`item` is the image's id in the study (see the study's `summary.json`), `run` the
run folder's name, `label` the true label and `choice` the one picked. Within a
file the last answer to an item counts; several files (several people) add up.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fooling.errors import FoolingError, first_line

ANSWERS_FORMAT = "fooling-study-answers"
"""The `format` of an answers file (and of a study's `summary.json`)."""
PAGE_VERSION = 1
"""The version of the study page and of the answers file it writes."""
OPTIONS = 4
"""Labels to choose from per image: the true one and `OPTIONS - 1` others."""
CHANCE = 1 / OPTIONS
"""The share a person who guesses recognises."""
Z_95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95% interval."""
MAX_ANSWERS_BYTES = 64 * 2**20
"""The largest answers file read (a study of 100,000 images answers in about 30 MB)."""


@dataclass(frozen=True)
class Answer:
    """One person's answer to one item.

    Attributes:
        item: the item's id in its study.
        run: the run folder's name.
        method: `"evolve"` or `"ascend"`.
        encoding: `"direct"`, `"cppn"` or None.
        index: the class index.
        label: the true label.
        choice: the label chosen.
        options: the labels shown.
        time: when it was given (ISO 8601, as the browser wrote it).
    """

    item: int
    run: str
    method: str
    encoding: str | None
    index: int
    label: str
    choice: str
    options: tuple[str, ...]
    time: str

    @property
    def recognised(self) -> bool:
        """Whether the choice is the true label."""
        return self.choice == self.label


@dataclass(frozen=True)
class AnswersFile:
    """An answers file as the page saved it, one answer per item (the last one given).

    Attributes:
        path: the file.
        study: the study's id.
        answers: the answers, one per item.
    """

    path: Path
    study: str
    answers: list[Answer]


@dataclass(frozen=True)
class StudyScore:
    """How often people recognised the class of one run's images (or of a method's).

    Attributes:
        run: the run folder's name; None for all runs of `method` and `encoding`.
        method: `"evolve"` or `"ascend"`.
        encoding: `"direct"`, `"cppn"` or None.
        recognised: answers whose choice was the true label.
        answered: answers in all.
        low: the lower end of the 95% Wilson interval of the share.
        high: its upper end.
    """

    run: str | None
    method: str
    encoding: str | None
    recognised: int
    answered: int
    low: float
    high: float

    @property
    def share(self) -> float:
        """The share recognised."""
        return self.recognised / self.answered


def read_answers(path: str | Path) -> AnswersFile:
    """Read one answers file that the study page saved.

    Args:
        path: the JSON file.

    Returns:
        Its answers; of several for the same item, the last one counts.

    Raises:
        FoolingError: the file cannot be read, is not JSON, is not an answers file of
            this format version, or an answer is malformed (a field missing or of the
            wrong type, options that are not `OPTIONS` distinct labels, or a true label
            or choice that is not among them).
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_ANSWERS_BYTES + 1)
    except OSError as error:
        raise FoolingError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_ANSWERS_BYTES:
        raise FoolingError(f"{path} is over {MAX_ANSWERS_BYTES >> 20} MB: not an answers file")
    try:
        content = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise FoolingError(f"{path} is not JSON: {first_line(error)}") from None
    if not isinstance(content, dict) or content.get("format") != ANSWERS_FORMAT:
        raise FoolingError(f"{path} is not an answers file of a fooling study page")
    version = content.get("version")
    if version != PAGE_VERSION or isinstance(version, bool):
        raise FoolingError(
            f"{path} has answers of format version {version!r}; this fooling reads version "
            f"{PAGE_VERSION}"
        )
    study, answers = content.get("study"), content.get("answers")
    if not isinstance(study, str) or not study:
        raise FoolingError(f"{path} names no study")
    if not isinstance(answers, list):
        raise FoolingError(f"{path} holds no list of answers")
    kept: dict[int, Answer] = {}
    for number, answer in enumerate(answers, start=1):
        try:
            parsed = _answer(answer)
        except ValueError as error:
            raise FoolingError(f"{path}: answer {number} {error}") from None
        kept.pop(parsed.item, None)  # the last answer to an item counts, in its place
        kept[parsed.item] = parsed
    return AnswersFile(path, study, list(kept.values()))


def _answer(value: Any) -> Answer:
    """One answer, checked.

    Raises:
        ValueError: what is wrong with it, as the end of a sentence ("has no run").
    """
    if not isinstance(value, dict):
        raise ValueError("is not a JSON object")

    def text(name: str, *, null: bool = False) -> Any:
        field_value = value.get(name)
        if field_value is None and null and name in value:
            return None
        if not isinstance(field_value, str) or not field_value:
            raise ValueError(f"has no {name} (a string)")
        return field_value

    def number(name: str) -> int:
        field_value = value.get(name)
        if isinstance(field_value, bool) or not isinstance(field_value, int) or field_value < 0:
            raise ValueError(f"has no {name} (a whole number >= 0)")
        return field_value

    options = value.get("options")
    if (
        not isinstance(options, list)
        or len(options) != OPTIONS
        or not all(isinstance(option, str) for option in options)
        or len(set(options)) != OPTIONS
    ):
        raise ValueError(f"has no options ({OPTIONS} different labels)")
    answer = Answer(
        item=number("item"), run=text("run"), method=text("method"),
        encoding=text("encoding", null=True), index=number("class"), label=text("label"),
        choice=text("choice"), options=tuple(options), time=text("time"),
    )  # fmt: skip
    if answer.label not in options:
        raise ValueError(f"has a true label {answer.label!r} that is not among its options")
    if answer.choice not in options:
        raise ValueError(f"has a choice {answer.choice!r} that is not among its options")
    return answer


def wilson_interval(recognised: int, answered: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a share `recognised / answered`.

    Args:
        recognised: successes, `0 <= recognised <= answered`.
        answered: trials, at least 1.
        z: the normal quantile (1.96 for 95%).

    Returns:
        `(low, high)`, within [0, 1]; 10 of 10 gives (0.7225, 1.0).

    Raises:
        ValueError: `answered` is below 1 or `recognised` outside 0..answered.
    """
    if answered < 1 or not 0 <= recognised <= answered:
        raise ValueError(f"no interval for {recognised} of {answered}")
    share, z2 = recognised / answered, z * z
    centre = share + z2 / (2 * answered)
    spread = z * math.sqrt(share * (1 - share) / answered + z2 / (4 * answered * answered))
    scale = 1 + z2 / answered
    low = 0.0 if recognised == 0 else max(0.0, (centre - spread) / scale)
    high = 1.0 if recognised == answered else min(1.0, (centre + spread) / scale)
    return low, high


def score_answers(paths: str | Path | Sequence[str | Path]) -> list[StudyScore]:
    """The share of images whose class people recognised, per run and per method and encoding.

    Within a file, the last answer to an item counts; several files (several
    people) add up.

    Args:
        paths: answers files saved by study pages.

    Returns:
        One score per run (by folder name, in name order), then one per method and
        encoding over all runs (`run` None), each with its 95% Wilson interval.

    Raises:
        FoolingError: no file is given, a file is bad (see `read_answers`), or the files
            hold no answer at all.
    """
    paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(path) for path in paths]
    if not paths:
        raise FoolingError("give at least one answers file to score")
    answers = [answer for path in paths for answer in read_answers(path).answers]
    if not answers:
        raise FoolingError(f"no answers in {', '.join(map(str, paths))}: nothing to score")
    groups: dict[tuple[str | None, str, str | None], list[bool]] = {}
    for answer in answers:
        for run in (answer.run, None):
            groups.setdefault((run, answer.method, answer.encoding), []).append(answer.recognised)

    def order(key: tuple[str | None, str, str | None]) -> tuple[bool, str, str, str]:
        run, method, encoding = key
        return run is None, run or "", method, encoding or ""

    scores = []
    for key in sorted(groups, key=order):
        recognised, answered = sum(groups[key]), len(groups[key])
        scores.append(
            StudyScore(*key, recognised, answered, *wilson_interval(recognised, answered))
        )
    return scores


def format_scores(scores: Sequence[StudyScore]) -> str:
    """The scores as a table, one row per score, then the chance rate.

    Args:
        scores: as `score_answers` returns them.

    Returns:
        Lines such as `cppn  evolve  cppn  10/10  100.0%  [72.2%, 100.0%]`, without a
        final newline.
    """
    rows = [("run", "method", "encoding", "recognised", "share", "95% CI")]
    for score in scores:
        rows.append((
            score.run if score.run is not None else "(all)", score.method,
            score.encoding or "-", f"{score.recognised}/{score.answered}", f"{score.share:.1%}",
            f"[{score.low:.1%}, {score.high:.1%}]",
        ))  # fmt: skip
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    lines.append(f"chance: {CHANCE:.1%} (one of {OPTIONS} labels)")
    return "\n".join(lines)


def scores_summary(paths: Sequence[str | Path], scores: Sequence[StudyScore]) -> dict[str, Any]:
    """The `summary.json` of a scoring: the answers files, the chance rate and every score.

    Args:
        paths: the answers files scored.
        scores: their scores.

    Returns:
        A JSON-ready dict.
    """
    return {
        "method": "study-score", "format": ANSWERS_FORMAT, "version": PAGE_VERSION,
        "answers": [str(path) for path in paths], "chance": CHANCE, "interval": "wilson-95",
        "scores": [{**asdict(score), "share": score.share} for score in scores],
    }  # fmt: skip


__all__ = [
    "ANSWERS_FORMAT",
    "CHANCE",
    "OPTIONS",
    "PAGE_VERSION",
    "Answer",
    "AnswersFile",
    "StudyScore",
    "format_scores",
    "read_answers",
    "score_answers",
    "scores_summary",
    "wilson_interval",
]
