"""The HTML digest in a real browser (Debian's headless Chromium through Playwright): no horizontal
overflow and readable text at a 375 px phone width; screenshots saved as test artifacts."""

from __future__ import annotations

import pytest

from service.digest.render import render

from ..conftest import ARTIFACTS
from .test_render import sample_digest


@pytest.mark.parametrize("width", [375, 1024])
def test_html_digest_layout_in_chromium(browser, tmp_path, width):
    page_file = tmp_path / "digest.html"
    page_file.write_text(render(sample_digest(), "html"), encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 800})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    metrics = page.evaluate("""() => {
        const els = [...document.querySelectorAll('body *')];
        return {
            scrollWidth: document.documentElement.scrollWidth,
            widest: Math.max(...els.map(e => e.getBoundingClientRect().right)),
            smallestFont: Math.min(...els.filter(e => e.textContent.trim()).map(e => parseFloat(getComputedStyle(e).fontSize))),
            bodyFont: parseFloat(getComputedStyle(document.querySelector('body > div')).fontSize),
            scripts: document.scripts.length,
            headings: [...document.querySelectorAll('h2')].map(h => h.textContent.trim()),
        };
    }""")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"digest-{width}px.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert metrics["scrollWidth"] <= width, metrics  # no horizontal scrolling
    assert metrics["widest"] <= width + 0.5, metrics
    assert metrics["bodyFont"] >= 16 and metrics["smallestFont"] >= 13, metrics
    assert metrics["scripts"] == 0 and requests == [page_file.as_uri()]  # no external assets
    assert metrics["headings"][1] == "GSOMIA <intelligence> pact"  # escaped text renders as text
    assert shot.stat().st_size > 10_000
