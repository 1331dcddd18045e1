"""Is the budget what keeps the ImageNet CPPN run below the paper's 88.11%? (issue 23)

    python benchmarks/cppn_budget.py [--run ~/campaign/imagenet/runs/evolve-cppn]
        [--work ~/campaign/imagenet-extra/evolve-cppn-10000] [--generations 10000]

The paper's CPPN run is 5000 generations of 400 images; ours ended below its median, with
the median still rising. Here a finished run of that command (`--run`, a `fooling
reproduce imagenet` step; left as it is) is continued on a copy of its folder (`--work`,
outside the work tree) from its final checkpoint to `--generations`, by the same command
with `--resume`. The CPPN encoding's mutation does not depend on the planned number of
generations, so this is the run that command with `--generations 10000` would have made
(the same seed, the checkpointed random state). A continuation stopped part way goes on
when this runs again; one already finished is only read.

Saved: the median confidence and classes at >= 99% as each run's summary gives them
(re-scored in fp32) at the end of `--run` and of the continuation; the search's own
median (in the precision it ran in) every 1,000 generations, and the first generation at
which it reached the paper's median (None: not reached); the continuation's elites as
one sheet.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import RESULTS, machine, save
from campaign import contact_sheet

from fooling.cli import main as fooling
from fooling.errors import FoolingError
from fooling.runs.directory import RunDirectory
from fooling.runs.images import read_png
from fooling.runs.progress import read_progress
from fooling.search.evolution import read_checkpoint

PAPER_MEDIAN = 0.8811  # AlexNet, CPPN, 5000 generations of 400 images
EVERY = 1000
CAMPAIGN = Path.home() / "campaign"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=CAMPAIGN / "imagenet/runs/evolve-cppn")
    parser.add_argument("--work", type=Path,
                        default=CAMPAIGN / "imagenet-extra/evolve-cppn-10000")  # fmt: skip
    parser.add_argument("--generations", type=int, default=10_000)
    parser.add_argument("--name", default="cppn_budget_cpu")
    args = parser.parse_args()
    first = _summary(args.run)
    if first is None or not (args.run / "checkpoint").is_dir():
        parser.error(f"{args.run} holds no finished evolution run with its checkpoint")
    if first.get("encoding") != "cppn" or args.generations <= first["generations"]:
        parser.error(f"{args.run} is a {first.get('encoding')} run of "
                     f"{first['generations']} generations: give a CPPN run, and more "
                     "--generations than it ran")  # fmt: skip
    if not args.work.exists():
        shutil.copytree(args.run, args.work)
    argv = ["evolve", "--classifier", first["classifier"], "--encoding", "cppn",
            "--generations", str(args.generations), "--population", str(first["population"]),
            "--seed", str(first["seed"]), "--resume", "--out", str(args.work)]  # fmt: skip
    done = _summary(args.work)
    same = ("classifier", "encoding", "population", "seed")
    if done is not None and (
        {key: done.get(key) for key in same} != {key: first[key] for key in same}
        or done["generations"] > args.generations
    ):  # (another run: not read as this one)
        parser.error(f"{args.work} holds another run ({done.get('encoding')}, "
                     f"{done['generations']} generations): give a new --work")  # fmt: skip
    if done is None or done["generations"] < args.generations:
        if fooling([*argv, "--quiet"]) != 0:
            sys.exit(f"the continuation stopped: fooling {shlex.join(argv)}")
        done = _summary(args.work)
    rows = read_progress(args.work / "progress.csv")
    reached = next((row.generation for row in rows if row.median_confidence >= PAPER_MEDIAN),
                   None)  # fmt: skip
    model = read_checkpoint(args.work / "checkpoint")["settings"]["model"]
    figures = {
        "benchmark": "cppn_budget", **machine(torch.device("cpu")),
        "run": str(args.run), "continued_in": str(args.work),
        "continued_with": "fooling " + shlex.join(argv),
        "population": first["population"], "seed": first["seed"],
        "searched_in": f"{model.get('backend')} {model.get('precision')}",
        "paper": {"median": PAPER_MEDIAN, "generations": 5000},
        "runs": [_ended(first, rows), _ended(done, rows)],
        "search_every_1000": [
            {"generation": row.generation, "median": row.median_confidence,
             "fooled_at_0.99": row.fooled, "seconds": round(row.seconds, 1)}
            for row in rows if row.generation % EVERY == 0 and row.generation > 0
        ],
        "search_reached_paper_median_at": reached,
    }  # fmt: skip
    images = torch.stack([read_png(args.work / cell["image"]) for cell in done["classes"]])
    contact_sheet(images, RESULTS / f"{args.name}.png")
    save(args.name, figures)
    for run in figures["runs"]:
        print(f"generation {run['generations']:,}: median {run['median']:.2%} (fp32), "
              f"{run['fooled_at_0.99']} classes at >= 99%")  # fmt: skip
    print(f"the search's median first reached the paper's {PAPER_MEDIAN:.2%} at generation "
          f"{reached}")  # fmt: skip


def _summary(folder: Path) -> dict | None:
    """The run's summary, or None where it has none yet (unreadable: one line, exit 2)."""
    if not (folder / "summary.json").is_file():
        return None
    try:
        return RunDirectory(folder).read_summary()
    except FoolingError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def _ended(summary: dict, rows: list) -> dict:
    """A run's end as its summary gives it (fp32), beside the search's own median there."""
    at = next(row for row in rows if row.generation == summary["generations"])
    return {"generations": summary["generations"], "median": summary["median_confidence"],
            "fooled_at_0.99": summary["fooled_at_0.99"], "search_median": at.median_confidence,
            "seconds": summary["seconds"]}  # fmt: skip


if __name__ == "__main__":
    main()
