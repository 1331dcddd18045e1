"""The paper's ImageNet CPPN run (5000 generations x 400, EfficientNet-Lite0) on one GPU.

    python benchmarks/paper_run_gpu.py [--budget-s 300] [--out /tmp/paper_run]

Runs `fooling.evolve` into a run directory in chunks (`fooling.resume` continues each,
as a later session would), and stops at the last chunk that fits `--budget-s`, so a
GPU lent for minutes gives a finished run or an honest "reached generation G". Saves
`results/paper_run_<device>.json` (generations reached, evaluations/s, the fp32 median
confidence and classes at >= 0.99 beside the paper's 88.11%), the progress log as
`results/paper_run_<device>_progress.csv` and a contact sheet of the elites as
`results/paper_run_<device>.png`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch

import fooling
from fooling.records import FOOLED_AT

sys.path.insert(0, str(Path(__file__).parent))
from _machine import RESULTS, machine, save
from campaign import contact_sheet

PAPER = {"median_confidence": 0.8811, "generations": 5000, "population": 400}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--generations", type=int, default=PAPER["generations"])
    parser.add_argument("--population", type=int, default=PAPER["population"])
    parser.add_argument("--chunk", type=int, default=1000, help="generations between stops")
    parser.add_argument("--budget-s", type=float, default=300.0, help="wall-time budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/paper_run"))
    args = parser.parse_args()

    started = time.perf_counter()
    classifier = fooling.load_classifier("efficientnet-lite0", args.device)
    settings = {"progress": False, "checkpoint_every": args.chunk}
    reached = min(args.chunk, args.generations)
    result = fooling.evolve(
        classifier, encoding="cppn", generations=reached, seed=args.seed,
        population=args.population, out=args.out, force=True, **settings,
    )  # fmt: skip
    chunk_s = first_chunk_s = time.perf_counter() - started  # the first holds compiling
    chunk = reached
    while reached < args.generations:
        if time.perf_counter() - started + chunk_s > args.budget_s:
            break
        chunk_started = time.perf_counter()
        chunk = min(args.chunk, args.generations - reached)
        reached += chunk
        result = fooling.resume(args.out, generations=reached, classifier=classifier, **settings)
        chunk_s = time.perf_counter() - chunk_started
        print(f"generation {reached}: median {result.median_confidence:.4f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
    wall_s = time.perf_counter() - started

    name = f"paper_run_{classifier.device.type}"
    later = args.generations - min(args.chunk, args.generations)  # after the first chunk
    confidences = result.confidences
    figures = {"benchmark": "paper_run_gpu", **machine(classifier.device)}
    figures.update(
        classifier=classifier.name, precision=classifier.precision, encoding="cppn",
        seed=args.seed, population=args.population, planned_generations=args.generations,
        generations=reached, finished=reached >= args.generations, budget_s=args.budget_s,
        evaluations=result.evaluations, wall_s=round(wall_s, 1),
        first_chunk_s=round(first_chunk_s, 1), last_chunk_s=round(chunk_s, 1),
        evaluations_per_s_last_chunk=round(chunk * args.population / chunk_s),
        projected_full_run_s=round(first_chunk_s + later / chunk * chunk_s, 1),
        median_confidence_fp32=round(result.median_confidence, 5),  # as summaries take it
        fooled_at_099=int((confidences >= FOOLED_AT).sum()), classes=len(confidences),
        paper=PAPER,
        note="bf16 autocast ranks the search on the GPU; the figures are the elites re-scored "
        "in fp32 (SearchResult), as on the CPU",
    )  # fmt: skip
    save(name, figures)
    shutil.copy(args.out / "progress.csv", RESULTS / f"{name}_progress.csv")
    contact_sheet(result.images, RESULTS / f"{name}.png")
    shown = ("generations", "wall_s", "median_confidence_fp32", "fooled_at_099")
    print({key: figures[key] for key in (*shown, "evaluations_per_s_last_chunk")})


if __name__ == "__main__":
    main()
