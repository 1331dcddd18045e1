"""The gallery of a real run, opened in a real (headless) Chromium."""

from pathlib import Path

import pytest
from browser import CHROMIUM, FLAGS

import fooling
from fooling.cli import main

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")


def test_every_elite_shows_with_its_label_and_confidence(tmp_path: Path):
    run = tmp_path / "run"
    argv = ["evolve", "--encoding", "cppn", "--generations", "10", "--population", "30"]
    assert main([*argv, "--out", str(run), "--quiet"]) == 0
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto((run / "gallery.html").as_uri())
        images = page.eval_on_selector_all(
            "img", "all => all.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        captions = page.eval_on_selector_all("figcaption", "all => all.map(c => c.innerText)")
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.reload()
        browser.close()
    assert images == [[True, 28, 28]] * 10  # every PNG decoded, at its real size
    assert [caption.split("\n")[0] for caption in captions] == [f"{d} · {d}" for d in range(10)]
    assert all(caption.split("\n")[1].endswith("%") for caption in captions)
    assert (run / "gallery.html").as_uri() in requests  # the listener saw the page load
    assert all(url.startswith(("file:", "data:")) for url in requests)


def test_labels_are_shown_as_text_not_markup(tmp_path: Path, lenet):
    labels = ["<b>bold</b>", "a & b", '"quoted"', "<script>window.hit=1</script>"]
    labels += [f"digit {d}" for d in range(4, 10)]
    classifier = fooling.Classifier(lenet.model, input_shape=(1, 28, 28), labels=labels)
    result = fooling.evolve(classifier, generations=2, population=10, progress=False)
    gallery = result.save(tmp_path / "run", pages=fooling.write_pages)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(gallery.as_uri())
        captions = page.eval_on_selector_all("figcaption", "all => all.map(c => c.innerText)")
        injected = page.evaluate("() => [document.querySelectorAll('b').length, window.hit]")
        browser.close()
    assert [caption.split("\n")[0] for caption in captions[:4]] == [
        f"{index} · {label}" for index, label in enumerate(labels[:4])
    ]
    assert injected == [10, None]  # only the gallery's own <b> (one per confidence), no script
