"""Islands on two Ray nodes against one node (issue 25): evaluations per second per island,
the cost of a merge across the link, and a run that loses a node against runs that do not.

    python benchmarks/ray_multinode.py [--generations 800] [--repeats 3] [--seeds 5]

Needs root and `ip` (iproute2): the second node runs in a network namespace of this
machine, joined to the first by a veth pair (`tests/cluster.py`); nothing leaves the
machine. Both nodes have one CPU each, on the same physical cores, so "two nodes"
measures what the network between them costs, not more hardware.

MNIST LeNet, CPPN encoding, 200 images per island and generation, every process on
one torch thread, merging every 20 generations. Each repeat times, in turn, one
process, two islands on a local cluster of one node (2 CPUs) and two islands on the
two nodes, each island run timed on a warm cluster (its second run). Efficiency per
island = the islands' evaluations per second / (2 x one process); the figures are the
medians of the repeats' ratios. Goal: >= 0.8 on two nodes, as on one. The cost per
merge is measured as in `ray_scaling.py`: rounds of one generation against rounds of 20.

The two nodes' own Ray processes (GCS, raylets, agents) run on the same 2 cores, and
they take CPU while idle, which a real second machine would spend from its own cores.
So each repeat also times one process and two islands on one node before the two
nodes are started (`alone`), and the benchmark measures what the two nodes' idle Ray
processes use (`idle_ray_cores`, from /proc over 10 s).

The node loss: `--seeds` runs of `fooling evolve --workers 2` on the two nodes (30
generations x 40 per island, short enough that the medians still differ from seed to
seed) give the spread of the median confidence; one more run with seed 0 loses the
second node after its first merge. Goal: every class filled, its median within the
spread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
import torch
from _machine import machine, save
from cluster import two_nodes

POPULATION = 200
MIGRATE_EVERY = 20
SHORT = 200  # generations of the runs that time merges
GENERATIONS_LOST = "30"  # of the runs that lose a node, and those they are held against

MEASURE = """
import json, sys, time
import torch, fooling
from fooling.distributed.cluster import connect
from fooling.search.islands import evolve_islands
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution

mode, generations, population, every, short = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(1)
classifier = fooling.load_classifier("lenet-mnist", "cpu", backend="torch")

def run():
    return Evolution(classifier, make_encoding("cppn", classifier.input_shape),
                     population=population, seed=0)

def timed(workers, generations, merge_every):
    started = time.perf_counter()
    if workers == 0:
        result = run().run(generations, progress=False)
    else:
        result = evolve_islands(run(), generations, workers=workers,
                                migrate_every=merge_every, progress=False)
    return result.evaluations, time.perf_counter() - started

if mode == "one":
    evaluations, seconds = timed(0, generations, every)
    print(json.dumps({"evaluations_per_s": evaluations / seconds}))
else:
    connect(None if mode == "local" else mode, cpus=2 if mode == "local" else None)
    timed(2, generations, every)  # the actors' start-up, and a warm cluster after it
    evaluations, seconds = timed(2, generations, every)
    merges = {m: timed(2, short, m)[1] for m in (1, every)}
    extra = (short + 1) - -(-(short + 1) // every)  # merges of one generation, more
    print(json.dumps({"evaluations_per_s": evaluations / seconds,
                      "merge_s": (merges[1] - merges[every]) / extra}))
"""


def measure(mode: str, generations: int, env: dict[str, str]) -> dict[str, float]:
    argv = [mode, str(generations), str(POPULATION), str(MIGRATE_EVERY), str(SHORT)]
    done = subprocess.run([sys.executable, "-c", MEASURE, *argv], env=env, capture_output=True,
                          text=True, check=True, timeout=1800)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def idle_ray_cores(seconds: float = 10.0) -> float:
    """Cores that the processes of Ray (all but this one) use over `seconds` of no work."""

    def cpu_seconds() -> float:
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.parent.name) == os.getpid():
                    continue
                if b"ray" not in (stat.parent / "cmdline").read_bytes():
                    continue
                fields = stat.read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, ValueError, IndexError):
                continue
        return total / os.sysconf("SC_CLK_TCK")

    before = cpu_seconds()
    time.sleep(seconds)
    return (cpu_seconds() - before) / seconds


def evolve(cluster, seed: int, out: Path, *, lose_node: bool = False) -> dict:
    """`fooling evolve --workers 2` on the two nodes; with `lose_node`, the second node is
    killed after the first merge. Returns the run's summary."""
    argv = [sys.executable, "-m", "fooling", "evolve", "--classifier", "lenet-mnist",
            "--encoding", "cppn", "--generations", GENERATIONS_LOST, "--population", "40",
            "--workers", "2", "--migrate-every", "5", "--seed", str(seed), "--address",
            cluster.head,
            "--quiet", "--out", str(out)]  # fmt: skip
    run = subprocess.Popen(argv, env=cluster.env, stderr=subprocess.PIPE, text=True)
    if lose_node:
        progress = out / "progress.csv"
        while run.poll() is None and (
            not progress.is_file() or len(progress.read_text().splitlines()) < 2
        ):  # (a header, then a row per merge)
            time.sleep(0.1)
        cluster.stop_second_node()
    _, errors = run.communicate(timeout=900)
    if run.returncode != 0:
        raise RuntimeError(errors)
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("/tmp/fooling-ray-multinode"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)  # (a run left there would be resumed)
    repeats = []
    alone = [{"one_process": measure("one", args.generations, dict(os.environ)),
              "one_node": measure("local", args.generations, dict(os.environ))}
             for _ in range(args.repeats)]  # fmt: skip
    with two_nodes() as cluster:
        idle = idle_ray_cores()
        print(f"the two nodes' Ray processes, idle: {idle:.2f} cores")
        for repeat in range(args.repeats):
            row = {"one_process": measure("one", args.generations, cluster.env),
                   "one_node": measure("local", args.generations, cluster.env),
                   "two_nodes": measure(cluster.head, args.generations, cluster.env)}  # fmt: skip
            repeats.append(row)
            print(
                f"repeat {repeat}: "
                + ", ".join(
                    f"{key} {value['evaluations_per_s']:,.0f}/s" for key, value in row.items()
                )
            )
        spread = {seed: evolve(cluster, seed, args.out / f"seed{seed}")
                  for seed in range(args.seeds)}  # fmt: skip
        lost = evolve(cluster, 0, args.out / "lost", lose_node=True)
        alive_after, firewalled = cluster.alive_nodes(), cluster.firewalled
    rates = [{key: round(value["evaluations_per_s"]) for key, value in row.items()}
             for row in repeats]  # fmt: skip
    figures = {
        "benchmark": "ray_multinode", **machine(torch.device("cpu")),
        "generations": args.generations, "population_per_island": POPULATION,
        "migrate_every": MIGRATE_EVERY, "evaluations_per_s": rates,
        "link": "veth pair between network namespaces of one machine",
        "firewall": "docs/scale-out.md ports only" if firewalled else "none (no iptables)",
    }  # fmt: skip
    figures["idle_ray_cores_of_the_two_nodes"] = round(idle, 3)
    figures["evaluations_per_s_alone"] = [
        {key: round(value["evaluations_per_s"]) for key, value in row.items()} for row in alone
    ]
    ratios = [row["one_node"]["evaluations_per_s"] / row["one_process"]["evaluations_per_s"] / 2
              for row in alone]  # fmt: skip
    figures["one_node_alone_efficiency_per_island"] = round(statistics.median(ratios), 3)
    figures["one_node_alone_efficiency_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    print(f"one node, no second node beside it: efficiency per island "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip
    for where in ("one_node", "two_nodes"):
        ratios = [row[where]["evaluations_per_s"] / row["one_process"]["evaluations_per_s"] / 2
                  for row in repeats]  # fmt: skip
        merges = [row[where]["merge_s"] for row in repeats]
        figures[f"{where}_efficiency_per_island"] = round(statistics.median(ratios), 3)
        figures[f"{where}_efficiency_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
        figures[f"{where}_merge_ms"] = round(statistics.median(merges) * 1000, 2)
        print(f"{where}: efficiency per island {statistics.median(ratios):.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}), a merge "
              f"{statistics.median(merges) * 1000:.1f} ms")  # fmt: skip
    medians = [summary["median_confidence"] for summary in spread.values()]
    filled = all(cell["confidence"] >= 0 for cell in lost["classes"])
    within = min(medians) <= lost["median_confidence"] <= max(medians)
    figures["node_loss"] = {
        "runs": f"fooling evolve --encoding cppn --generations {GENERATIONS_LOST} "
                "--population 40 --workers 2 --migrate-every 5, on the two nodes",
        "seed_medians": [round(value, 6) for value in medians],
        "lost_run_median": round(lost["median_confidence"], 6),
        "lost_nodes": lost["lost_nodes"], "every_class_filled": filled,
        "median_within_seed_spread": within,
        "evaluations_counted_once": lost["evaluations"] == sum(lost["island_evaluations"]),
        "alive_nodes_after": len(alive_after),
    }  # fmt: skip
    print(f"node loss: median {lost['median_confidence']:.6f} against seeds "
          f"{min(medians):.6f}-{max(medians):.6f}; every class filled: {filled}; "
          f"lost_nodes {lost['lost_nodes']}")  # fmt: skip
    save("ray_multinode_cpu", figures)


if __name__ == "__main__":
    main()
