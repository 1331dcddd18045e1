"""The real headless Chromium the page tests drive (Debian's `chromium`, through playwright)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
browser_only = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")


@dataclass
class LoadedPage:
    """What a page showed once loaded: its images, text, tables, and what went wrong."""

    images: list[dict] = field(default_factory=list)
    text: str = ""
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def load_page(path: Path) -> LoadedPage:
    """Open `path` in headless Chromium and read it back once every image has settled."""
    playwright = pytest.importorskip("playwright.sync_api")
    loaded = LoadedPage()
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: m.type == "error" and loaded.errors.append(m.text))
        page.on("pageerror", lambda error: loaded.errors.append(str(error)))
        page.on("requestfailed", lambda request: loaded.errors.append(f"failed {request.url}"))
        page.on("request", lambda request: loaded.requests.append(request.url))
        page.goto(path.as_uri(), wait_until="load")
        loaded.images = page.eval_on_selector_all(
            "img", "all => all.map(i => ({src: i.getAttribute('src'), complete: i.complete,"
            " width: i.naturalWidth}))",
        )  # fmt: skip
        loaded.text = page.inner_text("body")
        loaded.tables = page.evaluate(
            "() => Object.fromEntries([...document.querySelectorAll('table[id]')].map(t =>"
            " [t.id, [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.innerText))]))"
        )
        loaded.links = page.eval_on_selector_all("a[href]", "all => all.map(a => a.href)")
        browser.close()
    return loaded
