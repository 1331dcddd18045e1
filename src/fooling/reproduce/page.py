"""`report.html`: a `Report` (`findings`) as one page that needs nothing but the files beside it."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fooling.records import atomic_write_text
from fooling.report.gallery import format_confidence
from fooling.reproduce.findings import Report, Section
from fooling.reproduce.steps import run_folder
from fooling.runs.directory import RunDirectory

_CSS = """
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;
background:#f6f6f6;color:#222;max-width:1400px}
h1{margin:0 0 .25rem;font-size:1.5rem}
h2{margin:2rem 0 .4rem;font-size:1.15rem}
.headline{font-size:1.1rem;font-weight:600;margin:.4rem 0}
.machine,.note{color:#444}
table{border-collapse:collapse;background:#fff;margin:.5rem 0 1rem;width:100%}
th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#eee}
td.num{font-variant-numeric:tabular-nums}
.scaled{display:inline-block;margin-top:3px;padding:0 4px;background:#fff3cd;
border:1px solid #e0c46c;border-radius:3px;font-size:12px}
.source{color:#666;font-size:12px}
code{font:12px/1.3 ui-monospace,monospace;background:#f0f0f0;padding:1px 3px;
overflow-wrap:anywhere;user-select:all}
.runs{display:flex;flex-wrap:wrap;gap:12px}
.run{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
.run img{display:block;max-width:420px;height:auto;margin-top:6px}
details summary{cursor:pointer;color:#555;font-size:12px}
.best{display:flex;flex-wrap:wrap;gap:6px}
.best figure{margin:0;text-align:center;font-size:12px}
.best img.px{width:112px;image-rendering:pixelated}
"""


def write_report_page(report: Report, out: Path) -> Path:
    """Write `out/report.html` for `report`, linking the runs under `out/runs/`.

    Args:
        report: what to show.
        out: the report's folder.

    Returns:
        The page's path.
    """
    total = sum(record.seconds for record in report.records.values())
    machine = report.machine
    where = machine.get("gpu") or machine.get("cpu", "")
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
        f"<p class=headline id=headline>{escape(report.headline)}</p>",
        f"<p class=machine>device {escape(str(machine.get('device')))} ({escape(where)}, "
        f"{machine.get('cpu_count')} CPU cores) · torch {escape(str(machine.get('torch')))} · "
        f"Python {escape(str(machine.get('python')))} · wall time of the steps "
        f"{_duration(total)} · made {escape(str(machine.get('made_at')))}</p>",
        _results_table(report, out),
        *(f"<p class=note>{escape(note)}</p>" for note in report.notes),
    ]
    for number, (heading, columns, rows) in enumerate(report.extra):
        parts.append(f"<h2>{escape(heading)}</h2>{_table(columns, rows, f'extra-{number}')}")
    if report.differences:
        rows = [[d.setting, d.original, d.ours, d.why] for d in report.differences]
        columns = ["setting", "the original code", "ours", "why"]
        parts.append("<h2>Where our settings differ from the original code</h2>")
        parts.append(_table(columns, rows, "differences"))
    parts.append("<h2>Steps</h2>")
    step_rows = []
    for step in report.steps:
        record = report.records[step.name]
        seconds = _duration(record.seconds) + (" (reused)" if record.reused else "")
        step_rows.append([step.name, f"<code>{escape(step.command(out))}</code>", seconds])
    parts.append(_table(["step", "command", "wall time"], step_rows, "steps", raw=True))
    for section in report.sections:
        parts.append(_section(section, out))
    parts.append("</body></html>\n")
    path = out / "report.html"
    atomic_write_text(path, "".join(parts))
    return path


def _results_table(report: Report, out: Path) -> str:
    if not report.rows:
        return ""
    by_name = {step.name: step for step in report.steps}
    rows = []
    for row in report.rows:
        result = escape(row.result)
        if row.source:
            result += f"<br><span class=source>{escape(row.source)}</span>"
        ours = escape(row.ours)
        if row.scale:
            ours += f"<br><span class=scaled>scaled down: {escape(row.scale)}</span>"
        commands = [f"<code>{escape(by_name[name].command(out))}</code>" for name in row.steps]
        if len(commands) > 2:  # the rest folded, so that one row does not fill the screen
            more = "<br>".join(commands[1:])
            commands = [commands[0], f"<details><summary>and {len(commands) - 1} more "
                        f"commands</summary>{more}</details>"]  # fmt: skip
        commands = "<br>".join(commands)
        rows.append([result, escape(row.paper), ours, escape(row.paper_settings),
                     escape(row.our_settings), commands])  # fmt: skip
    columns = ["result", "paper", "ours", "paper's setting", "our setting", "command"]
    return _table(columns, rows, "results", raw=True)


def _table(columns: list[str], rows: list[list[str]], name: str, *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless `raw` (already HTML)."""
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if raw else escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return (
        f"<table class={name} id={name}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _section(section: Section, out: Path) -> str:
    parts = [f"<h2>{escape(section.title)}</h2>"]
    if section.text:
        parts.append(f"<p class=note>{escape(section.text)}</p>")
    parts.append("<div class=runs>")
    for name in section.steps:
        folder = run_folder(out, name)
        relative = Path("runs") / name
        parts.append(f"<div class=run><b>{escape(name)}</b>")
        for page, text in (("gallery.html", "gallery"), ("report.html", "its page")):
            if (folder / page).is_file():
                link = (relative / page).as_posix()
                parts.append(f' · <a href="{escape(link)}">{text}</a>')
        pictures = sorted((folder / "plots").glob("*.png")) + sorted(folder.glob("*.png"))
        for picture in pictures:
            source = (relative / picture.relative_to(folder)).as_posix()
            parts.append(f'<img src="{escape(source)}" alt="{escape(picture.stem)}">')
        if section.best:
            parts.append(_best_images(folder, relative, section.best))
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def _best_images(folder: Path, relative: Path, count: int) -> str:
    """The run's `count` most confident elites, each with its label and confidence."""
    summary = RunDirectory(folder).read_summary()
    cells = [cell for cell in summary.get("classes", []) if cell.get("image")]
    cells.sort(key=lambda cell: -cell["confidence"])
    figures = []
    for cell in cells[:count]:
        source = escape((relative / cell["image"]).as_posix())
        caption = f"{escape(str(cell['label']))} · {format_confidence(cell['confidence'])}"
        figures.append(
            f'<figure><img class=px src="{source}" alt="{escape(str(cell["label"]))}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return f"<div class=best>{''.join(figures)}</div>"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
