"""Write docs/measured.md from benchmarks/results/*.json, so that no figure there can drift.

Every JSON file in `benchmarks/results/` becomes one section of the page, under its
topic: the file, the command that made it, the machine it ran on (as the file records
it), when, and a table of its headline figures. `SPECS` names the headline figures of
each benchmark (by the file's `benchmark` field); a file it does not name shows every
number at the top of the file. A figure that `SPECS` names but a file lacks stops the
script with the file and the path, so a benchmark whose output changes shape gets its
spec updated rather than a silently shorter page.

    python benchmarks/results_page.py           # write docs/measured.md
    python benchmarks/results_page.py --check   # exit 1 if docs/measured.md is not current
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "measured.md"
COMMAND = "python benchmarks/results_page.py"
NOT_RECORDED = "CPU model not recorded"
ABSENT = "n/a"
"""What a cell shows for a figure an entry lacks, or one the file records as null."""


@dataclass(frozen=True)
class Figure:
    """One figure: its label on the page, where it is in the JSON, how it is written.

    `path` is a key, or keys joined by `/` (`summary/seconds`); a list entry is named by
    its index. `form` is a format spec (`.3f`, `,.1f`, `,`); empty for the default
    (whole numbers with thousands separators, other numbers to 6 significant digits).
    """

    label: str
    path: str
    form: str = ""


@dataclass(frozen=True)
class Table:
    """A table with a row per entry of a dict or list in the JSON, a column per figure.

    A dict's rows are named by their keys, a list's by the entry's `names` fields.
    `keys` picks a dict's rows (all of them when empty); the `columns` paths lead from
    an entry (`""` is the entry itself). An entry without a column's figure shows n/a.
    """

    title: str
    path: str
    row: str
    columns: tuple[Figure, ...]
    names: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grid:
    """One figure of a list of records, laid out by some of their fields: rows by
    `rows`, columns by `columns` (`detector` against `source`, say)."""

    title: str
    path: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    value: str
    form: str = ""


@dataclass(frozen=True)
class Spec:
    """What a benchmark's section shows: its topic, figures and tables, and files
    beside its JSON that do not share its name (those that do are found by name)."""

    topic: str
    figures: tuple[Figure, ...] = ()
    tables: tuple[Table | Grid, ...] = ()
    also: tuple[str, ...] = ()


class MissingFigure(LookupError):
    """A figure that `SPECS` names is not in the file."""


THROUGHPUT = "Throughput and memory on the CPU"
EVOLUTION = "Evolution and ascent"
EXPERIMENTS = "Experiments"
SCALE_OUT = "Scale-out with Ray"
GPU = "On a GPU"
OTHER = "Other results"
TOPICS = (THROUGHPUT, EVOLUTION, EXPERIMENTS, SCALE_OUT, GPU, OTHER)
"""The page's topics, in order. A file that names a GPU goes under `GPU`."""

SECONDS = ",.1f"
CONFIDENCE = ".6f"
RATIO = ".3f"
COUNT = ","

_ABLATE = Spec(
    EXPERIMENTS,
    figures=(
        Figure("wall seconds (/usr/bin/time)", "wall_seconds", ",.2f"),
        Figure("peak resident set (KiB)", "peak_rss_kb", COUNT),
        Figure("seconds of the ablation", "summary/seconds"),
        Figure("images scored", "summary/images_scored", COUNT),
        Figure("classes ablated", "summary/classes_ablated", COUNT),
        Figure("classes with a repeated motif", "summary/classes_with_motif", COUNT),
        Figure(
            "median confidence, every copy removed", "summary/median_after_all/motif", CONFIDENCE
        ),
        Figure(
            "median confidence, the same area removed elsewhere",
            "summary/median_after_all/control",
            CONFIDENCE,
        ),
    ),
)

_ASCENT_PRIORS = Spec(
    EVOLUTION,
    figures=(Figure("steps at most", "steps", COUNT),),
    tables=(
        Table(
            "Gradient ascent on EfficientNet-Lite0, one row per parameterisation",
            "methods",
            "method",
            (
                Figure("classes at >= 0.99", "reached_0.99", COUNT),
                Figure("median confidence", "median", CONFIDENCE),
                Figure("steps", "steps", COUNT),
                Figure("forward passes", "forwards", COUNT),
                Figure("seconds", "seconds", SECONDS),
                Figure("same top-1 on Lite1", "same_top1/efficientnet-lite1", ".2f"),
                Figure("same top-1 on Lite2", "same_top1/efficientnet-lite2", ".2f"),
            ),
        ),
    ),
)

_DETECTION = Spec(
    EXPERIMENTS,
    figures=(
        Figure("seconds to make the images", "runs/seconds", SECONDS),
        Figure("seconds to fit and run the detectors", "detect_seconds", SECONDS),
    ),
    tables=(
        Grid(
            "Share of each source's images the detector flags (set to flag 5% of real ones)",
            "summary/table",
            ("detector",),
            ("source",),
            "caught",
            ".4f",
        ),
        Grid(
            "AUROC of each detector, real against each source",
            "summary/table",
            ("detector",),
            ("source",),
            "auroc",
            ".4f",
        ),
    ),
)

_HYBRID = Spec(
    EVOLUTION,
    figures=(
        Figure("budget (forward-pass equivalents)", "budget_forward_equivalents", COUNT),
        Figure("population", "population", COUNT),
        Figure("seed", "seed"),
        Figure("refinement steps", "refinement/refine_steps", COUNT),
        Figure("refine every (generations)", "refinement/refine_every", COUNT),
        Figure("learning rate", "refinement/learning_rate"),
    ),
    tables=(
        Table(
            "CPPN evolution alone against the hybrid, on the same budget",
            "",
            "search",
            (
                Figure("generations", "generations", COUNT),
                Figure("evaluations", "evaluations", COUNT),
                Figure("refined genome-steps", "refined_genome_steps", COUNT),
                Figure("median confidence", "median", CONFIDENCE),
                Figure("classes at >= 0.99", "fooled_at_0.99", COUNT),
                Figure("seconds", "seconds", SECONDS),
            ),
            keys=("plain", "hybrid"),
        ),
    ),
)

_IMAGENET_THROUGHPUT = Spec(
    THROUGHPUT,
    figures=(
        Figure("precision", "precision"),
        Figure("timed generations", "timed_generations", COUNT),
        Figure("warm-up generations", "warmup_generations", COUNT),
    ),
    tables=(
        Table(
            "EfficientNet-Lite0 at the paper's ImageNet settings (torch)",
            "settings",
            "encoding",
            (
                Figure("population", "population", COUNT),
                Figure("bare forward images/s", "bare_forward_images_per_s", SECONDS),
                Figure("end-to-end evaluations/s", "end_to_end_evaluations_per_s", SECONDS),
                Figure("end to end / bare", "ratio", RATIO),
                Figure("rendering / forward", "render_over_forward", RATIO),
                Figure("paper's CPPN run projected (s)", "projected_paper_run_s", SECONDS),
                Figure("goal met", "meets_goal"),
            ),
        ),
    ),
)

_ITERATIONS = (
    Figure("test accuracy", "test_accuracy", ".4f"),
    Figure("fooling-class recall", "fooling_recall", RATIO),
    Figure("recall far from real digits", "fooling_recall_far_from_real", RATIO),
    Figure("median confidence of new elites", "median_confidence", CONFIDENCE),
    Figure("digits at >= 0.99", "fooled_at_0.99", COUNT),
    Figure("of those far from real digits", "fooled_at_0.99_far_from_real", COUNT),
    Figure("gathered near a real digit", "gathered_near_real", RATIO),
    Figure("seconds", "seconds", SECONDS),
)
"""The columns of a retraining run's table, one row per iteration."""


_PAPER_AGAINST_OURS = Table(
    "The paper's results against ours",
    "summary/rows",
    "result",
    (Figure("the paper", "paper"), Figure("ours", "ours")),
    names=("result",),
)


def _reproduce_quick(budget: str, label: str) -> Spec:
    """The spec of `reproduce --quick` on one dataset; `budget` is the key of its share
    of the time budget, `label` that figure's label."""
    return Spec(
        EXPERIMENTS,
        figures=(
            Figure("wall seconds", "wall_seconds", SECONDS),
            Figure(label, budget, RATIO),
            Figure("within the budget", "met"),
            Figure("peak resident set (MiB)", "max_resident_set_mib", COUNT),
            Figure("headline", "summary/headline"),
        ),
        tables=(_PAPER_AGAINST_OURS,),
    )


_TRANSFER = Spec(
    EXPERIMENTS,
    figures=(
        Figure("wall seconds (/usr/bin/time)", "wall_seconds", ",.2f"),
        Figure("seconds of the transfer", "summary/seconds"),
        Figure("peak resident set (GiB)", "max_resident_set_gib", ".2f"),
        Figure("load average after", "load_average_after", ".2f"),
    ),
    tables=(
        Table(
            "Every elite of a run shown to another network",
            "summary/table",
            "run, target",
            (
                Figure("elites", "elites", COUNT),
                Figure("same top-1", "same_top1", RATIO),
                Figure("at >= 0.99 on the target", "at_0.99", RATIO),
                Figure("mean target confidence", "mean_confidence", CONFIDENCE),
                Figure("at >= 0.99 on the source", "source_at_0.99", RATIO),
                Figure("mean source confidence", "source_mean_confidence", CONFIDENCE),
            ),
            names=("run", "target"),
        ),
    ),
)


def _end_to_end_table(what: str, key: str, *, projected: bool) -> Table:
    """A table of `cpu_backends`' end-to-end runs of one model and encoding, by backend."""
    columns = (
        Figure("evaluations/s", "evaluations_per_s", SECONDS),
        Figure("/ torch fp32", "vs_torch_fp32", ".2f"),
    )
    if projected:
        columns += (Figure("paper's run projected (hours)", "paper_run_projected_hours", ".2f"),)
    return Table(f"End to end, {what}", f"end_to_end/{key}", "backend", columns)


def _int8_search_table(encoding: str) -> Table:
    return Table(
        f"EfficientNet-Lite0, {encoding} x 400, the same evaluations for every variant",
        f"results/{encoding}",
        "variant",
        (
            Figure("fp32 median", "fp32_median_confidence", ".4f"),
            Figure("spread over seeds", "fp32_median_spread", ".4f"),
            Figure("classes >= 0.99", "fp32_fooled_at_0.99", ".1f"),
            Figure("seeds finished", "seeds"),
            Figure("share re-scored in fp32 (whole run)", "rescored_share_whole_run", ".4f"),
            Figure("share re-scored (timed turns)", "rescored_share", ".4f"),
            Figure("evaluations/s", "evaluations_per_s", SECONDS),
            Figure("/ bf16", "vs_bf16_report", ".2f"),
        ),
    )


SPECS: dict[str, Spec] = {
    "ablate_imagenet_cpu": _ABLATE,
    "ablate_mnist_cpu": _ABLATE,
    "ascend_runs": Spec(
        EVOLUTION,
        tables=(
            Table(
                "Pixel gradient ascent: LeNet from the command line, EfficientNet-Lite0 in "
                "one batch",
                "",
                "classifier",
                (
                    Figure("classes", "classes", COUNT),
                    Figure("from class", "first_class", COUNT),
                    Figure("precision", "precision"),
                    Figure("a class stops when it reaches 0.9999 in", "stopped_in"),
                    Figure("classes at >= 0.9999", "classes_at_0.9999", COUNT),
                    Figure("wall seconds (fresh process)", "wall_s", ",.2f"),
                    Figure("seconds of the search", "search_s", ",.3f"),
                    Figure("seconds (in process)", "seconds", ",.2f"),
                    Figure("steps used", "steps_used", COUNT),
                    Figure("weakest class confidence", "weakest_class_confidence", CONFIDENCE),
                    Figure("goal met", "meets_goal"),
                ),
                keys=("lenet", "efficientnet_lite0"),
            ),
        ),
    ),
    "ascent_priors": _ASCENT_PRIORS,
    "attack_rates": Spec(
        EXPERIMENTS,
        figures=(
            Figure("MNIST test digits", "images", COUNT),
            Figure("steps (PGD, Carlini-Wagner)", "steps", COUNT),
            Figure("PGD goal at eps 0.1", "pgd_goal_at_0_1", ".2f"),
            Figure("PGD goal met at eps 0.1", "pgd_meets_goal_at_0_1"),
        ),
        tables=(
            Table(
                "Untargeted attacks on the shipped LeNet",
                "runs",
                "attack",
                (
                    Figure("norm", "norm"),
                    Figure("success rate", "success_rate", RATIO),
                    Figure("mean L-inf", "mean_linf", RATIO),
                    Figure("mean L2", "mean_l2", RATIO),
                    Figure("seconds", "seconds", SECONDS),
                ),
                names=("attack", "eps"),
            ),
        ),
    ),
    "backend_race": Spec(
        THROUGHPUT,
        figures=(
            Figure("TORCH_MARGIN, the race's margin for torch", "torch_margin", ".2f"),
            Figure(
                "LeNet races: torch time / OpenVINO time", "lenet_race/torch_over_openvino", RATIO
            ),
            Figure("LeNet searches, each backend", "lenet_searches/searches_each", COUNT),
            Figure(
                "LeNet seconds per search, OpenVINO fp32",
                "lenet_searches/openvino_fp32_seconds_per_search",
                ".4f",
            ),
            Figure(
                "LeNet seconds per search, torch fp32",
                "lenet_searches/torch_fp32_seconds_per_search",
                ".4f",
            ),
            Figure(
                "LeNet searches: torch time / OpenVINO time",
                "lenet_searches/torch_over_openvino",
                RATIO,
            ),
            Figure(
                "EfficientNet-Lite0 races: torch time / OpenVINO time",
                "efficientnet_lite0_race/torch_over_openvino",
                RATIO,
            ),
        ),
    ),
    "gradient_weights": Spec(
        THROUGHPUT,
        figures=(
            Figure("threads", "threads", COUNT),
            Figure("PGD on LeNet: before / now", "pgd_lenet/ratio_before_over_now", RATIO),
            Figure("PGD on LeNet: the same images", "pgd_lenet/same_images", "s"),
            Figure(
                "refinement on Lite0: before / now",
                "refine_efficientnet_lite0/ratio_before_over_now",
                RATIO,
            ),
            Figure(
                "refinement on Lite0: largest difference",
                "refine_efficientnet_lite0/largest_difference",
                ".1e",
            ),
        ),
    ),
    "plot_time": Spec(
        THROUGHPUT,
        figures=(
            Figure("threads", "threads", COUNT),
            Figure("seconds for both plots, margins by hand", "seconds_now", ".3f"),
            Figure("seconds for both plots, constrained layout", "seconds_before", ".3f"),
            Figure("constrained / by hand", "ratio_before_over_now", RATIO),
        ),
    ),
    "near_real_speed": Spec(
        THROUGHPUT,
        figures=(
            Figure("queries", "queries", COUNT),
            Figure("training images", "training_images", COUNT),
            Figure(
                "one thread: cdist over NearReal", "threads/1/ratio_cdist_over_near_real", RATIO
            ),
        ),
        tables=(
            Table(
                "Seconds for all the queries, by threads",
                "threads",
                "threads",
                (
                    Figure("NearReal", "seconds_near_real", ".3f"),
                    Figure("cdist", "seconds_cdist", ".3f"),
                    Figure("cdist over NearReal", "ratio_cdist_over_near_real", RATIO),
                    Figure("largest difference", "largest_difference", ".1e"),
                ),
            ),
        ),
    ),
    "train_layout": Spec(
        THROUGHPUT,
        figures=(
            Figure(
                "updates of a thread: default over channels-last",
                "threads/1/ratio_default_over_channels_last",
                RATIO,
            ),
            Figure("one epoch, default layout: seconds", "one_epoch/default/seconds", SECONDS),
            Figure(
                "one epoch, default layout: test accuracy",
                "one_epoch/default/test_accuracy",
                CONFIDENCE,
            ),
            Figure("one epoch, channels-last: seconds", "one_epoch/channels_last/seconds", SECONDS),
            Figure(
                "one epoch, channels-last: test accuracy",
                "one_epoch/channels_last/test_accuracy",
                CONFIDENCE,
            ),
        ),
        tables=(
            Table(
                "Milliseconds per update, by threads",
                "threads",
                "threads",
                (
                    Figure("default", "ms_per_update/default", ".2f"),
                    Figure("channels-last", "ms_per_update/channels_last", ".2f"),
                    Figure("default over channels-last", "ratio_default_over_channels_last", RATIO),
                ),
            ),
        ),
    ),
    "checkpoint_cost": Spec(
        THROUGHPUT,
        figures=(
            Figure("model", "model"),
            Figure("search ran on", "backend"),
            Figure("generations", "generations", COUNT),
            Figure("population", "population", COUNT),
            Figure("every 50 over the default (wall)", "ratio_every_50_over_default", RATIO),
            Figure("the same search", "same_search"),
            Figure("goal met", "met"),
        ),
        tables=(
            Table(
                "Each run (each checkpoint's generation, start and seconds: in the file)",
                "runs",
                "run",
                (
                    Figure("wall seconds", "wall_seconds", SECONDS),
                    Figure("checkpoint size (MiB)", "checkpoint_mib", SECONDS),
                    Figure("seconds writing them", "checkpoint_seconds", SECONDS),
                    Figure("share of the run", "checkpoint_share", ".4f"),
                    Figure("share between first and last", "share_between_first_and_last", ".4f"),
                ),
            ),
        ),
    ),
    "cppn_networks": Spec(
        EVOLUTION,
        figures=(
            Figure("generations", "generations", COUNT),
            Figure("population", "population", COUNT),
            Figure("the paper's median (AlexNet, 5,000 generations)", "paper/median", ".4f"),
        ),
        tables=(
            Table(
                "The same CPPN search against each network, and against Lite0 with other seeds",
                "runs",
                "network, seed",
                (
                    Figure("median confidence (fp32)", "median", ".4f"),
                    Figure("classes at >= 0.99", "fooled_at_0.99", COUNT),
                    Figure("seconds", "seconds", SECONDS),
                ),
                names=("classifier", "seed"),
            ),
        ),
    ),
    "cppn_budget": Spec(
        EVOLUTION,
        figures=(
            Figure("population", "population", COUNT),
            Figure("the paper's median (AlexNet, 5,000 generations)", "paper/median", ".4f"),
            Figure(
                "the search's median first at the paper's (generation)",
                "search_reached_paper_median_at",
                COUNT,
            ),
        ),
        tables=(
            Table(
                "The run at its end and continued: each as its summary gives it (fp32)",
                "runs",
                "generations",
                (
                    Figure("median confidence (fp32)", "median", ".4f"),
                    Figure("classes at >= 0.99", "fooled_at_0.99", COUNT),
                    Figure("median as the search scored it", "search_median", ".4f"),
                    Figure("seconds of search", "seconds", SECONDS),
                ),
                names=("generations",),
            ),
            Table(
                "The search's own median every 1,000 generations",
                "search_every_1000",
                "generation",
                (
                    Figure("median", "median", ".4f"),
                    Figure("classes at >= 0.99", "fooled_at_0.99", COUNT),
                    Figure("seconds", "seconds", SECONDS),
                ),
                names=("generation",),
            ),
        ),
    ),
    "retrained_evolution": Spec(
        EXPERIMENTS,
        figures=(
            Figure("generations", "generations", COUNT),
            Figure("the retraining's own generations", "campaign_generations", COUNT),
            Figure("population", "population", COUNT),
            Figure("near a real digit within (distance)", "near_real_cutoff", ".2f"),
        ),
        tables=(
            Table(
                "Digits of 10 fooled, both encodings together (retrain: the paper's gathering; "
                "retrain-far: far-only)",
                "networks",
                "network (run:iteration)",
                (
                    Figure("test accuracy", "test_accuracy", ".4f"),
                    Figure("at >= 0.99, the retraining's own search", "campaign/fooled_at_0.99"),
                    Figure("at >= 0.99, run longer", "fooled_at_0.99"),
                    Figure("of those, far from every real digit", "fooled_at_0.99_far_from_real"),
                    Figure("at >= 0.9999, run longer", "fooled_at_0.9999"),
                ),
                names=("network",),
            ),
            *(
                Table(
                    f"The {encoding} encoding: digits at >= 0.99 at generation 200 and at the "
                    "end; first generation with every digit at >= 0.99 and >= 0.9999 (n/a: not "
                    "by the end)",
                    "networks",
                    "network (run:iteration)",
                    (
                        Figure("at 200", f"encodings/{encoding}/fooled_at_0.99_at_200"),
                        Figure("at the end", f"encodings/{encoding}/fooled_at_0.99"),
                        Figure("all at >= 0.99", f"encodings/{encoding}/all_at_0.99"),
                        Figure("all at >= 0.9999", f"encodings/{encoding}/all_at_0.9999"),
                        Figure(
                            "mean distance to the nearest real digit",
                            f"encodings/{encoding}/nearest_real_distance",
                            ".2f",
                        ),
                        Figure("seconds", f"encodings/{encoding}/seconds", SECONDS),
                    ),
                    names=("network",),
                )
                for encoding in ("direct", "cppn")
            ),
        ),
    ),
    "cpu_backends": Spec(
        THROUGHPUT,
        figures=(
            Figure("fp32 goal (times the path before)", "goals/fp32/goal", ".1f"),
            Figure("fp32 best (times the path before)", "goals/fp32/best_vs_before", ".2f"),
            Figure("fp32 goal met", "goals/fp32/met"),
            Figure("bf16 goal (times the path before)", "goals/bf16/goal", ".1f"),
            Figure("bf16 best (times the path before)", "goals/bf16/best_vs_before", ".2f"),
            Figure("bf16 goal met", "goals/bf16/met"),
        ),
        tables=(
            Table(
                "Forward pass, EfficientNet-Lite0, batch 400",
                "forward/efficientnet-lite0 batch 400",
                "backend",
                (
                    Figure("images/s", "images_per_s", SECONDS),
                    Figure("/ torch fp32", "vs_torch_fp32", ".2f"),
                    Figure("top-1 agreement", "top1_agreement", ".4f"),
                    Figure(
                        "largest probability difference", "max_abs_probability_difference", ".2g"
                    ),
                ),
            ),
            Table(
                "Forward pass, LeNet, batch 200",
                "forward/lenet-mnist batch 200",
                "backend",
                (
                    Figure("images/s", "images_per_s", SECONDS),
                    Figure("/ torch fp32", "vs_torch_fp32", ".2f"),
                ),
            ),
            _end_to_end_table(
                "EfficientNet-Lite0, CPPN x 400", "efficientnet-lite0 cppn x 400", projected=True
            ),
            _end_to_end_table(
                "EfficientNet-Lite0, direct x 200",
                "efficientnet-lite0 direct x 200",
                projected=True,
            ),
            _end_to_end_table("LeNet, direct x 200", "lenet-mnist direct x 200", projected=False),
            _end_to_end_table("LeNet, CPPN x 200", "lenet-mnist cppn x 200", projected=False),
        ),
    ),
    "detection_against_lenet": Spec(
        EXPERIMENTS,
        figures=(
            Figure("generations", "generations", COUNT),
            Figure("population", "population", COUNT),
            Figure("goal", "goal"),
        ),
        tables=(
            Grid(
                "Digits fooled at >= 0.99 (of 10) by evolution against LeNet and a detector",
                "runs",
                ("detector", "penalty"),
                ("encoding", "seed"),
                "fooled",
                COUNT,
            ),
            Grid(
                "Share of those that the detector let through",
                "runs",
                ("detector", "penalty"),
                ("encoding", "seed"),
                "share_of_fooled_passed",
                ".2f",
            ),
        ),
    ),
    "detection_imagenet": _DETECTION,
    "detection_lenet": _DETECTION,
    "evaluations_per_second": Spec(
        THROUGHPUT,
        figures=(
            Figure("population", "population", COUNT),
            Figure("goal, direct (end to end / bare)", "goal_ratios/direct", ".2f"),
            Figure("goal, CPPN (end to end / bare)", "goal_ratios/cppn", ".2f"),
            Figure("backend chosen by auto", "auto_backend"),
        ),
        tables=(
            Table(
                "LeNet: a generation end to end against a bare forward pass",
                "encodings",
                "encoding",
                (
                    Figure("bare forward images/s", "bare_forward_images_per_s", COUNT),
                    Figure("end-to-end evaluations/s", "end_to_end_evaluations_per_s", COUNT),
                    Figure("end to end / bare", "ratio", RATIO),
                    Figure("quartiles of the ratio", "ratio_quartiles", RATIO),
                    Figure("goal met", "meets_goal"),
                    Figure("backend auto / torch", "auto_vs_torch", RATIO),
                ),
            ),
        ),
    ),
    "gpu_check": Spec(
        GPU,
        figures=(
            Figure("code", "code"),
            Figure("tests, fresh machine", "steps/tests, fresh machine"),
            Figure("tests, warm machine", "steps/tests, warm (second call)"),
            Figure("throughput benchmark", "steps/throughput"),
            Figure("paper-scale run", "steps/paper_run"),
            Figure("passed", "passed"),
            Figure("skipped", "skipped"),
        ),
        tables=(Table("Failed", "failed", "test", (Figure("what was found", ""),)),),
    ),
    "hybrid_cppn": _HYBRID,
    "imagenet_cppn_tenth": Spec(
        EVOLUTION,
        figures=(
            Figure("wall seconds", "wall_seconds", ",.2f"),
            Figure("seconds of the search", "search_seconds", ",.2f"),
            Figure("evaluations", "evaluations", COUNT),
            Figure("evaluations/s", "evaluations_per_s", SECONDS),
            Figure("median confidence", "median_confidence", CONFIDENCE),
            Figure("classes at >= 0.99", "fooled_at_0.99", COUNT),
            Figure(
                "paper's full budget projected (hours)", "paper_full_budget_projected_hours", ".2f"
            ),
            Figure(
                "the paper's median after 5,000 generations",
                "paper_at_5000_generations/median_confidence",
                ".4f",
            ),
            Figure("peak resident set (GiB)", "max_resident_set_gib", ".2f"),
            Figure("earlier run: evaluations/s", "earlier_run/evaluations_per_s", SECONDS),
            Figure("earlier run: median confidence", "earlier_run/median_confidence", CONFIDENCE),
        ),
    ),
    "imagenet_throughput": _IMAGENET_THROUGHPUT,
    "int8_search": Spec(
        THROUGHPUT,
        figures=(
            Figure("quality runs finished", "quality_runs/finished", COUNT),
            Figure("quality runs planned", "quality_runs/planned", COUNT),
            Figure("CPPN: int8 end to end over bf16 (goal 1.4)", "verdict/goal/speed", ".2f"),
            Figure("goal met (that fast, and as good per evaluation)", "verdict/goal/met"),
            Figure("CPPN: the fastest variant as good as bf16", "verdict/cppn_best_variant"),
            Figure("CPPN: bf16's better admission", "verdict/cppn_bf16_better_admission"),
            Figure("CPPN: int8's better admission", "verdict/cppn_int8_better_admission"),
            Figure("direct: bf16's better admission", "verdict/direct_bf16_better_admission"),
            Figure("direct: int8's better admission", "verdict/direct_int8_better_admission"),
        ),
        tables=(
            _int8_search_table("cppn"),
            _int8_search_table("direct"),
            Table(
                "The paper's CPPN run (5,000 x 400), projected",
                "paper_cppn_run_projected_hours",
                "variant",
                (Figure("hours", "", ".2f"),),
            ),
            Table(
                "How bf16 and int8 read the elites of seed 0's fp32 CPPN run (median of their "
                "class probability over fp32's)",
                "reading_of_fp32_elites/bands",
                "fp32 probability",
                (
                    Figure("elites", "elites", COUNT),
                    Figure("bf16 / fp32", "bf16_over_fp32_median", ".3f"),
                    Figure("int8 / fp32", "int8_over_fp32_median", ".3f"),
                ),
                names=("fp32",),
            ),
        ),
    ),
    "memory_growth": Spec(
        THROUGHPUT,
        tables=(
            Table(
                "Resident memory over a long LeNet run, as `fooling evolve --out` runs it",
                "runs",
                "encoding",
                (
                    Figure("generations", "generations", COUNT),
                    Figure("seconds", "seconds", SECONDS),
                    Figure("RSS after warm-up (MiB)", "rss_after_warm_up_mib", SECONDS),
                    Figure("RSS at the end (MiB)", "rss_at_end_mib", SECONDS),
                    Figure("peak RSS (MiB)", "rss_peak_mib", SECONDS),
                    Figure("growth", "growth", ".4f"),
                    Figure("goal met", "met"),
                ),
            ),
        ),
    ),
    "mnist_fifty": Spec(
        EVOLUTION,
        figures=(
            Figure("population", "settings/population", COUNT),
            Figure("generations", "settings/generations", COUNT),
            Figure("seeds a variant", "settings/seeds", COUNT),
            Figure("confidence level", "settings/level"),
            Figure("within (generations)", "settings/within", COUNT),
        ),
        tables=(
            Table(
                "Networks",
                "networks",
                "network",
                (
                    Figure("test accuracy", "test_accuracy", ".4f"),
                    Figure("training seconds", "train_seconds", SECONDS),
                ),
            ),
            Table(
                "Every digit at the level within 50 generations?",
                "variants",
                "variant",
                (
                    Figure("runs with every digit by 50", "runs_all_by_50", COUNT),
                    Figure("median digits by 50", "median_digits_by_50", COUNT),
                    Figure("seconds", "seconds", SECONDS),
                ),
                names=("network", "encoding", "mean_subtracted_input", "sbx_crossover"),
            ),
        ),
    ),
    "mnist_runs": Spec(
        EVOLUTION,
        tables=(
            Table(
                "LeNet, 200 generations x 200, from the command line",
                "runs",
                "encoding",
                (
                    Figure("wall seconds (fresh process)", "wall_s", ",.2f"),
                    Figure("seconds of the search", "search_s", ",.3f"),
                    Figure("median confidence", "median_confidence", ".7f"),
                    Figure("weakest class confidence", "weakest_class_confidence", ".7f"),
                    Figure("goal met", "meets_goal"),
                ),
            ),
        ),
    ),
    "paper_run_gpu": Spec(
        GPU,
        figures=(
            Figure("classifier", "classifier"),
            Figure("precision of the search", "precision"),
            Figure("encoding", "encoding"),
            Figure("population", "population", COUNT),
            Figure("planned generations", "planned_generations", COUNT),
            Figure("generations run", "generations", COUNT),
            Figure("finished", "finished"),
            Figure("budget (s)", "budget_s", SECONDS),
            Figure("wall seconds", "wall_s", SECONDS),
            Figure("first chunk (s)", "first_chunk_s", SECONDS),
            Figure("last chunk (s)", "last_chunk_s", SECONDS),
            Figure("evaluations/s, last chunk", "evaluations_per_s_last_chunk", COUNT),
            Figure("full run projected (s)", "projected_full_run_s", SECONDS),
            Figure("median confidence (fp32)", "median_confidence_fp32", ".4f"),
            Figure("classes at >= 0.99", "fooled_at_099", COUNT),
            Figure("the paper's median confidence", "paper/median_confidence", ".4f"),
        ),
    ),
    "ray_multinode": Spec(
        SCALE_OUT,
        figures=(
            Figure("generations", "generations", COUNT),
            Figure("population per island", "population_per_island", COUNT),
            Figure("migrate every", "migrate_every", COUNT),
            Figure("link", "link"),
            Figure(
                "one node alone: efficiency per island",
                "one_node_alone_efficiency_per_island",
                RATIO,
            ),
            Figure("one node alone: range", "one_node_alone_efficiency_range", RATIO),
            Figure("one node: efficiency per island", "one_node_efficiency_per_island", RATIO),
            Figure("one node: range", "one_node_efficiency_range", RATIO),
            Figure("one node: merge (ms)", "one_node_merge_ms", ".2f"),
            Figure("two nodes: efficiency per island", "two_nodes_efficiency_per_island", RATIO),
            Figure("two nodes: range", "two_nodes_efficiency_range", RATIO),
            Figure("two nodes: merge (ms)", "two_nodes_merge_ms", ".2f"),
            Figure("idle Ray cores of the two nodes", "idle_ray_cores_of_the_two_nodes", RATIO),
            Figure("node lost: run median confidence", "node_loss/lost_run_median", CONFIDENCE),
            Figure(
                "node lost: median within the seeds' spread", "node_loss/median_within_seed_spread"
            ),
            Figure("node lost: every class filled", "node_loss/every_class_filled"),
            Figure("node lost: evaluations counted once", "node_loss/evaluations_counted_once"),
        ),
        tables=(
            Table(
                "Evaluations per second, round by round",
                "evaluations_per_s",
                "round",
                (
                    Figure("one process", "one_process", COUNT),
                    Figure("one node", "one_node", COUNT),
                    Figure("two nodes", "two_nodes", COUNT),
                ),
            ),
        ),
    ),
    "ray_quality": Spec(
        SCALE_OUT,
        tables=(
            Table(
                "Islands against one population of the same size (means over the seeds)",
                "cases",
                "case",
                (
                    Figure("classes", "classes", COUNT),
                    Figure("generations", "generations", COUNT),
                    Figure("population", "population", COUNT),
                    Figure(
                        "median, one population",
                        "summary/islands_every_10_median/single_mean",
                        ".4f",
                    ),
                    Figure(
                        "median, islands migrating every 10",
                        "summary/islands_every_10_median/islands_mean",
                        ".4f",
                    ),
                    Figure(
                        "median, islands migrating every 1",
                        "summary/islands_every_1_median/islands_mean",
                        ".4f",
                    ),
                    Figure(
                        "at >= 0.99, one population",
                        "summary/islands_every_10_fooled_at_0.99/single_mean",
                    ),
                    Figure(
                        "at >= 0.99, islands every 10",
                        "summary/islands_every_10_fooled_at_0.99/islands_mean",
                    ),
                    Figure(
                        "at >= 0.99, islands every 1",
                        "summary/islands_every_1_fooled_at_0.99/islands_mean",
                    ),
                ),
            ),
        ),
    ),
    "ray_scaling": Spec(
        SCALE_OUT,
        figures=(
            Figure("generations", "generations", COUNT),
            Figure("population", "population", COUNT),
            Figure("migrate every", "migrate_every", COUNT),
            Figure("1 island, whole run: efficiency", "1_islands_whole_efficiency", RATIO),
            Figure("1 island, whole run: range", "1_islands_whole_efficiency_range", RATIO),
            Figure("1 island, steady: efficiency", "1_islands_steady_efficiency", RATIO),
            Figure("1 island, steady: range", "1_islands_steady_efficiency_range", RATIO),
            Figure("2 islands, whole run: efficiency", "2_islands_whole_efficiency", RATIO),
            Figure("2 islands, whole run: range", "2_islands_whole_efficiency_range", RATIO),
            Figure("2 islands, steady: efficiency", "2_islands_steady_efficiency", RATIO),
            Figure("2 islands, steady: range", "2_islands_steady_efficiency_range", RATIO),
            Figure("overhead per merge (s)", "overhead_per_merge_s", ".4f"),
        ),
        tables=(
            Table(
                "Evaluations per second, round by round",
                "evaluations_per_s",
                "round",
                (
                    Figure("one process", "single_process", COUNT),
                    Figure("1 island, whole", "1_islands_whole", COUNT),
                    Figure("1 island, steady", "1_islands_steady", COUNT),
                    Figure("2 islands, whole", "2_islands_whole", COUNT),
                    Figure("2 islands, steady", "2_islands_steady", COUNT),
                ),
            ),
        ),
    ),
    "reproduce_imagenet_quick_cpu": _reproduce_quick(
        "ratio_to_1800s_budget", "share of the 1,800 s budget"
    ),
    "reproduce_mnist_quick_cpu": _reproduce_quick(
        "ratio_to_300s_budget", "share of the 300 s budget"
    ),
    "reproduce_mnist_cpu": Spec(
        EXPERIMENTS,
        figures=(
            Figure("seconds of the steps, summed", "steps_wall_seconds", SECONDS),
            Figure("retraining iterations", "summary/retrain_iterations", COUNT),
            Figure("headline", "summary/headline"),
        ),
        tables=(_PAPER_AGAINST_OURS,),
    ),
    "retrain_paper": Spec(
        EXPERIMENTS,
        figures=(
            Figure("iterations planned", "settings/iterations", COUNT),
            Figure("iterations finished", "iterations_finished", COUNT),
            Figure("finished", "finished"),
            Figure("seconds of the iterations", "seconds_of_the_iterations", SECONDS),
        ),
        tables=(Table("Iterations", "iterations", "iteration", _ITERATIONS, names=("iteration",)),),
        also=("retrain_paper_missed.png",),
    ),
    "suite_time": Spec(
        OTHER,
        figures=(
            Figure(
                "one process over scripts/test.sh (wall)", "ratio_one_process_over_test_sh", RATIO
            ),
        ),
        tables=(
            Table(
                "Each run of the whole suite (a fresh cache folder each)",
                "runs",
                "run",
                (
                    Figure("pytest options", "pytest_options"),
                    Figure("wall seconds", "wall_seconds", SECONDS),
                    Figure("CPU seconds", "cpu_seconds", SECONDS),
                    Figure("pytest's last line", "last_line"),
                ),
            ),
        ),
    ),
    "retrain_quick": Spec(
        EXPERIMENTS,
        figures=(
            Figure("wall seconds", "wall_seconds", SECONDS),
            Figure("share of the 300 s budget", "ratio_to_300s_budget", RATIO),
            Figure("peak resident set (MiB)", "max_resident_set_mib", COUNT),
            Figure("LeNet backend", "lenet_backend"),
            Figure("goal met: wall seconds", "met/wall_seconds"),
            Figure("goal met: test accuracy", "met/test_accuracy"),
            Figure("goal met: recall far from real digits", "met/fooling_recall_far_from_real"),
        ),
        tables=(
            Table(
                "Iterations", "summary/iterations", "iteration", _ITERATIONS, names=("iteration",)
            ),
        ),
    ),
    "transfer_imagenet_cpu": _TRANSFER,
    "transfer_mnist_cpu": _TRANSFER,
}
"""The headline figures of each benchmark, by the `benchmark` field of its files."""

GENERIC_SKIP = frozenset({"cpu_count", "torch_threads"})
"""Numbers at the top of a file that describe the machine, not a measurement."""


def lookup(data: Any, path: str) -> Any:
    """The value at `path` in `data` (keys joined by `/`; `""` is `data` itself).

    Raises:
        MissingFigure: a key or list index on the way is not there.
    """
    value = data
    for key in path.split("/") if path else []:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise MissingFigure(f"no figure at {path!r}")
    return value


def show(value: Any, form: str = "") -> str:
    """A value as a table cell: text, yes/no, n/a for null, numbers in `form`."""
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return " ".join(value.split()).replace("|", "\\|")
    if isinstance(value, list):
        return ", ".join(show(item, form) for item in value)
    if isinstance(value, dict):
        raise TypeError(f"a figure is a number, text, yes/no or a list of them, not {value!r}")
    if form:
        return format(value, form)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


def cell(entry: Any, figure: Figure) -> str:
    """One table cell: `figure` of `entry`, or n/a when the entry lacks it."""
    try:
        return show(lookup(entry, figure.path), figure.form)
    except MissingFigure:
        return ABSENT


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def row_name(entry: Any, names: tuple[str, ...], index: int) -> str:
    """A list entry's name: its `names` fields (`pgd eps 0.15`), or its index.

    Text is written as it is, a number after its field's name, a yes field by its name.
    """
    if not isinstance(entry, dict):
        return str(index)
    parts = []
    for name in names:
        value = entry.get(name)
        label = name.replace("_", " ")
        if value is True:
            parts.append(label)
        elif isinstance(value, str):
            parts.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{label} {value}")
    return " ".join(parts) or str(index)


def table_lines(table: Table, data: dict[str, Any]) -> list[str]:
    """A `Table`: its title, then a row per entry."""
    container = lookup(data, table.path)
    if table.keys:
        entries = [(key, lookup(container, key)) for key in table.keys]
    elif isinstance(container, dict):
        entries = list(container.items())
    else:
        entries = [(row_name(item, table.names, i), item) for i, item in enumerate(container)]
    header = [table.row, *(figure.label for figure in table.columns)]
    rows = [
        [show(name), *(cell(entry, figure) for figure in table.columns)] for name, entry in entries
    ]
    return [f"**{table.title}**", "", *markdown_table(header, rows)]


def grid_lines(grid: Grid, data: dict[str, Any]) -> list[str]:
    """A `Grid`: its title, then a row per value of its row fields."""
    cells: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    value = Figure(grid.value, grid.value, grid.form)
    for index, record in enumerate(lookup(data, grid.path)):
        row = row_name(record, grid.rows, index)
        column = row_name(record, grid.columns, index)
        if column not in columns:
            columns.append(column)
        cells.setdefault(row, {})[column] = cell(record, value)
    header = [", ".join(grid.rows), *columns]
    rows = [
        [show(row), *(found.get(column, ABSENT) for column in columns)]
        for row, found in cells.items()
    ]
    return [f"**{grid.title}**", "", *markdown_table(header, rows)]


def headline_figures(spec: Spec | None, data: dict[str, Any]) -> list[list[str]]:
    """[label, shown value] of a file's headline figures: its spec's, or, for a benchmark
    with no spec, every number at the top of the file."""
    if spec is None:
        return [
            [key, show(value)]
            for key, value in data.items()
            if isinstance(value, int | float)
            and not isinstance(value, bool)
            and key not in GENERIC_SKIP
        ]
    return [[figure.label, show(lookup(data, figure.path), figure.form)] for figure in spec.figures]


def cpu_line(data: dict[str, Any]) -> str:
    """The CPU a file was measured on: model and precision flags, cores, torch threads."""
    if data.get("cpu_model"):
        cpu = data["cpu_model"] + precision_flags(data.get("cpu_precision_flags"))
    elif data.get("cpu"):  # a description written by hand (gpu_check_cuda.json)
        cpu = data["cpu"]
    else:
        cpu = f"{NOT_RECORDED} (processor {data.get('processor', 'not recorded either')})"
    counts = [
        f"{data[key]} {noun}{'' if data[key] == 1 else 's'}"
        for key, noun in (("cpu_count", "core"), ("torch_threads", "torch thread"))
        if key in data
    ]
    return ", ".join([cpu, *counts])


def precision_flags(flags: Any) -> str:
    """` (avx512_bf16, avx512f; no amx_bf16)` from the recorded flags; `""` if none."""
    if not isinstance(flags, dict) or not flags:
        return ""
    has = [flag for flag in sorted(flags) if flags[flag]]
    lacks = [f"no {flag}" for flag in sorted(flags) if not flags[flag]]
    return " (" + "; ".join(part for part in (", ".join(has), ", ".join(lacks)) if part) + ")"


def topic(spec: Spec | None, data: dict[str, Any]) -> str:
    """The topic a file's section goes under."""
    if data.get("gpu"):
        return GPU
    return spec.topic if spec else OTHER


def beside(path: Path, spec: Spec | None) -> list[str]:
    """Files next to a result that belong to it: named after it, or named by its spec."""
    named = [
        other.name
        for other in sorted(path.parent.iterdir())
        if other.suffix != ".json" and other.name.startswith((f"{path.stem}.", f"{path.stem}_"))
    ]
    return named + [name for name in (spec.also if spec else ()) if name not in named]


def link(name: str) -> str:
    """A link from docs/ to a file in benchmarks/results/."""
    return f"[`{name}`](../benchmarks/results/{name})"


def section(path: Path, data: dict[str, Any], spec: Spec | None) -> str:
    """One result file's section of the page; `spec` is its benchmark's, if it has one."""
    blocks = [f"### {path.stem}", "\n".join(facts(path, data, spec))]
    figures = headline_figures(spec, data)
    if figures:
        blocks.append("\n".join(markdown_table(["figure", "value"], figures)))
    for table in spec.tables if spec else ():
        made = table_lines(table, data) if isinstance(table, Table) else grid_lines(table, data)
        blocks.append("\n".join(made))
    if isinstance(data.get("note"), str):
        blocks.append(f"Note: {show(data['note'])}")
    return "\n\n".join(blocks)


def facts(path: Path, data: dict[str, Any], spec: Spec | None) -> list[str]:
    """The list under a section's heading: files, command, machine, date."""
    files = link(path.name)
    extras = beside(path, spec)
    if extras:
        files += "; beside it: " + ", ".join(link(name) for name in extras)
    lines = [f"- File: {files}"]
    if data.get("command"):
        lines.append(f"- Command: `{' '.join(data['command'].split())}`")
    if data.get("gpu"):
        lines.append(f"- GPU: {data['gpu']}")
    lines.append(f"- CPU: {cpu_line(data)}")
    if data.get("torch"):
        lines.append(f"- torch: {data['torch']}")
    lines.append(f"- Measured: {data.get('measured_at', 'date not recorded')}")
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def introduction(count: int, topics: list[str]) -> str:
    """The page's head: what it is, how it is made, how to read a machine."""
    contents = " · ".join(f"[{name}](#{anchor(name)})" for name in topics)
    return "\n".join(
        [
            "# Everything measured",
            "",
            "[← README](../README.md)",
            "",
            f"Generated from the {count} files in [`benchmarks/results/`](../benchmarks/results/)",
            f"by `{COMMAND}`: do not edit it by hand; run that command after a benchmark",
            "writes a result (`tests/test_results_page.py` fails while the page is not current).",
            "Each section is one result file: the command that made it, the machine it ran on",
            "as the file records it, when, and its headline figures. The file holds every",
            "figure, and the benchmark script in `benchmarks/` says what each one means.",
            "",
            "The CPU line gives the model, the flags that decide whether bf16 pays",
            "(AMX-BF16, AVX-512-BF16), the cores and torch's threads. Older files record the",
            "model and flags as one string, the model followed by the bf16 flags it has",
            "(`AMD EPYC avx512_bf16`: AVX-512-BF16, no AMX-BF16); a file that does not name",
            f"its CPU says `{NOT_RECORDED}`. Machines differ several-fold (an AMD EPYC",
            "without AMX against a Xeon with AMX), so compare the ratios a benchmark measures",
            "in one process, not times across machines.",
            "",
            f"Topics: {contents}",
        ]
    )


def page(results: Path = RESULTS) -> str:
    """The whole of docs/measured.md, made from the JSON files in `results`.

    Raises:
        ValueError: a file lacks a figure its spec names, or holds it in another shape;
            the message names the file and the figure.
    """
    sections: dict[str, list[str]] = {name: [] for name in TOPICS}
    files = sorted(results.glob("*.json"))
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        spec = SPECS.get(data.get("benchmark", path.stem))
        try:
            sections[topic(spec, data)].append(section(path, data, spec))
        except (MissingFigure, TypeError) as error:
            raise ValueError(
                f"{path.name}: {error}; update SPECS in benchmarks/results_page.py"
            ) from error
    topics = [name for name in TOPICS if sections[name]]
    parts = [introduction(len(files), topics)]
    for name in topics:
        parts += [f"## {name}", *sections[name]]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with `--check` say whether it is current (exit 1 if not)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is not current")
    args = parser.parse_args(argv)
    text = page()
    if args.check:
        current = PAGE.is_file() and PAGE.read_text(encoding="utf-8") == text
        if not current:
            print(f"{PAGE} is not current: run `{COMMAND}`", file=sys.stderr)
        return 0 if current else 1
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
