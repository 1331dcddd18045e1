"""docs/measured.md is generated from benchmarks/results/*.json and kept current."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "benchmarks" / "results_page.py"


def results_page():
    spec = importlib.util.spec_from_file_location("results_page", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_measured_page_is_what_the_results_make():
    page = results_page()
    assert page.PAGE.read_text(encoding="utf-8") == page.page(), (
        "docs/measured.md is not current: run `python benchmarks/results_page.py`"
    )


def test_every_result_file_has_a_section_that_names_its_machine():
    page = results_page()
    sections = page.page().split("\n## ")[1:]
    assert [section.split("\n")[0] for section in sections] == sorted(
        path.stem for path in page.RESULTS.glob("*.json")
    )
    for section in sections:
        where = section.split("\n")[2]
        assert re.search(r"· (CPU: \S|GPU: \S|CPU model not recorded)", where), section[:200]
        assert "| figure | value |" in section, f"{section.split()[0]} shows no figure"


def test_a_figure_in_a_file_is_the_figure_on_the_page(tmp_path, monkeypatch):
    page = results_page()
    (tmp_path / "mnist_runs_cpu.json").write_text(
        '{"cpu_model": "Test CPU", "cpu_count": 2, "command": "python x.py",'
        ' "runs": {"cppn": {"search_s": 1.2345678, "meets_goal": true, "note": "kept out"}}}'
    )
    monkeypatch.setattr(page, "RESULTS", tmp_path)
    text = page.page()
    assert "CPU: Test CPU, 2 cores" in text and "`python x.py`" in text
    assert "| runs/cppn/search_s | 1.23457 |" in text and "kept out" not in text
