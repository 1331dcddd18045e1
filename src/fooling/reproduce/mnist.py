"""`fooling reproduce mnist`: the paper's MNIST results, and the adversarial contrast.

The steps use the paper's settings (`../shared/PAPER.md`): both encodings × 5 seeds
(the paper: "several runs") at 200 generations × 200 images, retraining for 15
iterations, transfer to a LeNet trained from another seed (the paper's DNN_B), ablation
of the CPPN elites, gradient ascent, FGSM / PGD / Carlini-Wagner on 1000 test digits, and
Figure 1. `--quick` scales the slow ones down, and every row it touches says how.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from fooling.encodings import ENCODINGS
from fooling.limits import whole
from fooling.report.study import wilson_interval
from fooling.reproduce.differences import MNIST
from fooling.reproduce.findings import Report, Row, Section, describe_machine
from fooling.reproduce.reading import (
    adversarial_figures,
    cppn_size,
    detection_table,
    evolve_figures,
    percent,
    summary_of,
)
from fooling.reproduce.steps import OUT, Step, StepRecord

PAPER_SEEDS = 5  # the paper ran "several" of each encoding
QUICK_SEEDS = 3
SEEDS = whole("seeds", 1, 100)
PAPER_ITERATIONS = 15
PGD_EPSILONS = ("0.1", "0.2", "0.3")  # of benchmarks/attack_rates.py
FULL_ATTACKED = 1000  # test digits each attack runs on in the full report
DETECTED_PGD = "pgd-0.2"  # the attack whose examples the detectors score
QUICK_FIT, QUICK_HELD_OUT = 5_000, 1_000  # `--quick`: the detectors' real digits
RETRAIN_FULL = {  # retraining's full setting (the paper's 6000 images), and what each is
    "fooling_per_iteration": ("fooling images an iteration", 6000),
    "gather_generations": ("generations per gathering search", 200),
    "epochs": ("training epochs", 5),
    "generations": ("generations evolved against each network", 200),
}
LARGER_CAP = 32  # hidden nodes of the CPPN runs that test whether the default cap binds
MAX_SEARCHES = "1000"
"""The cap on one gathering of a full retraining iteration, so that 15 iterations end (the
paper's run set none): 1000 searches of 200 × 100 are 20 M evaluations, about 20 minutes
at the 17,500 evaluations/s that gathering ran at on a 2-core AMD EPYC (issue 23)."""
GATHERING = {"retrain": "every image gathered (the paper's)",
             "retrain-far": "only images far from every real digit"}  # fmt: skip


class MnistPlan:
    """The steps and rows of `reproduce mnist`.

    Args:
        quick: the scaled-down version (minutes, run in CI).
        retrain_iterations: retraining iterations (default: 15, the paper's; 1 quick).
        seeds: evolution runs of each encoding (default: `PAPER_SEEDS`; `QUICK_SEEDS`
            quick).

    Raises:
        FoolingError: `seeds` out of `SEEDS`.
    """

    def __init__(
        self, *, quick: bool, retrain_iterations: int | None = None, seeds: int | None = None
    ) -> None:
        self.quick = quick
        self._default_seeds = QUICK_SEEDS if quick else PAPER_SEEDS
        self.seeds = self._default_seeds if seeds is None else int(SEEDS.check(seeds))
        self.iterations = retrain_iterations or (1 if quick else PAPER_ITERATIONS)
        # PGD: about 16 s per 1000 digits on 2 cores; Carlini-Wagner: 346 s per 1000
        self.attacked = 100 if quick else FULL_ATTACKED
        self.cw_images = 25 if quick else FULL_ATTACKED

    def settings(self) -> dict[str, object]:
        settings = {"dataset": "mnist", "quick": self.quick, "retrain_iterations": self.iterations}
        if self.seeds != self._default_seeds:  # (so that a report made before `--seeds` goes on)
            settings["seeds"] = self.seeds
        return settings

    def packages(self) -> dict[str, str]:
        """Module -> pip package, for what the steps need beyond fooling's own requirements:
        foolbox, for the attacks."""
        return {"foolbox": "foolbox"}

    # ------------------------------------------------------------------ steps
    def steps(self) -> list[Step]:
        steps = [
            Step(f"evolve-{encoding}-{seed}", (
                "evolve", "--classifier", "lenet-mnist", "--encoding", encoding,
                "--generations", "200", "--population", "200", "--seed", str(seed)))
            for encoding in ENCODINGS
            for seed in range(self.seeds)
        ]  # fmt: skip
        steps += [
            Step(f"evolve-cppn-hidden{LARGER_CAP}-{seed}", (
                "evolve", "--classifier", "lenet-mnist", "--encoding", "cppn", "--generations",
                "200", "--population", "200", "--seed", str(seed), "--max-hidden", str(LARGER_CAP)))
            for seed in range(self.seeds)
        ]  # fmt: skip
        runs = tuple(f"{OUT}/runs/{name}" for name in self._evolve_names())
        steps.append(Step("transfer", ("transfer", *runs, "--to", "lenet-mnist-b")))
        steps += [
            Step(f"ablate-cppn-{seed}", ("ablate", f"{OUT}/runs/evolve-cppn-{seed}"))
            for seed in range(self.seeds)
        ]
        steps.append(Step("ascend", ("ascend", "--classifier", "lenet-mnist", "--param", "pixel",
                                     "--steps", "200")))  # fmt: skip
        steps.append(Step("fgsm", self._attack("fgsm", "0.25", self.attacked)))
        steps += [
            Step(f"pgd-{eps}", self._attack("pgd", eps, self.attacked)) for eps in PGD_EPSILONS
        ]
        cw = self._attack("cw", "2", self.cw_images)
        steps.append(Step("cw", cw))
        steps.append(Step("figure1", ("figure1",)))
        detected = (*self._evolve_names(), "ascend", DETECTED_PGD)  # beyond the paper
        fewer = ("--fit-count", str(QUICK_FIT), "--held-out-count", str(QUICK_HELD_OUT))
        steps.append(Step("detect", ("detect", *(f"{OUT}/runs/{name}" for name in detected),
                                     "--classifier", "lenet-mnist", *(fewer if self.quick else ())
                                     )))  # fmt: skip
        # last: at the paper's settings retraining is days of two cores, and a campaign
        # stopped part-way should have every other row
        retrain = ["retrain", "--classifier", "lenet-mnist", "--iterations", str(self.iterations)]
        if self.quick:
            retrain += ["--quick", "--fooling-images", "500", "--held-out", "100", "--epochs", "1"]
            steps.append(Step("retrain", tuple(retrain)))
        else:  # both gathering schemes, over the same iterations
            retrain += ["--max-searches", MAX_SEARCHES]
            steps.append(Step("retrain", tuple(retrain)))
            steps.append(Step("retrain-far", (*retrain, "--gather", "far")))
        return steps

    def _evolve_names(self) -> tuple[str, ...]:
        """The runs in the paper's setting, both encodings, every seed."""
        return tuple(f"evolve-{e}-{seed}" for e in ENCODINGS for seed in range(self.seeds))

    @staticmethod
    def _attack(attack: str, eps: str, count: int) -> tuple[str, ...]:
        return ("adversarial", "--classifier", "lenet-mnist", "--attack", attack, "--eps", eps,
                "--count", str(count))  # fmt: skip

    def report(self, out: Path, records: dict[str, StepRecord]) -> Report:
        rows = self.rows(out)
        reached = [
            evolve_figures(out, f"evolve-{encoding}-{seed}")["all_at_0.9999"]
            for encoding in ENCODINGS
            for seed in range(self.seeds)
        ]
        retraining = summary_of(out, "retrain")
        retrained = retraining["iterations"][-1]
        headline = (
            f"{sum(g is not None and g <= 50 for g in reached)} of {len(reached)} evolution "
            f"runs fooled the MNIST LeNet at ≥ 99.99% on every digit within 50 generations "
            f"(the paper: every run); after {retrained['iteration']} retraining "
            f"iteration{'s' if retrained['iteration'] != 1 else ''} (the paper: 99.99% images "
            f"every time), evolution fooled {retrained['fooled_at_0.99']} of 10 digits at "
            f"≥ 99% in {retraining['settings']['generations']} generations."
        )
        notes = []
        if self.quick:
            notes.append(
                "--quick: every row marked 'scaled down' ran at a smaller scale than the "
                "paper's, as it says; `fooling reproduce mnist` runs the paper's settings."
            )
        fit, held = (QUICK_FIT, QUICK_HELD_OUT) if self.quick else (60_000, 10_000)
        notes.append(
            "Beyond the paper, the last table: six out-of-distribution detectors (pytorch-ood) "
            f"fitted on {fit:,} training digits, each set where it lets 95% of {held:,} "
            "test digits through; AUROC against the test digits and the share caught, for "
            "the fooling images at ≥ 99% of the evolution runs above, gradient ascent, and "
            f"PGD at ε {DETECTED_PGD.removeprefix('pgd-')} (`fooling detect`)."
        )
        return Report(
            "The paper's MNIST results, re-made" + (" (--quick)" if self.quick else ""),
            headline, rows, self.sections(), self.steps(), records, describe_machine(),
            MNIST, notes, [detection_table(out)],
        )  # fmt: skip

    # ------------------------------------------------------------------ rows
    def rows(self, out: Path) -> list[Row]:
        runs = {
            e: [evolve_figures(out, f"evolve-{e}-{seed}") for seed in range(self.seeds)]
            for e in ENCODINGS
        }  # fmt: skip
        evolve_steps = self._evolve_names()
        setting = "LeNet, 200 generations × 200 images"
        rows = [
            Row(
                "Every run fools every digit at ≥ 99.99% within 50 generations",
                "every run, ≤ 50 generations", self._generations(runs),
                f"{setting}, several runs",
                f"{setting}, {self._seed_count()} × {len(ENCODINGS)} encodings",
                evolve_steps, "Nguyen et al. 2015, §3.1 (Fig. 4)", self._seed_scale(),
            ),
            Row(
                "Median confidence after 200 generations",
                "99.99%", self._medians(runs), setting,
                f"{setting}, {self._seed_count()} × {len(ENCODINGS)} encodings", evolve_steps,
                "Nguyen et al. 2015, §3.1", self._seed_scale(),
            ),
            self._cap_row(out),
            *(self._retrain_row(out, name) for name in self._retrain_names()),
            self._transfer_row(out),
            self._ablation_row(out),
            self._ascent_row(out),
            *self._adversarial_rows(out),
            self._figure1_row(out),
        ]  # fmt: skip
        return rows

    def _seed_count(self) -> str:
        return f"{self.seeds} seed{'' if self.seeds == 1 else 's'}"

    def _seed_scale(self) -> str:
        """A row of the evolution runs, scaled down where fewer seeds ran than the report's
        `PAPER_SEEDS` (more are not a scaling down: the settings say how many)."""
        return "" if self.seeds >= PAPER_SEEDS else f"{self.seeds} of {PAPER_SEEDS} seeds"

    def _generations(self, runs: dict[str, list[dict]]) -> str:
        parts = []
        for encoding, figures in runs.items():
            reached = [run["all_at_0.9999"] for run in figures]
            within = sum(g is not None and g <= 50 for g in reached)
            shown = ", ".join("never" if g is None else str(g) for g in reached)
            parts.append(f"{encoding}: {within}/{len(reached)} runs by 50 (at generation {shown})")
        return "; ".join(parts)

    @staticmethod
    def _medians(runs: dict[str, list[dict]]) -> str:
        parts = []
        for encoding, figures in runs.items():
            medians = [run["median_confidence"] for run in figures]
            low, high = min(medians), max(medians)
            parts.append(f"{encoding}: {percent(statistics.median(medians))} "
                         f"(runs {percent(low)}–{percent(high)})")  # fmt: skip
        return "; ".join(parts)

    def _cap_row(self, out: Path) -> Row:
        sizes = {}
        for cap, prefix in ((8, "evolve-cppn"), (LARGER_CAP, f"evolve-cppn-hidden{LARGER_CAP}")):
            names = [f"{prefix}-{seed}" for seed in range(self.seeds)]
            used = [cppn_size(out, name) for name in names]
            figures = [evolve_figures(out, name) for name in names]
            reached = [run["all_at_0.9999"] for run in figures]
            sizes[cap] = (
                f"at most {cap} hidden nodes: {sum(u['at_cap'] for u in used)} of "
                f"{sum(u['elites'] for u in used)} elites use them all (mean "
                f"{statistics.fmean(u['mean_hidden'] for u in used):.1f}); "
                f"{sum(g is not None and g <= 50 for g in reached)}/{len(reached)} runs at "
                f"≥ 99.99% on every digit by generation 50"
            )
        return Row(
            "CPPN size: does our cap on hidden nodes bind?", "no cap (the original code)",
            f"{sizes[8]}. {sizes[LARGER_CAP].capitalize()}", "CPPNs grow without a node limit",
            f"at most 8 hidden nodes (default), and {LARGER_CAP}",
            tuple(f"evolve-cppn{part}-{seed}" for part in ("", f"-hidden{LARGER_CAP}")
                  for seed in range(self.seeds)),
            "Sferes gen_dnn parameters", self._seed_scale(),
        )  # fmt: skip

    def _retrain_names(self) -> tuple[str, ...]:
        return ("retrain",) if self.quick else tuple(GATHERING)

    def _retrain_row(self, out: Path, name: str) -> Row:
        summary = summary_of(out, name)
        rows = [row for row in summary["iterations"] if row["iteration"] >= 1]

        def each(key: str, shown: str = "{:.2f}") -> str:
            return ", ".join("—" if row.get(key) is None else shown.format(row[key])
                             for row in rows)  # fmt: skip

        medians = ", ".join(percent(row["median_confidence"]) for row in rows)
        which = "iteration 1" if len(rows) == 1 else f"iterations 1–{len(rows)}"
        capped = [str(row["iteration"]) for row in rows if row.get("gathering_capped")]
        ours = (
            f"{which}: median confidence of newly evolved images {medians}; digits at ≥ 99%: "
            f"{each('fooled_at_0.99', '{}')} of 10 (far from every real digit: "
            f"{each('fooled_at_0.99_far_from_real', '{}')}); fooling class recall "
            f"{each('fooling_recall')}, on held-out images far from real digits "
            f"{', '.join(recall_far(row) for row in rows)}; share of gathered images near a real "
            f"digit {each('gathered_near_real')}; fooling images gathered and trained on "
            f"{each('gathered', '{}')} (of {summary['settings']['fooling_per_iteration']} "
            f"sought); cost per iteration: {each('gathered_searches', '{}')} searches, "
            f"{each('seconds', '{:.0f}')} s"
            + (f"; gathering capped in iteration {', '.join(capped)}" if capped else "")
        )
        near = [row.get("gathered_near_real") or 0.0 for row in rows]
        if len(rows) > 1 and near[-1] > near[0]:  # this project's finding (`near_real`)
            ours += (". Retraining drives evolution toward legible digits: the share of "
                     "gathered images near a real digit grows with each iteration")  # fmt: skip
        scale = []
        if self.iterations < PAPER_ITERATIONS:
            scale.append(f"{self.iterations} of {PAPER_ITERATIONS} iterations")
        settings = summary["settings"]
        scale += [
            f"{words}: {settings[key]} (full: {full})"
            for key, (words, full) in RETRAIN_FULL.items()
            if settings[key] != full
        ]
        if settings.get("max_searches"):
            scale.append(f"at most {settings['max_searches']} searches per gathering")
        result = "Retraining with fooling images as an extra class does not stop evolution"
        images = summary["settings"]["fooling_per_iteration"]
        plural = "" if self.iterations == 1 else "s"
        ours_settings = f"LeNet, {self.iterations} iteration{plural}, {images} fooling images each"
        if not self.quick:
            result += f" (trained on {GATHERING[name]})"
            ours_settings += f", trained on {GATHERING[name]}"
        return Row(
            result, "99.99% images found at every one of 15 iterations", ours,
            "LeNet, 15 iterations, 6000 fooling images each", ours_settings, (name,),
            "Nguyen et al. 2015, §3.4", "; ".join(scale),
        )  # fmt: skip

    def _transfer_row(self, out: Path) -> Row:
        table = summary_of(out, "transfer")["table"]
        parts = []
        for encoding in ENCODINGS:
            names = {f"evolve-{encoding}-{seed}" for seed in range(self.seeds)}
            cells = [entry for entry in table if Path(entry["run"]).name in names]
            same = statistics.fmean(entry["same_top1"] for entry in cells)
            high = statistics.fmean(entry["at_0.99"] for entry in cells)
            parts.append(f"{encoding}: {percent(same, 0)} same top-1 ({percent(high, 0)} at ≥ 99%)")
        return Row(
            "Fooling images fool another network of the same kind",
            "often classified the same way (no MNIST figure given)", "; ".join(parts),
            "DNN_A → DNN_B: same architecture, another seed",
            "lenet-mnist → lenet-mnist-b (another seed)", ("transfer",),
            "Nguyen et al. 2015, §3.5", self._seed_scale(),
        )  # fmt: skip

    def _ablation_row(self, out: Path) -> Row:
        motif, control, classes, with_copies = [], [], 0, 0
        names = tuple(f"ablate-cppn-{seed}" for seed in range(self.seeds))
        for name in names:
            summary = summary_of(out, name)
            classes += summary["classes_ablated"]
            with_copies += summary["classes_with_motif"]
            if summary["classes_with_motif"]:
                motif.append(summary["median_after_all"]["motif"])
                control.append(summary["median_after_all"]["control"])
        if motif:
            after, elsewhere = statistics.median(motif), statistics.median(control)
            ours = (f"median confidence after every copy is removed {percent(after)}, after "
                    f"the same area elsewhere {percent(elsewhere)}; "
                    f"copies found in {with_copies} of {classes} CPPN elites")  # fmt: skip
        else:
            ours = f"no repeated copies found in any of {classes} CPPN elites"
        return Row(
            "Removing repeated copies lowers the confidence step by step",
            "confidence drops as copies are removed (ImageNet; no figure)", ours,
            "CPPN images (ImageNet)", "CPPN elites of the MNIST runs", names,
            "Nguyen et al. 2015, §3.6", self._seed_scale(),
        )  # fmt: skip

    def _ascent_row(self, out: Path) -> Row:
        summary = summary_of(out, "ascend")
        at = sum(entry["confidence"] >= 0.9999 for entry in summary["classes"])
        ours = (f"{at}/{len(summary['classes'])} digits at ≥ 99.99% in {summary['generations']} "
                f"steps; median {percent(summary['median_confidence'])}")  # fmt: skip
        return Row(
            "Gradient ascent reaches 99.99% for every class",
            "99.99% for every class (ImageNet)", ours, "ascent on the pixels (ImageNet)",
            "LeNet, Adam on the pixels, at most 200 steps", ("ascend",),
            "Nguyen et al. 2015, §3.7, Fig. 13",
        )  # fmt: skip

    def _adversarial_rows(self, out: Path) -> list[Row]:
        fgsm = adversarial_figures(out, "fgsm")
        pgd = [adversarial_figures(out, f"pgd-{eps}") for eps in PGD_EPSILONS]
        cw = adversarial_figures(out, "cw")
        pgd_text = "; ".join(
            f"ε {eps}: {percent(figures['success_rate'], 1)} misclassified"
            for eps, figures in zip(PGD_EPSILONS, pgd, strict=True)
        )
        rms = cw["mean_l2"] / 28  # root-mean-square change per pixel, as Szegedy et al.
        attacked_scale, cw_scale = (
            f"{count} test digits, not {FULL_ATTACKED}" if count < FULL_ATTACKED else ""
            for count in (self.attacked, self.cw_images)
        )
        return [
            Row(
                "FGSM at ε = 0.25 misclassifies most test digits, confidently",
                "maxout network: 89.4% error, mean confidence 97.6%",
                f"LeNet: {percent(fgsm['success_rate'], 1)} misclassified, mean confidence "
                f"{percent(fgsm['mean_confidence'], 1)} in the wrong class",
                "MNIST test set, ε = 0.25", f"{self.attacked} test digits, ε = 0.25",
                ("fgsm",), "Goodfellow et al. 2015, §6", attacked_scale,
            ),
            Row(
                "Small L∞ perturbations (PGD) move real digits across a boundary",
                "adversarial examples exist for every network (no PGD figure)", pgd_text,
                "— (PGD postdates the papers)", f"{self.attacked} test digits, PGD L∞",
                tuple(f"pgd-{eps}" for eps in PGD_EPSILONS), "Szegedy et al. 2014; Figure 1",
                attacked_scale,
            ),
            Row(
                "Minimal adversarial distortion is imperceptible",
                "mean minimal distortion 0.058–0.14 (RMS per pixel), every example",
                f"Carlini–Wagner L2 ≤ 2: {percent(cw['success_rate'], 1)} misclassified, "
                f"mean distortion {rms:.3f} RMS per pixel",
                "L-BFGS, MNIST networks", f"Carlini–Wagner, {self.cw_images} test digits",
                ("cw",), "Szegedy et al. 2014, Table 1", cw_scale,
            ),
        ]  # fmt: skip

    def _figure1_row(self, out: Path) -> Row:
        summary = summary_of(out, "figure1")
        ours = (f"fooling points lie {summary['mean_distance_fooling']:.2f} from the nearest "
                f"training point, adversarial ones {summary['mean_distance_adversarial']:.3f} "
                f"({summary['ratio']:.0f}× nearer)")  # fmt: skip
        return Row(
            "Fooling points lie far from the data, adversarial points next to it",
            "a schematic (no data)", ours, "— (a drawing)",
            "a small network on three 2-D blobs", ("figure1",), "Nguyen et al. 2015, Fig. 1",
        )  # fmt: skip

    # --------------------------------------------------------------- sections
    def sections(self) -> list[Section]:
        evolve = self._evolve_names()
        ablate = tuple(f"ablate-cppn-{s}" for s in range(self.seeds))
        return [
            Section("Evolution (MAP-Elites), both encodings", evolve,
                    "Confidence over generations and each digit's best image."),
            Section(f"CPPNs of up to {LARGER_CAP} hidden nodes", tuple(
                f"evolve-cppn-hidden{LARGER_CAP}-{s}" for s in range(self.seeds))),
            Section("Retraining with a fooling class", self._retrain_names()),
            Section("Transfer to lenet-mnist-b", ("transfer",)),
            Section("Removing repeated copies", ablate),
            Section("Gradient ascent", ("ascend",)),
            Section("Adversarial examples", ("fgsm", *(f"pgd-{e}" for e in PGD_EPSILONS), "cw")),
            Section("Figure 1", ("figure1",), "Circles: training data; triangles: evolved "
                    "fooling points; pentagons: gradient ascent; squares: adversarial."),
            Section("Out-of-distribution detectors (beyond the paper)", ("detect",)),
        ]  # fmt: skip


def recall_far(row: dict, count: int | None = None, places: int = 2) -> str:
    """One retraining iteration's recall on the held-out images far from real digits, with
    how many there were (`count`, else the row's `held_out_far` where it records it) and
    the recall's 95% Wilson interval: far-only gathering leaves a handful, and 0.000 of 3
    says little."""
    value = row.get("fooling_recall_far_from_real")
    count = row.get("held_out_far", count)
    if value is None or not count:  # no far image held out, or an older row
        shown = "—" if value is None else f"{value:.{places}f}"
        return shown + ("" if count is None else f" (of {count})")
    low, high = wilson_interval(round(value * count), count)
    return f"{value:.{places}f} (of {count}, 95% interval {low:.2f}–{high:.2f})"
