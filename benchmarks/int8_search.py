"""int8 against bf16 and fp32 on the ImageNet search: per evaluation, and per second (issue 28).

    python benchmarks/int8_search.py quality [--generations 300] [--direct-generations 100]
                                             [--seeds 3] [--work DIR]
    python benchmarks/int8_search.py speed [--encoding cppn|direct] [--work DIR]
    python benchmarks/int8_search.py bias [--work DIR]
    python benchmarks/int8_search.py report [--work DIR]

EfficientNet-Lite0 on OpenVINO, CPPN and direct, each at a population of 400, in five
variants: fp32 (the reference), bf16 and int8, each with fp32 admission (every offspring
about to enter or replace an elite is scored again in fp32 first) and with report-time
re-scoring (the archive ranks in the search's own precision).

`quality` runs every variant and seed of an encoding for the same number of generations
(CPPN 300 x 400 by default, the issue's floor; direct 100 x 400, so that all 30 runs fit
in one working session on 2 cores: its searches stay far from fooling at any budget we can
afford, and per evaluation is what is compared) and keeps, every `CURVE_EVERY`
generations, the archive's fp32 median confidence and classes at >= 0.99 (scored again in
fp32 where the archive is not). Each run is checkpointed into `--work` as it goes, so that
the command, run again, continues where it stopped (the whole takes hours on 2 cores).
Its own wall times are kept, but other work on the machine may have shared it: the speeds
come from `speed`.

`speed` times every variant end to end (`Evolution.step`, scoring, admission and all),
in `TURNS` turns of `TURN` generations each, every turn starting from the same archive
(the fp32 quality run of seed 0 at generation `SPEED_FROM`, which `quality` keeps), so
that all see the same archive and the same load. Run it on a quiet machine, after
`quality` has passed that point.

`bias` scores the elites of seed 0's finished fp32 CPPN run in bf16 and int8 and keeps,
by fp32 confidence, how much lower or higher each reads them: why fp32 admission gates
like with like (`fooling.search.admission`).

`report` writes `benchmarks/results/int8_search_cpu.json` from all three: each variant's fp32
median and classes >= 0.99 at equal evaluations (mean, and spread over the seeds), its
re-scoring share, its evaluations/s and ratio to bf16, the goal (CPPN int8 >= 1.4x bf16
end to end, and fp32 median not below bf16's minus its seed-to-seed spread), and the
paper's CPPN run (5,000 x 400) projected at the best precision beside bf16.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.allocator import keep_freed_memory
from fooling.archive import Archive
from fooling.classifiers import Classifier, load_classifier
from fooling.classifiers.int8 import Calibration
from fooling.encodings import make_encoding
from fooling.records import FOOLED_AT
from fooling.search.evolution import Evolution, read_checkpoint

MODEL = "efficientnet-lite0"
POPULATION = 400
ENCODINGS = ("cppn", "direct")
VARIANTS = {  # name -> (precision, admission)
    "fp32": ("fp32", None),
    "bf16 report": ("bf16", "report"),
    "bf16 fp32-admission": ("bf16", "fp32"),
    "int8 fp32-admission": ("int8", "fp32"),
    "int8 report": ("int8", "report"),
}
CURVE_EVERY = 50
SPEED_FROM = 150  # the generation of seed 0's quality runs that the speed turns start from
TURN = 2  # generations a variant runs in each of its turns
TURNS = 6
PAPER_GENERATIONS = 5000
GOAL_SPEED = 1.4  # int8 over bf16, CPPN, end to end (on the AMD kind of CPU)
DEFAULT_WORK = Path.home() / "int8_search"


def classifier_for(precision: str) -> Classifier:
    classifier = load_classifier(MODEL, "cpu", backend="openvino", precision=precision)
    if (classifier.backend, classifier.precision) != ("openvino", precision):
        raise SystemExit(f"{MODEL} asked for openvino {precision}, "
                         f"got {classifier.backend} {classifier.precision}")  # fmt: skip
    return classifier


def make_evolution(classifier: Classifier, encoding: str, seed: int, admission: str | None):
    return Evolution(classifier, make_encoding(encoding, classifier.input_shape),
                     population=POPULATION, seed=seed, admission=admission)  # fmt: skip


# ------------------------------------------------------------------ quality
def quality(work: Path, generations: dict[str, int], seeds: int) -> None:
    runs = work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    classifiers: dict[str, Classifier] = {}
    for encoding, seed, variant in run_order(seeds):
        precision, admission = VARIANTS[variant]
        name = f"{encoding}-{seed}-{variant.replace(' ', '-')}"
        done = runs / f"{name}.json"
        if done.is_file():
            continue
        if precision not in classifiers:
            classifiers[precision] = classifier_for(precision)
        one_run(runs / name, done, classifiers[precision], encoding, seed, variant,
                admission, generations[encoding])  # fmt: skip


def run_order(seeds: int) -> list[tuple[str, int, str]]:
    """(encoding, seed, variant) in the order that gives verdicts soonest.

    Seed 0's fp32 runs come first (they hold `speed`'s start); then every seed of the
    compared variants, CPPN's before direct's (CPPN's verdict is the goal's); the fp32
    reference of the other seeds last, as no verdict waits on it.
    """
    compared = [variant for variant in VARIANTS if variant != "fp32"]
    first = [(encoding, 0, "fp32") for encoding in ENCODINGS]
    middle = [(encoding, seed, variant) for encoding in ENCODINGS
              for seed in range(seeds) for variant in compared]  # fmt: skip
    last = [(encoding, seed, "fp32") for seed in range(1, seeds) for encoding in ENCODINGS]
    return first + middle + last


def one_run(
    folder: Path,
    done: Path,
    classifier: Classifier,
    encoding: str,
    seed: int,
    variant: str,
    admission: str | None,
    generations: int,
) -> None:
    """One quality run, continued from its checkpoint in `folder` where there is one."""
    record = folder / "curve.json"
    if (folder / "state.safetensors").is_file() and record.is_file():
        evolution = Evolution.from_state_dict(read_checkpoint(folder), classifier)
        kept = json.loads(record.read_text())
    else:
        evolution = make_evolution(classifier, encoding, seed, admission)
        kept = {"curve": []}
    print(f"{folder.name}: from generation {evolution.generation + 1}", flush=True)
    while evolution.generation < generations:
        target = min(generations, (evolution.generation // CURVE_EVERY + 1) * CURVE_EVERY)
        while evolution.generation < target:  # (from generation 0: `run` starts at 1)
            evolution.step()
            evolution.progress()
        reached = evolution.result()  # its elites' confidences: fp32
        point = {"generation": reached.generations, "evaluations": reached.evaluations,
                 "rescored": reached.rescored, "median": reached.median_confidence,
                 "fooled": reached.fooled()}  # fmt: skip
        kept["curve"].append(point)
        folder.mkdir(parents=True, exist_ok=True)
        evolution.save(folder)
        record.write_text(json.dumps(kept))
        if (seed, variant) == (0, "fp32") and evolution.generation == min(SPEED_FROM, generations):
            evolution.save(folder.parent.parent / "speed-start" / encoding)  # (for `speed`)
        print(f"  generation {point['generation']}: fp32 median {point['median']:.4f}, "
              f"{point['fooled']} classes >= {FOOLED_AT}", flush=True)  # fmt: skip
    last = kept["curve"][-1]
    result = {
        "encoding": encoding, "seed": seed, "variant": variant,
        "precision": classifier.precision, "admission": evolution.admission,
        "generations": evolution.generation, "evaluations": evolution.evaluations,
        "rescored_in_fp32": evolution.rescored,
        "rescored_share": evolution.rescored / evolution.evaluations,
        "fp32_median_confidence": last["median"], "fp32_fooled_at_0.99": last["fooled"],
        "search_seconds": round(evolution.seconds, 1),
        "curve": kept["curve"],
    }  # fmt: skip
    done.write_text(json.dumps(result, indent=1))


# ------------------------------------------------------------------ speed
def speed(work: Path, encodings: tuple[str, ...]) -> None:
    """Evaluations/s of each variant, in turns, each turn from the same mid-run archive.

    Each precision's classifier stays loaded, as in a search. Every turn starts each
    variant afresh from the saved archive, one generation to warm up, then `TURN` timed,
    so that one archive is in memory at a time (a direct archive holds 1000 genomes of
    224 x 224 x 3 floats). With Lite0 compiled three times for a batch of 400, the direct
    encoding needs about 14 GB. `speed.json` gathers the encodings.
    """
    measured = work / "speed.json"
    rates: dict[str, dict[str, Any]] = (
        json.loads(measured.read_text())["speed"] if measured.is_file() else {}
    )
    for encoding in encodings:
        classifiers = {precision: classifier_for(precision) for precision, _ in VARIANTS.values()}
        state = read_checkpoint(work / "speed-start" / encoding)  # (written by `quality`)
        seconds = dict.fromkeys(VARIANTS, 0.0)
        evaluations = dict.fromkeys(VARIANTS, 0)
        rescored = dict.fromkeys(VARIANTS, 0)
        for _ in range(TURNS):
            for variant, (precision, admission) in VARIANTS.items():
                classifier = classifiers[precision]
                evolution = Evolution(
                    classifier, make_encoding(encoding, classifier.input_shape),
                    population=POPULATION, seed=0, admission=admission,
                    archive=Archive.from_state_dict(state["archive"], "cpu"),
                )  # fmt: skip
                evolution.generation = int(state["generation"])
                evolution.step()  # warm up
                evolution.progress()
                before = evolution.evaluations, evolution.rescored
                started = time.perf_counter()
                for _ in range(TURN):
                    evolution.step()
                    evolution.progress()
                seconds[variant] += time.perf_counter() - started
                evaluations[variant] += evolution.evaluations - before[0]
                rescored[variant] += evolution.rescored - before[1]
                del evolution  # (one archive at a time)
                gc.collect()
        rates[encoding] = {
            variant: {
                "evaluations_per_s": round(evaluations[variant] / seconds[variant], 1),
                "timed_generations": TURN * TURNS,
                "rescored_share": round(rescored[variant] / evaluations[variant], 4),
            }
            for variant in VARIANTS
        }
        for variant, row in rates[encoding].items():
            print(f"speed {encoding:>6} {variant:<20} {row['evaluations_per_s']:>7.1f} eval/s "
                  f"(re-scored {row['rescored_share']:.1%})", flush=True)  # fmt: skip
        measured.write_text(json.dumps({"speed": rates, **machine(torch.device("cpu"))}, indent=1))


# ------------------------------------------------------------------ bias
BANDS = (0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0)  # of fp32 confidence


def bias(work: Path, generations: int) -> None:
    """bf16's and int8's reading of fp32-chosen elites, over fp32's, band by band."""
    state = read_checkpoint(work / "runs" / "cppn-0-fp32")
    if int(state["generation"]) != generations:
        raise SystemExit(f"seed 0's fp32 CPPN run is at generation {state['generation']}, "
                         f"not {generations}: run `quality` first")  # fmt: skip
    archive = Archive.from_state_dict(state["archive"], "cpu")
    filled = archive.filled
    images, classes = archive.images[filled].float().div(255), archive.classes[filled]
    exact = archive.confidence[filled]
    found: dict[str, Any] = {"run": "cppn-0-fp32", "generation": generations,
                             "elites": int(filled.sum()), "bands": []}  # fmt: skip
    readings = {}
    for precision in ("bf16", "int8"):
        classifier = classifier_for(precision)
        classifier.calibrate(Calibration.of(make_encoding("cppn", classifier.input_shape)))
        scores = classifier(images)
        readings[precision] = scores.gather(1, classes.view(-1, 1)).squeeze(1)
        found[f"{precision}_top1_agreement"] = round(
            float((scores.argmax(1) == classifier.exact_probabilities(images).argmax(1))
                  .float().mean()), 3)  # fmt: skip
        del classifier
        gc.collect()
    for low, high in itertools.pairwise(BANDS):
        inside = (exact >= low) & ((exact < high) if high < 1 else (exact <= high))
        band: dict[str, Any] = {"fp32": f"{low}-{high}", "elites": int(inside.sum())}
        for precision, reading in readings.items():
            ratio = (reading[inside] / exact[inside]).median() if inside.any() else None
            band[f"{precision}_over_fp32_median"] = (
                None if ratio is None else round(float(ratio), 3)
            )
        found["bands"].append(band)
        print(
            f"fp32 {low:.2f}-{high:.2f}: {band['elites']:4d} elites, "
            + ", ".join(f"{p} / fp32 {band[f'{p}_over_fp32_median']}" for p in readings)
        )
    (work / "bias.json").write_text(json.dumps(found, indent=1))


# ------------------------------------------------------------------ report
def spread(values: list[float]) -> float:
    return max(values) - min(values) if values else 0.0


def report(work: Path, generations: dict[str, int], seeds: int) -> None:
    """Write the results file from what `quality` and `speed` have reached (partial or not)."""
    runs = [json.loads(path.read_text()) for path in sorted((work / "runs").glob("*.json"))]
    measured = json.loads((work / "speed.json").read_text())
    figures: dict[str, Any] = {"benchmark": "int8_search", **machine(torch.device("cpu"))}
    budget = (f"--generations {generations['cppn']} "
              f"--direct-generations {generations['direct']} --seeds {seeds}")  # fmt: skip
    figures["commands"] = [
        f"python benchmarks/int8_search.py quality {budget}",
        "python benchmarks/int8_search.py speed",
        f"python benchmarks/int8_search.py bias --generations {generations['cppn']}",
        f"python benchmarks/int8_search.py report {budget}",
    ]
    planned = len(ENCODINGS) * len(VARIANTS) * seeds
    figures["quality_runs"] = {"finished": len(runs), "planned": planned}
    figures["note"] = (
        "Quality: every run of an encoding scores the same number of evaluations; the fp32 "
        "figures of its archive at the end. Speed: every variant timed in turns from the "
        "same mid-run archive, on the same machine, with no other work running; the quality "
        "runs' own times (search_seconds in their files) shared the machine and are not used."
    )
    figures["speed_measured"] = {key: measured[key] for key in ("cpu", "measured_at")}
    figures["settings"] = {
        "model": MODEL, "population": POPULATION, "generations": generations,
        "seeds": seeds, "variants": VARIANTS, "speed_from_generation": SPEED_FROM,
        "speed_turns": [TURNS, TURN],
    }  # fmt: skip
    rows = {
        encoding: {
            variant: quality_row(runs, encoding, variant) | measured["speed"][encoding][variant]
            for variant in VARIANTS
        }
        for encoding in ENCODINGS
    }
    for by_variant in rows.values():
        bf16 = by_variant["bf16 report"]["evaluations_per_s"]
        for row in by_variant.values():
            row["vs_bf16_report"] = round(row["evaluations_per_s"] / bf16, 2)
    figures["results"] = rows
    if (work / "bias.json").is_file():
        figures["reading_of_fp32_elites"] = json.loads((work / "bias.json").read_text())
    compared = [variant for variant in VARIANTS if variant != "fp32"]
    complete = [
        encoding
        for encoding in ENCODINGS
        if all(rows[encoding][variant]["seeds"] == list(range(seeds)) for variant in compared)
    ]
    figures["verdict"] = verdict(rows, complete)
    best = figures["verdict"]["cppn_best_variant"]
    shown = ("bf16 report", best) if best else VARIANTS
    paper = PAPER_GENERATIONS * POPULATION
    figures["paper_cppn_run_projected_hours"] = {
        variant: round(paper / rows["cppn"][variant]["evaluations_per_s"] / 3600, 2)
        for variant in shown
    }
    save("int8_search_cpu", figures)
    for encoding, by_variant in rows.items():
        for variant, row in by_variant.items():
            quality = (f"fp32 median {row['fp32_median_confidence']:.4f} (spread "
                       f"{row['fp32_median_spread']:.4f}, seeds {row['seeds']})"
                       if row["seeds"] else "no quality run finished")  # fmt: skip
            print(f"{encoding:>6} {variant:<20} {quality}, {row['evaluations_per_s']:>6.1f} "
                  f"eval/s = {row['vs_bf16_report']:.2f}x bf16")  # fmt: skip
    print(json.dumps(figures["verdict"], indent=1))
    print(f"quality runs: {len(runs)} of {planned} finished; verdicts for: "
          f"{', '.join(complete) or 'none yet'}")  # fmt: skip


def quality_row(runs: list[dict[str, Any]], encoding: str, variant: str) -> dict[str, Any]:
    """A variant's fp32 figures over its finished seeds (None where none has finished)."""
    mine = [run for run in runs if (run["encoding"], run["variant"]) == (encoding, variant)]
    medians = [run["fp32_median_confidence"] for run in mine]
    fooled = [run["fp32_fooled_at_0.99"] for run in mine]
    shares = [run["rescored_share"] for run in mine]
    return {
        "seeds": sorted(run["seed"] for run in mine),
        "evaluations": mine[0]["evaluations"] if mine else None,
        "fp32_median_confidence": round(statistics.fmean(medians), 4) if mine else None,
        "fp32_median_spread": round(spread(medians), 4) if mine else None,
        "fp32_median_per_seed": [round(value, 4) for value in medians],
        "fp32_fooled_at_0.99": round(statistics.fmean(fooled), 1) if mine else None,
        "fp32_fooled_per_seed": fooled,
        "rescored_share_whole_run": round(statistics.fmean(shares), 4) if mine else None,
    }


def verdict(rows: dict[str, dict[str, Any]], complete: list[str]) -> dict[str, Any]:
    """Per encoding and precision, the better admission; whether int8 is as good per
    evaluation as bf16; the goal. Only for the encodings in `complete` (every seed of
    every compared variant finished); None elsewhere, and the goal waits for CPPN.

    The better admission has the higher fp32 median, unless the two differ by no more
    than the larger of their seed-to-seed spreads: then the faster one.
    """
    found: dict[str, Any] = {
        "cppn_best_variant": None,
        "goal": {"speed_at_least": GOAL_SPEED, "speed": None, "met": None},
    }
    for encoding in ENCODINGS:
        for precision in ("bf16", "int8"):
            found[f"{encoding}_{precision}_better_admission"] = None
        for variant in ("int8 fp32-admission", "int8 report"):
            found[f"{encoding}_{variant}"] = {"as_good_per_evaluation": None,
                                             "fp32_median_minus_bf16": None,
                                             "speed_vs_bf16": None}  # fmt: skip
    for encoding in complete:
        by_variant = rows[encoding]
        for precision in ("bf16", "int8"):
            fp32, report = (
                by_variant[f"{precision} fp32-admission"],
                by_variant[f"{precision} report"],
            )
            apart = fp32["fp32_median_confidence"] - report["fp32_median_confidence"]
            noise = max(fp32["fp32_median_spread"], report["fp32_median_spread"])
            if abs(apart) > noise:
                better = "fp32-admission" if apart > 0 else "report"
            else:
                faster = fp32["evaluations_per_s"] > report["evaluations_per_s"]
                better = "fp32-admission" if faster else "report"
            found[f"{encoding}_{precision}_better_admission"] = better
        bf16 = by_variant["bf16 report"]
        floor = bf16["fp32_median_confidence"] - bf16["fp32_median_spread"]
        for variant in ("int8 fp32-admission", "int8 report"):
            row = by_variant[variant]
            found[f"{encoding}_{variant}"] = {
                "as_good_per_evaluation": row["fp32_median_confidence"] >= floor,
                "fp32_median_minus_bf16": round(row["fp32_median_confidence"]
                                                - bf16["fp32_median_confidence"], 4),
                "speed_vs_bf16": row["vs_bf16_report"],
            }  # fmt: skip
    if "cppn" not in complete:
        return found
    cppn = rows["cppn"]
    candidates = ["bf16 report", *(v for v in ("int8 fp32-admission", "int8 report")
                                    if found[f"cppn_{v}"]["as_good_per_evaluation"])]  # fmt: skip
    found["cppn_best_variant"] = max(candidates, key=lambda v: cppn[v]["evaluations_per_s"])
    int8 = found[f"cppn_int8 {found['cppn_int8_better_admission']}"]
    found["goal"] |= {
        "speed": int8["speed_vs_bf16"],
        "met": int8["speed_vs_bf16"] >= GOAL_SPEED and int8["as_good_per_evaluation"],
    }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("quality", "speed", "bias", "report"))
    parser.add_argument("--generations", type=int, default=300, help="CPPN's (default 300)")
    parser.add_argument("--direct-generations", type=int, default=100,
                        help="the direct encoding's (default 100)")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--encoding", choices=ENCODINGS, help="speed: this encoding only")
    parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help=f"where runs and checkpoints are kept (default: {DEFAULT_WORK})",
    )
    args = parser.parse_args()
    keep_freed_memory()
    generations = {"cppn": args.generations, "direct": args.direct_generations}
    if args.phase == "quality":
        quality(args.work, generations, args.seeds)
    elif args.phase == "speed":
        speed(args.work, ENCODINGS if args.encoding is None else (args.encoding,))
    elif args.phase == "bias":
        bias(args.work, args.generations)
    else:
        report(args.work, generations, args.seeds)


if __name__ == "__main__":
    main()
