"""The paper's Figure 1 from real runs: fooling points far from the data, adversarial ones near."""

import json

import pytest
import torch
from matplotlib.markers import MarkerStyle

from fooling.cli import main
from fooling.experiments.figure1 import CENTRES, Figure1, Point, blobs
from fooling.report.figure1 import COLOURS, draw_figure1


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


def test_each_kind_of_point_is_drawn_with_the_papers_symbol():
    """Circles, triangles, pentagons and squares, coloured by class, all named in the legend."""
    points, labels = blobs(per_class=10)
    found = [
        Point("evolution", -5.0, 5.0, 0, 1.0, 4.0),
        Point("evolution", 5.0, -5.0, 2, 1.0, 4.0),
        Point("ascent", -5.0, -5.0, 1, 1.0, 3.5),
        Point("adversarial", 0.0, 0.5, 2, 0.6, 0.1, source=(0.0, 0.4)),
    ]
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2, 3))  # regions: any will do
    figure = draw_figure1(Figure1(network, points, labels, found))
    axes, table_axes = figure.axes
    names = [
        "training data (circles)",
        "fooling: evolved (triangles)",
        "fooling: gradient ascent (pentagons)",
        "adversarial (squares)",
    ]
    legend = axes.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        *names, "class red", "class green", "class blue"
    ]  # fmt: skip
    # one scatter per kind, its marker path the paper's symbol, filled with the predicted class
    expected = {
        names[0]: ("o", labels.tolist()),
        names[1]: ("^", [0, 2]),
        names[2]: ("p", [1]),
        names[3]: ("s", [2]),
    }
    assert [collection.get_label() for collection in axes.collections] == names
    for collection in axes.collections:
        marker, classes = expected[collection.get_label()]
        style = MarkerStyle(marker)
        shape = style.get_path().transformed(style.get_transform()).vertices
        assert collection.get_paths()[0].vertices == pytest.approx(shape)
        assert collection.get_facecolors()[:, :3] == pytest.approx(COLOURS[classes])
    for handle, name in zip(legend.legend_handles, names, strict=False):
        assert handle.get_marker() == expected[name][0]
    # the found points stand out: drawn bigger than, and over, the training points
    training, *others = axes.collections
    for collection in others:
        assert collection.get_sizes()[0] >= 4 * training.get_sizes()[0]
        assert collection.get_zorder() > training.get_zorder()
    # the table names each point's kind as the legend does
    cells = table_axes.tables[0].get_celld()
    assert [cells[row, 0].get_text().get_text() for row in range(1, 5)] == [
        names[1], names[1], names[2], names[3]
    ]  # fmt: skip
