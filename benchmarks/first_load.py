"""The first load of EfficientNet-Lite0 on a machine: export, check and races, from an empty cache.

    python benchmarks/first_load.py [--repeats 2]

`--backend auto` races OpenVINO against torch once per model and machine (see
`fooling.classifiers.backends`). Torch's turn on the race's batch of 200 took 9.5 s on
one thread, against 0.55 s for OpenVINO's in bf16. A race now begins with a turn each on an
eighth of the batch, and ends there when one side leads the verdict by `CLEAR_LEAD`
(now); before, every race ran its full turns (`_best_seconds` without a verdict). In this
process, on one thread, each from its own empty cache, the faster of `--repeats` loads
each. The ratio is before's seconds over now's (> 1: now is faster); both must choose the
same backend and precision. The races' records show how near a slice's ratio of the two
sides' times came to the whole batch's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import fastest, machine, save

from fooling.classifiers import backends, load_classifier

NAME = "efficientnet-lite0"


def first_load() -> tuple[str, str, list[dict]]:
    """The backend and precision chosen from an empty cache, and the races' records."""
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="first-load-")
    classifier = load_classifier(NAME, "cpu")
    races = [
        json.loads(path.read_text()) for path in sorted(backends.cache_folder().glob("race-*"))
    ]
    return classifier.backend, classifier.precision, races


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    full_race = backends._best_seconds

    def without_verdict(first, second, batch, *, verdict=None):
        return full_race(first, second, batch)

    now, (*chosen_now, races_now) = fastest(first_load, args.repeats)
    with mock.patch.object(backends, "_best_seconds", without_verdict):
        before, (*chosen_before, races_before) = fastest(first_load, args.repeats)
    print(f"first load of {NAME}: now {now:.1f} s, before {before:.1f} s: "
          f"{before / now:.2f}x; chose {chosen_now} now, {chosen_before} before")  # fmt: skip
    save("first_load_cpu", {
        "benchmark": "first_load",
        **machine(torch.device("cpu")),
        "threads": 1,
        "classifier": NAME,
        "seconds_now": round(now, 2),
        "seconds_before": round(before, 2),
        "ratio_before_over_now": round(before / now, 3),
        "chosen_now": chosen_now,
        "chosen_before": chosen_before,
        # each race's seconds for the whole batch, and the images they were timed on (a
        # race of `now` that ended on a slice: its seconds are the slice's, scaled up)
        "races_now": races_now,
        "races_before": races_before,
    })  # fmt: skip


if __name__ == "__main__":
    main()
