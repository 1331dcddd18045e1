"""The paper's Figure 1 from real runs: fooling points far from the data, adversarial ones near."""

import json

import pytest

from fooling.cli import main
from fooling.experiments.figure1 import CENTRES, blobs


def test_fooling_points_lie_far_and_adversarial_points_near(tmp_path, capsys):
    out = tmp_path / "figure1"
    assert main(["figure1", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"figure: {out / 'figure1.png'}")
    assert (out / "figure1.png").stat().st_size > 20_000
    summary = json.loads((out / "summary.json").read_text())
    points = summary["points"]
    fooling = [point for point in points if point["kind"] in ("evolution", "ascent")]
    adversarial = [point for point in points if point["kind"] == "adversarial"]
    assert {point["kind"] for point in fooling} == {"evolution", "ascent"}
    assert len(fooling) == 2 * len(CENTRES) and len(adversarial) >= len(CENTRES)
    assert all(point["confidence"] >= 0.99 for point in fooling)
    assert summary["ratio"] >= 3  # the bar; measured 40x
    for point in adversarial:  # each moved off its own training point into another class
        assert point["source"] is not None and point["distance"] < 0.5
    assert summary["mean_distance_fooling"] == pytest.approx(
        sum(point["distance"] for point in fooling) / len(fooling)
    )


def test_the_blobs_are_three_real_clusters():
    points, labels = blobs(per_class=50)
    for index, centre in enumerate(CENTRES):
        mean = points[labels == index].mean(dim=0)
        assert abs(mean[0] - centre[0]) < 0.25 and abs(mean[1] - centre[1]) < 0.25
