"""`fooling audit`: how easily a model of the user's is fooled, on the report page.

Each method runs as a step (a real `fooling` command): evolution with both
encodings, gradient ascent, PGD at the ε values of `benchmarks/attack_rates.py`
on real images, and transfer of the fooling images to a reference model when
one is given. Methods that need gradients are marked "not applicable" for a
black box (ONNX). The page's first line is the verdict, in numbers.

Beyond the paper, `--detectors` adds two kinds of step: `fooling detect` on the
fooling images of the searches and of PGD at ε 0.2, and, for each detector, a
CPPN evolution against the model and that detector together (`evolve
--against`). The verdict then says how much the detectors catch, and whether
the model is still fooled with each in place.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fooling.classifiers import BUILT_IN, Classifier
from fooling.encodings import ENCODINGS
from fooling.reproduce.findings import Report, Section, describe_machine
from fooling.reproduce.reading import (
    adversarial_figures,
    detection_cells,
    evolve_figures,
    percent,
    summary_of,
)
from fooling.reproduce.steps import OUT, Step, StepRecord

PGD_EPSILONS = ("0.1", "0.15", "0.2", "0.3")  # those of benchmarks/attack_rates.py
DETECTED_PGD = "pgd-0.2"  # the attack whose examples the detectors score
NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Budget:
    """How much each method may spend.

    Attributes:
        generations: evolution's generations, per encoding.
        population: images per generation.
        ascent_steps: gradient ascent's most steps.
        attack_images: real images attacked (MNIST test digits, for a 28 × 28 model).
        attack_steps: PGD's steps.
    """

    generations: int
    population: int
    ascent_steps: int
    attack_images: int
    attack_steps: int


BUDGETS = {
    "quick": Budget(generations=50, population=100, ascent_steps=100, attack_images=200,
                    attack_steps=20),
    "standard": Budget(generations=200, population=200, ascent_steps=200, attack_images=1000,
                       attack_steps=100),
    "thorough": Budget(generations=1000, population=400, ascent_steps=1000, attack_images=1000,
                       attack_steps=200),
}  # fmt: skip
"""`--budget`: standard is the paper's MNIST setting (200 generations × 200 images)."""


class AuditPlan:
    """The steps and page of `fooling audit`.

    Args:
        classifier: the model audited, already loaded (its kind decides the methods).
        model_arguments: the command-line options that load it again in each step.
        budget: a key of `BUDGETS`.
        reference: a model to transfer the fooling images to (name or file), or None.
        images: real images to attack, for a model that does not take MNIST digits.
        seed: the random seed of every search and attack.
        detectors: out-of-distribution detectors to score the fooling images with and
            to evolve against (`fooling.detectors.DETECTORS`); none when empty.
        data: the model's real images for the detectors (a folder of class
            sub-folders); MNIST for a 28 × 28 gray model when None.
    """

    def __init__(
        self,
        classifier: Classifier,
        model_arguments: list[str],
        *,
        budget: str = "standard",
        reference: str | None = None,
        images: list[Path] | None = None,
        seed: int = 0,
        detectors: list[str] | None = None,
        data: Path | None = None,
    ) -> None:
        self.classifier = classifier
        self.model_arguments = tuple(model_arguments)
        self.budget_name, self.budget = budget, BUDGETS[budget]
        self.reference = reference
        self.images = [str(path) for path in images or []]
        self.seed = seed
        self.mnist = tuple(classifier.input_shape) == (1, 28, 28)
        self.detectors = list(detectors or [])
        self.data = None if data is None else str(data)

    def settings(self) -> dict[str, Any]:
        return {
            "audit": list(self.model_arguments), "budget": self.budget_name,
            "reference": self.reference, "images": self.images, "seed": self.seed,
            **({"detectors": self.detectors, "data": self.data} if self.detectors else {}),
        }  # fmt: skip

    # ------------------------------------------------------------------ what runs
    def gradient_reason(self) -> str | None:
        """Why the gradient methods cannot run, or None when they can."""
        if not self.classifier.differentiable:
            return f"{NOT_APPLICABLE}: a black box (ONNX) gives no gradients"
        return None

    def attack_reason(self) -> str | None:
        """Why PGD cannot run, or None when it can."""
        if self.gradient_reason():
            return self.gradient_reason()
        if not self.mnist and not self.images:
            return f"{NOT_APPLICABLE}: no real images to attack (give --images)"
        return None

    def detector_reason(self) -> str | None:
        """Why the detectors cannot run, or None when they can."""
        if self.gradient_reason():
            return f"{NOT_APPLICABLE}: a black box (ONNX) shows no logits to read"
        if not self.mnist and self.data is None:
            return f"{NOT_APPLICABLE}: no real images to fit the detectors on (give --data)"
        return None

    def steps(self) -> list[Step]:
        budget, model = self.budget, (*self.model_arguments, "--seed", str(self.seed))
        steps = [
            Step(encoding, ("evolve", *model, "--encoding", encoding, "--generations",
                            str(budget.generations), "--population", str(budget.population)))
            for encoding in ENCODINGS
        ]  # fmt: skip
        if self.gradient_reason() is None:
            steps.append(Step("ascend", ("ascend", *model, "--param", "pixel",
                                         "--steps", str(budget.ascent_steps))))  # fmt: skip
        if self.attack_reason() is None:
            for eps in PGD_EPSILONS:
                inputs = self.images or ["--count", str(budget.attack_images)]
                steps.append(Step(f"pgd-{eps}", (
                    "adversarial", *model, "--attack", "pgd", "--eps", eps,
                    "--steps", str(budget.attack_steps), *inputs)))  # fmt: skip
        if self.detectors and self.detector_reason() is None:
            steps += self._detector_steps(steps)
        if self.reference:
            searches = [f"{OUT}/runs/{step.name}" for step in steps if step.name in self._searches]
            options = self._reference_options()
            steps.append(Step("transfer", ("transfer", *searches, "--to", self.reference,
                                           *options)))  # fmt: skip
        return steps

    @property
    def _searches(self) -> tuple[str, ...]:
        """The steps that search: one evolution per encoding, and ascent."""
        return (*ENCODINGS, "ascend")

    def _detector_steps(self, steps: list[Step]) -> list[Step]:
        """`detect` on the searches' and PGD's images, and an evolution against each detector."""
        data = () if self.data is None else ("--data", self.data)
        scored = [f"{OUT}/runs/{step.name}" for step in steps
                  if step.name in (*self._searches, DETECTED_PGD)]  # fmt: skip
        budget, model = self.budget, (*self.model_arguments, "--seed", str(self.seed))
        return [
            Step("detect", ("detect", *scored, *self.model_arguments, "--detectors",
                            *self.detectors, *data)),
            *(Step(f"against-{name}", ("evolve", *model, "--encoding", "cppn", "--generations",
                                       str(budget.generations), "--population",
                                       str(budget.population), "--against", name, *data))
              for name in self.detectors),
        ]  # fmt: skip

    def _reference_options(self) -> list[str]:
        """The audited model's file options, for a reference given as a file of the same kind."""
        if self.reference in BUILT_IN:
            return []
        kept, arguments = [], list(self.model_arguments)
        for option, count in (("--input-shape", 3), ("--labels", 1), ("--mean", None),
                              ("--std", None)):  # fmt: skip
            if option in arguments:
                start = arguments.index(option)
                end = start + 1 + (count or _values_after(arguments, start))
                kept += arguments[start:end]
        return kept

    # ------------------------------------------------------------------ the page
    def report(self, out: Path, records: dict[str, StepRecord]) -> Report:
        table, searches = [], {}
        for name in self._searches:
            if name not in records:
                table.append([_method(name), self.gradient_reason() or "", "", "", ""])
                continue
            figures = evolve_figures(out, name)
            searches[name] = figures
            half = figures["half_fooled_after"]
            table.append([
                _method(name), f"{figures['fooled_at_0.99']}/{figures['classes']} "
                f"({percent(figures['fooled_at_0.99'] / figures['classes'], 0)})",
                percent(figures["median_confidence"]), "—" if half is None else f"{half:,}",
                f"{figures['evaluations']:,} evaluations",
            ])  # fmt: skip
        for eps in PGD_EPSILONS:
            name = f"pgd-{eps}"
            if name not in records:
                table.append([f"PGD, L∞ ε = {eps}", self.attack_reason() or "", "", "", ""])
                continue
            attack = adversarial_figures(out, name)
            table.append([
                f"PGD, L∞ ε = {eps}", f"{percent(attack['success_rate'], 1)} of "
                f"{attack['images']} real images misclassified",
                f"{percent(attack['mean_confidence'])} (in the wrong class)", "—",
                f"mean L2 {attack['mean_l2']:.2f}",
            ])  # fmt: skip
        extra = [("Per method", ["method", "classes fooled at ≥ 99%", "median confidence",
                                 "evaluations until half the classes were fooled", "spent"],
                  table)]  # fmt: skip
        if "transfer" in records:
            extra.append(self._transfer_table(out))
        headline = _verdict(searches, self.classifier)
        if self.detectors:
            table, line = self._detector_table(out, records)
            extra.append(table)
            headline += " " + line
        name = self.classifier.name
        return Report(
            f"Audit of {name}", headline, [], self._sections(records),
            self.steps(), records, describe_machine(str(self.classifier.device)), [],
            [f"Budget '{self.budget_name}': evolution {self.budget.generations} generations × "
             f"{self.budget.population} images per encoding, ascent at most "
             f"{self.budget.ascent_steps} steps, PGD {self.budget.attack_steps} steps. "
             "A class counts as fooled when its best image reaches ≥ 99% (fp32 scores)."],
            extra,
        )  # fmt: skip

    def _transfer_table(self, out: Path) -> tuple[str, list[str], list[list[str]]]:
        rows = []
        for entry in summary_of(out, "transfer")["table"]:
            rows.append([
                _method(Path(entry["run"]).name), str(entry["target"]),
                percent(entry["same_top1"], 0), percent(entry["at_0.99"], 0),
                percent(entry["mean_confidence"]),
            ])  # fmt: skip
        columns = ["fooling images of", "scored by", "same top-1 class", "at ≥ 99%",
                   "mean confidence"]  # fmt: skip
        return (f"Transfer to {self.reference}", columns, rows)

    def _detector_table(
        self, out: Path, records: dict[str, StepRecord]
    ) -> tuple[tuple[str, list[str], list[list[str]]], str]:
        """The detectors' table (AUROC / share caught per source, and evolution against
        each) and the verdict's sentence on them."""
        heading = "Out-of-distribution detectors (beyond the paper)"
        if "detect" not in records:
            reason = self.detector_reason() or ""
            return (heading, ["detector", "result"], [[name, reason] for name in self.detectors]
                    ), f"Detectors: {reason}."  # fmt: skip
        detect = summary_of(out, "detect")
        sources, shown = detection_cells(out)
        cells = {(row["detector"], row["source"]): row for row in detect["table"]}
        rows, evaded = [], []
        for name in self.detectors:
            against = summary_of(out, f"against-{name}")["against"]
            evaded.append((name, against["fooled_and_passed"]))
            rows.append([name, *shown[name],
                         f"{against['fooled_and_passed']}/{len(against['elites'])}"])  # fmt: skip
        evolved = [source for source in sources if source.startswith("evolve")]
        best = max(self.detectors, key=lambda name: sum(cells[name, source]["caught"]
                                                        for source in evolved))  # fmt: skip
        caught = sum(cells[best, source]["caught"] * cells[best, source]["images"]
                     for source in evolved) / sum(cells[best, source]["images"]
                                                  for source in evolved)  # fmt: skip
        fooled = dict(evaded)[best]
        classes = len(summary_of(out, f"against-{best}")["classes"])
        line = (f"Beyond the paper: {best}, the detector that catches most, catches "
                f"{percent(caught, 0)} of the evolved fooling images at the threshold that lets "
                f"95% of real images through; evolution told of it still puts {fooled}/{classes} "
                "classes at ≥ 99% that it lets through.")  # fmt: skip
        columns = ["detector", *(f"{source}: AUROC / caught" for source in sources),
                   "evolved against it (CPPN): classes at ≥ 99% it lets through"]  # fmt: skip
        return (heading, columns, rows), line

    def _sections(self, records: dict[str, StepRecord]) -> list[Section]:
        sections = [Section(_method(name), (name,), best=6) for name in self._searches
                    if name in records]  # fmt: skip
        attacks = tuple(name for name in records if name.startswith("pgd-"))
        if attacks:
            sections.append(Section("PGD (adversarial examples)", attacks))
        if "transfer" in records:
            sections.append(Section("Transfer", ("transfer",)))
        against = tuple(name for name in records if name.startswith("against-"))
        if against:
            sections.append(Section("Evolved against a detector (beyond the paper)", against))
        return sections


def _values_after(arguments: list[str], start: int) -> int:
    """How many values follow the option at `start` (until the next option)."""
    count = 0
    for value in arguments[start + 1 :]:
        if value.startswith("--"):
            break
        count += 1
    return count


def _method(name: str) -> str:
    if name == "ascend":
        return "gradient ascent"
    return f"evolution, {'CPPN' if name == 'cppn' else name} encoding"


def _verdict(searches: dict[str, dict[str, Any]], classifier: Classifier) -> str:
    """The page's first line: the method that fooled most classes, soonest, in numbers."""
    name, best = max(
        searches.items(),
        key=lambda item: (item[1]["fooled_at_0.99"], -item[1]["fooled_after"]),
    )
    classes = best["classes"]
    if not best["fooled_at_0.99"]:
        median = statistics.median(best["confidences"])
        return (f"No class of {classifier.name} was fooled at ≥ 99% (best median confidence "
                f"{percent(median)}, {_method(name)}).")  # fmt: skip
    passes = "; each a forward and a backward pass" if name == "ascend" else ""
    fooled = best["fooled_at_0.99"]
    return (f"{fooled}/{classes} classes of {classifier.name} fooled at ≥ 99% within "
            f"{best['fooled_after']:,} evaluations ({_method(name)}{passes}).")  # fmt: skip
