"""docs/measured.md is generated from benchmarks/results/*.json and kept current."""

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "benchmarks" / "results_page.py"
REGENERATE = "run `python benchmarks/results_page.py`"


@cache
def results_page():
    """benchmarks/results_page.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("results_page", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@cache
def made() -> str:
    """The page as the results make it now."""
    return results_page().page()


def sections(text: str) -> dict[str, str]:
    """Each result file's section of a page, by its heading (the file's stem)."""
    parts = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    return {part.split("\n", 1)[0]: part for part in parts}


def test_the_page_is_what_the_results_make():
    page = results_page()
    written = page.PAGE.read_text(encoding="utf-8")
    assert written == made(), f"docs/measured.md is not current: {REGENERATE}"


def test_check_fails_on_a_page_that_differs(tmp_path, monkeypatch, capsys):
    page = results_page()
    monkeypatch.setattr(page, "PAGE", tmp_path / "measured.md")
    assert page.main(["--check"]) == 1  # no page at all
    page.PAGE.write_text(made().replace("| yes |", "| no |", 1), encoding="utf-8")
    assert page.main(["--check"]) == 1
    assert "run `python benchmarks/results_page.py`" in capsys.readouterr().err
    page.PAGE.write_text(made(), encoding="utf-8")
    assert page.main(["--check"]) == 0


def test_every_result_file_has_one_section_that_names_its_machine():
    found = sections(made())
    stems = sorted(path.stem for path in results_page().RESULTS.glob("*.json"))
    assert sorted(found) == stems
    for stem, text in found.items():
        cpu = re.search(r"^- CPU: (.+)$", text, flags=re.MULTILINE)
        gpu = re.search(r"^- GPU: \S", text, flags=re.MULTILINE)
        assert cpu or gpu, f"{stem}: no machine"
        assert cpu and (cpu[1].startswith("CPU model not recorded") or re.match(r"\w", cpu[1]))
        assert "| --- |" in text, f"{stem} shows no figure: give it a spec in SPECS"


def test_every_file_in_the_results_is_linked_and_every_link_resolves():
    page = results_page()
    targets = re.findall(r"\]\((\.\./[^)#]+)\)", made())
    assert all((page.PAGE.parent / target).exists() for target in targets)
    linked = {Path(target).name for target in targets}
    unlinked = [path.name for path in page.RESULTS.iterdir() if path.name not in linked]
    assert not unlinked, f"no section links {unlinked}: name them in a spec's `also`"


def test_a_figure_in_a_file_is_the_figure_on_the_page(tmp_path):
    page = results_page()
    (tmp_path / "mnist_runs_cpu.json").write_text(
        '{"benchmark": "mnist_runs", "command": "python x.py", "cpu_model": "Test CPU",'
        ' "cpu_precision_flags": {"amx_bf16": false, "avx512_bf16": true}, "cpu_count": 2,'
        ' "torch_threads": 1, "runs": {"cppn": {"search_s": 1.2345678, "meets_goal": true}}}'
    )
    (tmp_path / "new_benchmark_cpu.json").write_text(
        '{"benchmark": "new_benchmark", "processor": "x86_64", "seconds": 12345.678,'
        ' "runs": 3, "deep": {"hidden": 1.5}}'
    )
    text = page.page(tmp_path)
    assert "- CPU: Test CPU (avx512_bf16; no amx_bf16), 2 cores, 1 torch thread" in text
    assert "- Command: `python x.py`" in text
    assert "| cppn | n/a | 1.235 | n/a | n/a | yes |" in text
    new = sections(text)["new_benchmark_cpu"]  # no spec: the numbers at the top
    assert "- CPU: CPU model not recorded (processor x86_64)" in new
    assert "| seconds | 12,345.7 |" in new and "| runs | 3 |" in new and "hidden" not in new
    assert page.page(tmp_path) == text


def test_a_figure_a_spec_names_but_a_file_lacks_stops_the_page(tmp_path):
    (tmp_path / "mnist_fifty_cpu.json").write_text('{"benchmark": "mnist_fifty"}')
    with pytest.raises(ValueError, match=r"mnist_fifty_cpu\.json: .*settings/population"):
        results_page().page(tmp_path)
