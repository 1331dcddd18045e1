"""`fooling reproduce imagenet`: the paper's ImageNet results against EfficientNet-Lite0.

The paper's settings (`../shared/PAPER.md`): CPPN 5000 generations × 400 images,
direct 20,000 × 200, transfer to other networks, ablation of the CPPN images,
and gradient ascent for all 1000 classes; that is days on a CPU and meant for a
GPU. `--quick` runs the same steps at a scale that finishes within 30 minutes on
two CPU cores, and every row it touches says how. Retraining is shown only with
`--data` (labelled photos; ImageNet itself is not shipped).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from fooling.classifiers.efficientnet import weights_package
from fooling.reproduce.differences import IMAGENET
from fooling.reproduce.findings import Report, Row, Section, describe_machine
from fooling.reproduce.reading import (
    cppn_size,
    detection_table,
    evolve_figures,
    percent,
    summary_of,
)
from fooling.reproduce.steps import OUT, Step, StepRecord

MODEL = "efficientnet-lite0"
TARGETS = ("efficientnet-lite1", "efficientnet-lite2")
PAPER_CPPN = (5000, 400)
PAPER_DIRECT = (20_000, 200)
QUICK_CPPN = (300, 400)
QUICK_DIRECT = (600, 200)
LARGER_CAP = 32  # hidden nodes of the CPPN run that tests whether the default cap binds
ASCENT_CHUNK = 100  # classes per ascent step (each a batch with gradients)
QUICK_ASCENT = ("0", "100", "200", "300", "400", "500", "600", "700", "800", "900")


class ImagenetPlan:
    """The steps and rows of `reproduce imagenet`.

    Args:
        quick: the scaled-down version (under 30 minutes on two CPU cores).
        data: labelled photos for retraining (one folder per class), or None.
    """

    def __init__(self, *, quick: bool, data: Path | None = None) -> None:
        self.quick = quick
        self.data = None if data is None else str(Path(data).resolve())
        self.cppn = QUICK_CPPN if quick else PAPER_CPPN
        self.direct = QUICK_DIRECT if quick else PAPER_DIRECT

    def settings(self) -> dict[str, object]:
        return {"dataset": "imagenet", "quick": self.quick, "data": self.data}

    def packages(self) -> dict[str, str]:
        """Module -> pip package, for what the steps need beyond fooling's own requirements:
        the weights of the networks the elites are transferred to."""
        return dict(weights_package(name) for name in TARGETS)

    def _evolve(self, encoding: str, size: tuple[int, int], *extra: str) -> tuple[str, ...]:
        return ("evolve", "--classifier", MODEL, "--encoding", encoding,
                "--generations", str(size[0]), "--population", str(size[1]), *extra)  # fmt: skip

    def _ascent_steps(self) -> list[Step]:
        if self.quick:
            return [Step("ascend", ("ascend", "--classifier", MODEL, "--param", "pixel",
                                    "--steps", "100", "--classes", *QUICK_ASCENT))]  # fmt: skip
        return [
            Step(f"ascend-{start:03d}", (
                "ascend", "--classifier", MODEL, "--param", "pixel", "--steps", "200", "--classes",
                *(str(index) for index in range(start, start + ASCENT_CHUNK))))
            for start in range(0, 1000, ASCENT_CHUNK)
        ]  # fmt: skip

    def steps(self) -> list[Step]:
        """Cheapest first, each step right after the runs it reads, so that a campaign
        stopped part-way (they take hours on a CPU) has as many finished rows as it can."""
        transfer = [("transfer", f"{OUT}/runs/evolve-{encoding}", "--to", *TARGETS)
                    for encoding in ("cppn", "direct")]  # fmt: skip
        steps = [
            *self._ascent_steps(),
            Step("evolve-cppn", self._evolve("cppn", self.cppn)),
            Step("ablate", ("ablate", f"{OUT}/runs/evolve-cppn",
                            *(("--top", "100") if self.quick else ()))),
            Step("transfer-cppn", transfer[0]),
            Step("evolve-direct", self._evolve("direct", self.direct)),
            Step("transfer-direct", transfer[1]),
            Step(f"evolve-cppn-hidden{LARGER_CAP}",
                 self._evolve("cppn", self.cppn, "--max-hidden", str(LARGER_CAP))),
        ]  # fmt: skip
        if self.data:
            retrain = ("retrain", "--classifier", MODEL, "--data", self.data, "--iterations", "1")
            steps.append(Step("retrain", retrain))
            searched = ("evolve-cppn", "evolve-direct", *(s.name for s in self._ascent_steps()))
            steps.append(Step("detect", (  # beyond the paper
                "detect", *(f"{OUT}/runs/{name}" for name in searched), "--classifier", MODEL,
                "--data", self.data)))  # fmt: skip
        return steps

    # ------------------------------------------------------------------ the page
    def report(self, out: Path, records: dict[str, StepRecord]) -> Report:
        cppn = evolve_figures(out, "evolve-cppn")
        direct = evolve_figures(out, "evolve-direct")
        rows = [
            Row(
                "Direct encoding: a large, well-represented dataset is hard to fool with noise",
                "median confidence 21.59%; 45 classes at ≥ 99%",
                f"median confidence {percent(direct['median_confidence'])}; "
                f"{direct['fooled_at_0.99']} classes at ≥ 99%",
                "AlexNet, 20,000 generations × 200 images",
                f"EfficientNet-Lite0, {self.direct[0]:,} generations × {self.direct[1]} images",
                ("evolve-direct",), "Nguyen et al. 2015, §3.2",
                self._scale(self.direct, PAPER_DIRECT),
            ),
            Row(
                "CPPN encoding fools many classes",
                "median confidence 88.11%; many classes at ≥ 99%",
                f"median confidence {percent(cppn['median_confidence'])}; "
                f"{cppn['fooled_at_0.99']} classes at ≥ 99%",
                "AlexNet, 5000 generations × 400 images",
                f"EfficientNet-Lite0, {self.cppn[0]:,} generations × {self.cppn[1]} images",
                ("evolve-cppn",), "Nguyen et al. 2015, §3.3",
                self._scale(self.cppn, PAPER_CPPN),
            ),
            self._cap_row(out),
            self._transfer_row(out),
            self._ablation_row(out),
            self._ascent_row(out),
        ]  # fmt: skip
        if self.data:
            rows.append(self._retrain_row(out))
        headline = (
            f"EfficientNet-Lite0: CPPN median confidence {percent(cppn['median_confidence'])} "
            f"(the paper's AlexNet: 88.11%), direct {percent(direct['median_confidence'])} "
            f"(21.59%), after {self.cppn[0]:,} and {self.direct[0]:,} generations."
        )
        notes = []
        if self.quick:
            notes.append("--quick: rows marked 'scaled down' ran fewer generations than "
                         "the paper's; `fooling reproduce imagenet` (for a GPU) runs its "
                         "settings.")  # fmt: skip
        if not self.data:
            notes.append("Retraining with a fooling class (the paper: the median confidence "
                         "of newly evolved images fell from 88.1% to 11.7%) needs labelled "
                         "photos: give --data FOLDER to include it.")  # fmt: skip
        extra = []
        if self.data:
            extra.append(detection_table(out))
            notes.append("Beyond the paper, the last table: six out-of-distribution detectors "
                         "(pytorch-ood) fitted on four fifths of the --data photos and set where "
                         "they let 95% of the other fifth through (`fooling detect`).")  # fmt: skip
        title = "The paper's ImageNet results, re-made" + (" (--quick)" if self.quick else "")
        return Report(title, headline, rows, self._sections(), self.steps(), records,
                      describe_machine(), IMAGENET, notes, extra)  # fmt: skip

    @staticmethod
    def _scale(ours: tuple[int, int], paper: tuple[int, int]) -> str:
        if ours == paper:
            return ""
        return f"{ours[0]:,} of {paper[0]:,} generations"

    def _cap_row(self, out: Path) -> Row:
        default = cppn_size(out, "evolve-cppn")
        larger = cppn_size(out, f"evolve-cppn-hidden{LARGER_CAP}")
        wide = evolve_figures(out, f"evolve-cppn-hidden{LARGER_CAP}")
        base = evolve_figures(out, "evolve-cppn")
        ours = (
            f"{default['at_cap']} of {default['elites']} elites use all "
            f"{default['max_hidden']} hidden nodes (mean {default['mean_hidden']:.1f}); with "
            f"{LARGER_CAP}: {larger['at_cap']} at the cap (mean {larger['mean_hidden']:.1f}), "
            f"median confidence {percent(wide['median_confidence'])} against "
            f"{percent(base['median_confidence'])}, classes at ≥ 99% "
            f"{wide['fooled_at_0.99']} against {base['fooled_at_0.99']}"
        )
        return Row(
            "CPPN size: does our cap on hidden nodes bind?", "no cap (the original code)",
            ours, "CPPNs grow without a node limit",
            f"at most 8 hidden nodes (default), and {LARGER_CAP}",
            ("evolve-cppn", f"evolve-cppn-hidden{LARGER_CAP}"), "Sferes gen_dnn parameters",
            self._scale(self.cppn, PAPER_CPPN),
        )  # fmt: skip

    def _transfer_row(self, out: Path) -> Row:
        parts = []
        for encoding in ("cppn", "direct"):
            name = "CPPN" if encoding == "cppn" else "direct"
            for entry in summary_of(out, f"transfer-{encoding}")["table"]:
                same = percent(entry["same_top1"], 1)
                parts.append(f"{name} → {entry['target']}: {same} same top-1")
        return Row(
            "Fooling images fool other networks",
            "often classified the same way (DNN_A → DNN_B)", "; ".join(parts),
            "CaffeNet → another CaffeNet (other seed)",
            "Lite0 → Lite1 and Lite2 (other sizes, other weights)",
            ("transfer-cppn", "transfer-direct"), "Nguyen et al. 2015, §3.5",
            self._scale(self.cppn, PAPER_CPPN),
        )  # fmt: skip

    def _ablation_row(self, out: Path) -> Row:
        summary = summary_of(out, "ablate")
        if summary["classes_with_motif"]:
            after = summary["median_after_all"]
            ours = (f"median confidence after every copy is removed {percent(after['motif'])}, "
                    f"after the same area elsewhere {percent(after['control'])}; copies found "
                    f"in {summary['classes_with_motif']} of {summary['classes_ablated']} "
                    "elites")  # fmt: skip
        else:
            ours = f"no repeated copies found in {summary['classes_ablated']} elites"
        return Row(
            "Removing repeated copies lowers the confidence step by step",
            "confidence drops as copies are removed (Fig. 9; no figure)", ours,
            "CPPN images", "CPPN elites" + (" (the 100 most confident)" if self.quick else ""),
            ("ablate",), "Nguyen et al. 2015, §3.6",
            "the 100 most confident of 1000 elites" if self.quick else "",
        )  # fmt: skip

    def _ascent_row(self, out: Path) -> Row:
        names = [step.name for step in self._ascent_steps()]
        confidences = [
            entry["confidence"] for name in names for entry in summary_of(out, name)["classes"]
        ]
        at = sum(confidence >= 0.9999 for confidence in confidences)
        ours = (f"{at}/{len(confidences)} classes at ≥ 99.99%; median "
                f"{percent(statistics.median(confidences))}")  # fmt: skip
        return Row(
            "Gradient ascent reaches 99.99% for every class", "99.99% for every class", ours,
            "all 1000 classes", f"{len(confidences)} classes, Adam on the pixels",
            tuple(names), "Nguyen et al. 2015, §3.7, Fig. 13",
            f"{len(confidences)} of 1000 classes, 100 steps" if self.quick else "",
        )  # fmt: skip

    def _retrain_row(self, out: Path) -> Row:
        rows = summary_of(out, "retrain")["iterations"]
        before, after = rows[0]["median_confidence"], rows[-1]["median_confidence"]
        return Row(
            "Retraining with a fooling class lowers the confidence of new fooling images",
            "median 88.1% → 11.7%", f"median {percent(before)} → {percent(after)}",
            "ImageNet, 1000 classes + 1", f"the classes of {self.data}, + 1", ("retrain",),
            "Nguyen et al. 2015, §3.4",
        )  # fmt: skip

    def _sections(self) -> list[Section]:
        sections = [
            Section("Evolution against EfficientNet-Lite0",
                    ("evolve-cppn", "evolve-direct", f"evolve-cppn-hidden{LARGER_CAP}"),
                    best=8),
            Section("Transfer to Lite1 and Lite2", ("transfer-cppn", "transfer-direct")),
            Section("Removing repeated copies", ("ablate",)),
            Section("Gradient ascent", tuple(step.name for step in self._ascent_steps()),
                    best=8),
        ]  # fmt: skip
        if self.data:
            sections.append(Section("Retraining", ("retrain",)))
            sections.append(Section("Out-of-distribution detectors (beyond the paper)",
                                    ("detect",)))  # fmt: skip
        return sections
