"""The README is a front page, and every link between it and docs/ leads somewhere."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
PAGES = sorted([README, *(ROOT / "docs").rglob("*.md")])
TOPICS = ["commands", "experiments", "models", "cpu", "scale-out", "runs", "how-it-works",
          "measured", "architecture"]  # fmt: skip

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", flags=re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", flags=re.MULTILINE)


def _prose(text: str) -> str:
    """The text without code blocks, where a `#` line or `[a](b)` is not Markdown."""
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors a page's headings make; a repeated one gets -1, -2, ... as on GitHub."""
    made: set[str] = set()
    for heading in HEADING.findall(_prose(page.read_text())):
        slug = candidate = _slug(heading)
        repeat = 0
        while candidate in made:
            repeat += 1
            candidate = f"{slug}-{repeat}"
        made.add(candidate)
    return made


def links(page: Path) -> list[str]:
    """The relative link targets of a page (images too), outside code."""
    prose = INLINE_CODE.sub("", _prose(page.read_text()))
    return [target for target in LINK.findall(prose)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.IGNORECASE)]  # fmt: skip


def test_the_readme_is_a_front_page():
    lines = len(README.read_text().splitlines())
    assert lines <= 200, f"README.md has {lines} lines; move the detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in links(page):
        path, _, anchor = unquote(target).partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading makes #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / unquote(target).partition("#")[0]).resolve() for target in links(README)}
    missing = [name for name in TOPICS if (ROOT / "docs" / f"{name}.md").resolve() not in linked]
    assert not missing, f"README.md does not link docs/{{{','.join(missing)}}}.md"


def test_slugs_follow_githubs_rules():
    assert _slug("Retraining with a fooling class: `retrain`") == (
        "retraining-with-a-fooling-class-retrain"
    )
    assert _slug("A loop of your own (ask/tell)") == "a-loop-of-your-own-asktell"
    assert _slug("The paper's Figure 1: `figure1`") == "the-papers-figure-1-figure1"
