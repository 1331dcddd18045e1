"""Tests of fooling.report: file names, PNGs, the HTML gallery, the progress log, plots."""

from __future__ import annotations

import base64
import dataclasses
import io
import math
import re

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from fooling.errors import FoolingError
from fooling.records import ProgressRow
from fooling.report.gallery import GalleryCell, GallerySection, format_confidence, write_gallery
from fooling.report.plots import plot_confidence_over_generations, plot_per_class_confidence
from fooling.runs.images import image_filename, save_png, to_uint8
from fooling.runs.progress import COLUMNS, ProgressLog, read_progress

# ---------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("index", "label", "expected"),
    [
        (0, "0", "images/000_0.png"),
        (8, "hen", "images/008_hen.png"),
        (1234, "x", "images/1234_x.png"),
        (1, "Great White Shark", "images/001_great_white_shark.png"),
        (2, "../../etc/passwd", "images/002_etc_passwd.png"),
        (3, "a/b\\c.d", "images/003_a_b_c_d.png"),
        (4, "café crème", "images/004_cafe_creme.png"),
        (5, "猫", "images/005_class.png"),
        (6, "", "images/006_class.png"),
        (7, "..", "images/007_class.png"),
        (8, "  --Tench,  Tinca tinca--  ", "images/008_tench_tinca_tinca.png"),
    ],
)
def test_image_filename(index: int, label: str, expected: str) -> None:
    assert image_filename(index, label) == expected


def test_image_filename_is_short_and_safe() -> None:
    name = image_filename(999, "x" * 30 + " " + "y" * 100 + "/../\x00\n")
    stem = name.removeprefix("images/").removesuffix(".png")
    assert re.fullmatch(r"999_[a-z0-9_]+", stem)
    assert len(stem) <= len("999_") + 40
    assert not stem.endswith("_")


def test_image_filename_rejects_negative_index() -> None:
    with pytest.raises(ValueError, match="index"):
        image_filename(-1, "a")


# ---------------------------------------------------------------- PNGs


@pytest.mark.parametrize("channels", [1, 3])
def test_png_round_trip(tmp_path, channels: int) -> None:
    torch.manual_seed(0)
    image = torch.rand(channels, 28, 20)
    image[:, 0, 0] = 0.0
    image[:, 0, 1] = 1.0
    path = tmp_path / "sub" / "dir" / "x.png"
    save_png(image, path)

    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert picture.mode == ("L" if channels == 1 else "RGB")
        assert picture.size == (20, 28)
        pixels = np.asarray(picture)
    expected = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(pixels.reshape(expected.shape), expected)
    assert pixels.reshape(expected.shape)[0, 0, 0] == 0
    assert pixels.reshape(expected.shape)[0, 1, 0] == 255


def test_to_uint8_clamps_and_batches() -> None:
    images = torch.tensor([-0.5, 0.0, 0.5, 1.0, 2.0]).reshape(1, 1, 1, 5).double()
    out = to_uint8(images)
    assert out.dtype == np.uint8
    assert out.shape == (1, 1, 5, 1)
    assert out.ravel().tolist() == [0, 0, 128, 255, 255]


@pytest.mark.parametrize("shape", [(28, 28), (2, 28, 28), (4, 8, 8)])
def test_save_png_rejects_bad_shapes(tmp_path, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        save_png(torch.rand(shape), tmp_path / "x.png")


def test_save_png_rejects_nan(tmp_path) -> None:
    image = torch.rand(1, 4, 4)
    image[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        save_png(image, tmp_path / "x.png")


# ---------------------------------------------------------------- gallery

EVIL = '<script>alert(1)</script> & "x"'


def _cells(tmp_path, labels: list[str], confidences: list[float]) -> list[GalleryCell]:
    torch.manual_seed(1)
    cells = []
    for index, (label, confidence) in enumerate(zip(labels, confidences, strict=True)):
        relative = image_filename(index, label)
        save_png(torch.rand(1, 28, 28), tmp_path / relative)
        cells.append(GalleryCell(index, label, confidence, tmp_path / relative))
    return cells


def test_gallery_escapes_and_inlines(tmp_path) -> None:
    labels = [EVIL, "hen", "<b>bold</b>"]
    cells = _cells(tmp_path, labels, [0.99998712, 0.5, 0.99])
    sections = [
        GallerySection(f"heading {EVIL}", cells[:2], note=f"note {EVIL}"),
        GallerySection("second", cells[2:]),
    ]
    path = tmp_path / "out" / "gallery.html"
    write_gallery(path, f"title {EVIL}", sections, subtitle=f"sub {EVIL}")

    html = path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in html
    # title and h1, subtitle, heading, note; the cell in alt and caption
    assert html.count("&lt;script&gt;") == 7
    assert html.count("data:image/png;base64,") == len(cells)
    assert "http" not in html
    assert "file:" not in html
    assert "99.9987%" in html
    assert "50.0000%" in html
    assert "99.0000%" in html
    assert "image-rendering:pixelated" in html
    assert html.count("<figure class=hit>") == 2
    assert not list(path.parent.glob(".*tmp"))  # no temp file left behind


def test_gallery_image_decodes_to_original_pixels(tmp_path) -> None:
    cells = _cells(tmp_path, ["a", "b"], [0.1, 1.0])
    path = tmp_path / "gallery.html"
    write_gallery(path, "t", [GallerySection("s", cells)])

    html = path.read_text(encoding="utf-8")
    encoded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(encoded) == 2
    for text, cell in zip(encoded, cells, strict=True):
        with Image.open(io.BytesIO(base64.b64decode(text))) as inlined:
            inlined_pixels = np.asarray(inlined)
        with Image.open(cell.image) as original:
            assert np.array_equal(inlined_pixels, np.asarray(original))


def test_gallery_resolves_relative_images_against_its_folder(tmp_path) -> None:
    save_png(torch.rand(3, 32, 32), tmp_path / "images" / "000_a.png")
    cell = GalleryCell(0, "a", 0.995, tmp_path.joinpath("images/000_a.png").relative_to(tmp_path))
    write_gallery(tmp_path / "gallery.html", "t", [GallerySection("s", [cell])])
    html = (tmp_path / "gallery.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 1
    assert "width=128 height=128" in html  # 32 px scaled by 4


def test_gallery_with_1000_cells_is_compact(tmp_path) -> None:
    save_png(torch.rand(1, 28, 28), tmp_path / "one.png")
    size_of_png = len(base64.b64encode((tmp_path / "one.png").read_bytes()))
    cells = [GalleryCell(i, f"class {i}", i / 1000, tmp_path / "one.png") for i in range(1000)]
    path = tmp_path / "gallery.html"
    write_gallery(path, "ImageNet", [GallerySection("all", cells)])
    html = path.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 1000
    markup_per_cell = (len(html) - 1000 * size_of_png) / 1000
    assert markup_per_cell < 300


def test_gallery_missing_image_is_a_fooling_error(tmp_path) -> None:
    cell = GalleryCell(0, "a", 1.0, tmp_path / "nope.png")
    with pytest.raises(FoolingError, match=r"nope\.png"):
        write_gallery(tmp_path / "g.html", "t", [GallerySection("s", [cell])])
    (tmp_path / "fake.png").write_text("not a png")
    cell = GalleryCell(0, "a", 1.0, tmp_path / "fake.png")
    with pytest.raises(FoolingError, match="not a PNG"):
        write_gallery(tmp_path / "g.html", "t", [GallerySection("s", [cell])])
    assert not (tmp_path / "g.html").exists()


@pytest.mark.parametrize(
    ("confidence", "text"),
    [
        (0.99998712, "99.9987%"),
        (0.99, "99.0000%"),
        (0.98999999, "98.9999%"),
        (0.999999999, "99.9999%"),
        (1.0, "100.0000%"),
        (0.0, "0.0000%"),
        (1e-9, "0.0000%"),
    ],
)
def test_format_confidence(confidence: float, text: str) -> None:
    assert format_confidence(confidence) == text


# ---------------------------------------------------------------- progress log


def _row(generation: int, best: float = 0.99995) -> ProgressRow:
    return ProgressRow(
        generation=generation,
        evaluations=200 * (generation + 1),
        seconds=0.0123456789 * generation,
        best_confidence=best,
        median_confidence=0.5 + generation / 1000,
        mean_confidence=1 / 3,
        fooled=generation % 11,
        lowest_confidence=0.25 - generation / 1000,
    )


def test_progress_header_is_exact(tmp_path) -> None:
    path = tmp_path / "progress.csv"
    with ProgressLog(path) as log:
        log.start(fresh=True)
    header = "generation,evaluations,seconds,best_confidence,median_confidence,"
    header += "mean_confidence,fooled_at_0.99,lowest_confidence,rescored_share\n"
    assert path.read_text() == header
    assert ",".join(COLUMNS) + "\n" == header
    assert read_progress(path) == []


def test_progress_written_before_the_lowest_column_reads_and_resumes(tmp_path) -> None:
    path = tmp_path / "progress.csv"
    old = "generation,evaluations,seconds,best_confidence,median_confidence,"
    path.write_text(old + "mean_confidence,fooled_at_0.99\n0,200,0.5,0.9,0.5,0.4,0\n")
    (row,) = read_progress(path)
    assert (row.generation, row.best_confidence, row.fooled) == (0, 0.9, 0)
    assert math.isnan(row.lowest_confidence)
    with ProgressLog(path) as log:  # resuming rewrites it in the new format
        log.start(fresh=False)
        log.append(_row(1))
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert [r.generation for r in read_progress(path)] == [0, 1]


def test_progress_written_before_the_rescored_column_reads_as_nothing_rescored(tmp_path) -> None:
    path = tmp_path / "progress.csv"
    old = ",".join(COLUMNS[:8]) + "\n"
    path.write_text(old + "0,200,0.5,0.9,0.5,0.4,0,0.25\n")
    (row,) = read_progress(path)
    assert (row.lowest_confidence, row.rescored_share) == (0.25, 0.0)
    with ProgressLog(path) as log:
        log.start(fresh=False)
        log.append(dataclasses.replace(_row(1), rescored_share=0.125))
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert [r.rescored_share for r in read_progress(path)] == [0.0, 0.125]


def test_progress_round_trip(tmp_path) -> None:
    path = tmp_path / "run" / "progress.csv"
    rows = [_row(0, 0.9999), _row(1, 0.99995), _row(2, 0.123456789012345)]
    with ProgressLog(path) as log:
        log.start(fresh=True)
        for row in rows:
            log.append(row)
            assert read_progress(path)[-1] == row  # flushed at once
    assert read_progress(path) == rows
    assert ProgressLog.read(path) == rows
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    assert ",0.9999," in lines[1] and ",0.99995," in lines[2]


def test_progress_start_fresh_truncates_and_resume_keeps(tmp_path) -> None:
    path = tmp_path / "progress.csv"
    with ProgressLog(path) as log:
        log.start(fresh=True)
        log.append(_row(0))
        log.append(_row(1))
    with ProgressLog(path) as log:
        log.start(fresh=False)
        log.append(_row(2))
    assert read_progress(path) == [_row(0), _row(1), _row(2)]
    with ProgressLog(path) as log:
        log.start(fresh=True)
    assert read_progress(path) == []


def test_progress_truncate_after(tmp_path) -> None:
    path = tmp_path / "progress.csv"
    log = ProgressLog(path)
    log.start(fresh=True)
    for generation in range(6):
        log.append(_row(generation))
    log.truncate_after(3)
    assert read_progress(path) == [_row(g) for g in range(4)]
    log.append(_row(4, best=0.5))  # still open, now on the rewritten file
    log.close()
    assert read_progress(path) == [*(_row(g) for g in range(4)), _row(4, best=0.5)]

    other = ProgressLog(path)
    other.truncate_after(-1)
    assert read_progress(path) == []
    with pytest.raises(RuntimeError):
        other.append(_row(0))  # truncate_after on a closed log leaves it closed


def test_progress_skips_a_cut_off_last_line(tmp_path) -> None:
    path = tmp_path / "progress.csv"
    with ProgressLog(path) as log:
        log.start(fresh=True)
        log.append(_row(0))
    with path.open("a") as f:
        f.write("1,400,0.01,0.9")  # a crash mid-write
    assert read_progress(path) == [_row(0)]
    with ProgressLog(path) as log:
        log.start(fresh=False)
        log.append(_row(1))
    assert read_progress(path) == [_row(0), _row(1)]


def test_progress_bad_files_are_fooling_errors(tmp_path) -> None:
    path = tmp_path / "progress.csv"
    with pytest.raises(FoolingError, match="cannot read"):
        read_progress(path)
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(FoolingError, match="not a progress log"):
        read_progress(path)
    with pytest.raises(FoolingError, match="not a progress log"):
        ProgressLog(path).start(fresh=False)
    path.write_text(",".join(COLUMNS) + "\n1,2,3\n")
    with pytest.raises(FoolingError, match=r"progress\.csv:2"):
        read_progress(path)
    path.write_text(",".join(COLUMNS) + "\n1,2,x,0.1,0.1,0.1,0\n")
    with pytest.raises(FoolingError, match=r"progress\.csv:2"):
        read_progress(path)


def test_progress_append_before_start(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="start"):
        ProgressLog(tmp_path / "p.csv").append(_row(0))


# ---------------------------------------------------------------- plots


def _assert_png(path) -> None:
    assert path.stat().st_size > 1000
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        picture.load()
        assert picture.size[0] > 200 and picture.size[1] > 200


@pytest.mark.parametrize("count", [0, 1, 50])
def test_plot_confidence_over_generations(tmp_path, count: int) -> None:
    rows = [_row(g, best=min(1.0, 0.5 + g / 60)) for g in range(count)]
    path = tmp_path / "plots" / "confidence.png"
    plot_confidence_over_generations(rows, path, "lenet-mnist $ evolve")
    _assert_png(path)


@pytest.mark.parametrize("count", [0, 1, 10, 1000])
def test_plot_per_class_confidence(tmp_path, count: int) -> None:
    rng = np.random.default_rng(0)
    labels = [f"label $number$ {i} <with a long tail>" for i in range(count)]
    confidences = rng.beta(5, 0.3, size=count).tolist()
    path = tmp_path / "plots" / "per_class.png"
    plot_per_class_confidence(labels, confidences, path, "per class")
    _assert_png(path)


IMAGENET_LABELS = ["tench", "great white shark", "ostrich, Struthio camelus", "W" * 30]


@pytest.mark.parametrize(
    "labels",
    [
        [str(digit) for digit in range(10)],
        ["hen", "kite"],
        IMAGENET_LABELS,
        IMAGENET_LABELS * 10,
        [f"class {number}" for number in range(1000)],
    ],
)
@pytest.mark.parametrize("fooled", [3, 1000])
def test_every_text_of_a_plot_lies_inside_it(tmp_path, monkeypatch, labels, fooled) -> None:
    """The margins are set by hand (`plots._margins`): no label may fall off the picture."""
    import fooling.report.plots as plots

    drawn = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: drawn.append(figure))
    values = np.linspace(0.0, 1.0, len(labels)).tolist()
    plot_per_class_confidence(labels, values, tmp_path / "classes.png", "evolve cppn seed 0")
    rows = [_row(g, best=0.99) for g in range(30)]
    rows = [dataclasses.replace(row, fooled=fooled * row.generation // 29) for row in rows]
    plot_confidence_over_generations(rows, tmp_path / "curve.png", "evolve cppn seed 0")
    for figure in drawn:
        # every drawn text, tick labels too (in inches): what constrained layout fitted
        drawn_box = figure.get_tightbbox(FigureCanvasAgg(figure).get_renderer())
        width, height = figure.get_size_inches()
        assert drawn_box.x0 >= -0.01 and drawn_box.y0 >= -0.01, labels[:3]
        assert drawn_box.x1 <= width + 0.01 and drawn_box.y1 <= height + 0.01, labels[:3]


def test_plot_per_class_confidence_rejects_mismatch(tmp_path) -> None:
    with pytest.raises(ValueError, match="labels"):
        plot_per_class_confidence(["a"], [0.1, 0.2], tmp_path / "x.png", "t")
