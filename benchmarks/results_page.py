"""Write docs/measured.md from the benchmark results, so that no figure there can drift.

Every JSON file in `benchmarks/results/` becomes one section: the command that made
it, the machine it ran on (CPU model and the flags that decide precision, or the GPU),
when, and a table of its figures: those `HEADLINES` names for that benchmark, or, for
one it does not name, every number at the top of the file.

    python benchmarks/results_page.py           # write docs/measured.md
    python benchmarks/results_page.py --check   # exit 1 if docs/measured.md is not current
"""

from __future__ import annotations

import argparse
import json
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
PAGE = Path(__file__).parents[1] / "docs" / "measured.md"
COMMAND = "python benchmarks/results_page.py"

MACHINE_KEYS = {
    "benchmark", "command", "platform", "processor", "cpu_model", "cpu_precision_flags",
    "cpu", "cpu_count", "torch_threads", "python", "torch", "gpu", "measured_at", "code",
    "device", "note", "numpy", "openvino", "onnxruntime",
}  # fmt: skip
"""Keys that say where and how a figure was made, not what was measured."""

HEADLINES: dict[str, list[str]] = {
    "ablate_imagenet_cpu": ["wall_seconds", "summary/classes_*", "summary/median_after_all/*"],
    "ablate_mnist_cpu": ["wall_seconds", "summary/classes_*", "summary/median_after_all/*"],
    "ascend_runs_cpu": ["*/wall_s", "*/search_s", "*/seconds", "*/steps_used",
                        "*/weakest_class_confidence"],
    "ascent_priors_cpu": ["methods/*/reached_0.99", "methods/*/median", "methods/*/seconds",
                          "methods/*/same_top1/*"],
    "ascent_priors_cppn_cpu": ["methods/*/reached_0.99", "methods/*/median",
                               "methods/*/seconds", "methods/*/same_top1/*"],
    "attack_rates_cpu": ["runs/*/eps", "runs/*/success_rate", "runs/*/mean_l2",
                         "runs/*/seconds"],
    "backend_race_cpu": ["torch_margin", "lenet_searches/*", "efficientnet_lite0_race/*"],
    "cpu_backends_cpu": ["forward/efficientnet-lite0 batch 400/*/images_per_s",
                         "end_to_end/*/*/evaluations_per_s", "end_to_end/*/*/vs_torch_fp32"],
    "detection_against_lenet_cpu": ["runs/*/share_of_fooled_passed"],
    "detection_*_cpu": ["runs/seconds", "detect_seconds", "summary/table/*/caught"],
    "evaluations_per_second_cpu": ["encodings/*/bare_forward_images_per_s",
                                   "encodings/*/end_to_end_evaluations_per_s",
                                   "encodings/*/ratio", "goal_ratios/*"],
    "hybrid_cppn_*": ["refinement/refine_*", "plain/median", "plain/fooled_at_0.99",
                      "plain/seconds", "hybrid/median", "hybrid/fooled_at_0.99",
                      "hybrid/seconds"],
    "imagenet_cppn_tenth_cpu": ["wall_seconds", "evaluations_per_s", "median_confidence",
                                "fooled_at_0.99", "paper_full_budget_projected_hours"],
    "imagenet_throughput_*": ["settings/*/bare_forward_images_per_s",
                              "settings/*/end_to_end_evaluations_per_s", "settings/*/ratio",
                              "settings/*/render_over_forward",
                              "settings/*/projected_paper_run_s"],
    "memory_growth_cpu": ["runs/*/generations", "runs/*/seconds", "runs/*/rss_*_mib",
                          "runs/*/growth"],
    "mnist_fifty_cpu": ["networks/*/test_accuracy", "variants/*/runs_all_by_50",
                        "variants/*/median_digits_by_50"],
    "mnist_runs_cpu": ["runs/*/wall_s", "runs/*/search_s", "runs/*/median_confidence",
                       "runs/*/weakest_class_confidence"],
    "paper_run_cuda": ["generations", "planned_generations", "wall_s",
                       "evaluations_per_s_last_chunk", "projected_full_run_s",
                       "median_confidence_fp32", "fooled_at_099", "paper/median_confidence"],
    "ray_multinode_cpu": ["*_efficiency_per_island", "*_merge_ms",
                          "idle_ray_cores_of_the_two_nodes", "node_loss/lost_run_median"],
    "ray_quality*_cpu": ["cases/*/summary/*/islands_mean", "cases/*/summary/*/single_mean"],
    "ray_scaling_cpu": ["*_efficiency", "overhead_per_merge_s"],
    "reproduce_*_quick_cpu": ["wall_seconds", "ratio_to_*_budget", "max_resident_set_mib"],
    "reproduce_mnist_cpu": ["steps_wall_seconds", "summary/retrain_iterations"],
    "retrain_paper_cpu": ["iterations_finished", "seconds_of_the_iterations",
                          "iterations/*/test_accuracy", "iterations/*/fooling_recall*",
                          "iterations/*/fooled_at_0.99"],
    "retrain_quick_cpu": ["wall_seconds", "summary/iterations/*/test_accuracy",
                          "summary/iterations/*/fooling_recall*",
                          "gather_yields/*/images_per_1000_evaluations"],
    "transfer_*_cpu": ["wall_seconds", "summary/table/*/same_top1",
                       "summary/table/*/at_0.99", "summary/table/*/mean_confidence"],
    "gpu_check_cuda": ["steps/*", "passed/*", "skipped/*", "failed/*"],
}  # fmt: skip
"""Per benchmark (a file name without `.json`, `*` allowed), the figures shown: paths
into the JSON, key by key (`a/b/c`), `*` standing for any one key or list entry."""

ROW_NAMES = ("name", "network", "detector", "source", "attack", "penalty", "encoding", "seed")
"""Fields that name an entry of a list of records (a table row) on the page."""
ROW_FLAGS = ("mean_subtracted_input", "sbx_crossover")
"""Yes/no fields that name a variant of a record when they are yes."""

MOST_ROWS = 40
"""Rows shown a section at most; the rest stay in the JSON, which the section links."""


def flatten(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every figure in `value` (number, yes/no or text), as (path, value), in order.

    An entry of a list is named by what identifies it (`ROW_NAMES`), else by its index.
    """
    if isinstance(value, bool | int | float | str):
        return [(path, value)]
    if isinstance(value, dict):
        items = [(str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(_row_name(item, index), item) for index, item in enumerate(value)]
    else:
        return []
    found = []
    for key, item in items:
        found += flatten(item, f"{path}/{key}" if path else key)
    return found


def _row_name(item: Any, index: int) -> str:
    """A list entry's name: its identifying fields (`detector source`), or its index."""
    if not isinstance(item, dict):
        return str(index)
    names = [
        str(item[key])
        for key in ROW_NAMES
        if isinstance(item.get(key), str | int) and not isinstance(item[key], bool)
    ]
    names += [flag for flag in ROW_FLAGS if item.get(flag) is True]
    return " ".join(names) or str(index)


def figures(name: str, data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (path, value) rows of one benchmark's table."""
    measured = {key: value for key, value in data.items() if key not in MACHINE_KEYS}
    patterns = next((HEADLINES[key] for key in HEADLINES if fnmatchcase(name, key)), None)
    if patterns is None:  # a benchmark not named: the numbers at the top of its file
        return [(key, value) for key, value in measured.items()
                if isinstance(value, bool | int | float)]  # fmt: skip
    return [(path, value) for path, value in flatten(measured)
            if any(_matches(path, pattern) for pattern in patterns)]  # fmt: skip


def _matches(path: str, pattern: str) -> bool:
    """Whether a path matches a pattern key by key (`*` is any one key)."""
    keys, wanted = path.split("/"), pattern.split("/")
    return len(keys) == len(wanted) and all(map(fnmatchcase, keys, wanted))


def machine(data: dict[str, Any]) -> str:
    """Where the figures were measured, as the file records it."""
    if data.get("gpu"):
        gpu = data["gpu"]
        return f"GPU: {gpu if isinstance(gpu, str) else json.dumps(gpu)}"
    cpu = data.get("cpu_model")
    if not cpu:
        return f"CPU model not recorded ({data.get('processor', 'processor unknown')})"
    flags = data.get("cpu_precision_flags")
    if isinstance(flags, dict):
        cpu += " (" + ", ".join(f"{flag} {'yes' if on else 'no'}"
                                for flag, on in sorted(flags.items())) + ")"  # fmt: skip
    parts = [f"CPU: {cpu}"]
    if "cpu_count" in data:
        parts.append(f"{data['cpu_count']} cores")
    if "torch_threads" in data:
        parts.append(f"{data['torch_threads']} torch threads")
    return ", ".join(parts)


def number(value: Any) -> str:
    """A figure as the page shows it: text, yes/no, whole numbers, or 6 significant digits."""
    if isinstance(value, str):
        return value.replace("|", "\\|")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"


def section(path: Path) -> str:
    """One benchmark file's section of the page."""
    data = json.loads(path.read_text(encoding="utf-8"))
    name = path.stem
    lines = [f"## {name}", "",
             f"[`{path.name}`](../benchmarks/results/{path.name}) · {machine(data)}"]  # fmt: skip
    if data.get("measured_at"):
        lines[-1] += f" · measured {data['measured_at']}"
    if data.get("command"):
        lines += ["", f"`{data['command']}`"]
    rows = figures(name, data)
    if rows:
        lines += ["", "| figure | value |", "| --- | --- |"]
        lines += [f"| {key} | {number(value)} |" for key, value in rows[:MOST_ROWS]]
        if len(rows) > MOST_ROWS:
            lines += ["", f"{len(rows) - MOST_ROWS} more figures in the file."]
    if isinstance(data.get("note"), str):
        lines += ["", f"Note: {data['note']}"]
    return "\n".join(lines)


def page() -> str:
    """The whole of docs/measured.md."""
    files = sorted(RESULTS.glob("*.json"))
    head = [
        "# Everything measured",
        "",
        "[← README](../README.md)",
        "",
        f"Generated from the {len(files)} files in `benchmarks/results/` by `{COMMAND}`; do not",
        "edit it by hand (a test fails when it is not current). Each section is one benchmark:",
        "the file, the machine it ran on as the file records it, when, the command that made",
        "it, and its figures (the benchmark script in `benchmarks/` says what each one means).",
        "Machines differ several-fold (an AMD EPYC without AMX against a Xeon with AMX), so",
        "compare the ratios a benchmark measures in one process, not times across machines.",
    ]
    return "\n\n".join(["\n".join(head), *(section(path) for path in files)]) + "\n"


def main() -> int:
    """Write the page, or with `--check` say whether it is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is not current")
    args = parser.parse_args()
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
