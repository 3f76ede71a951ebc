"""The demo's board in a real browser: headless Debian Chromium over CDP, axe-core in the page.

The world is the demo's end state (production back on v1, v2 quarantined by an alert's rollback, a v3
promotion PR waiting), built with the real flows in seconds rather than by the 3-minute demo.
"""

from __future__ import annotations

import pytest

from modelops.flows.board import write_board
from tests.board.browser import Browser, require_axe, require_chromium
from tests.board.world import build_board_world
from tests.helpers import REPO_ROOT, require_binary

pytestmark = pytest.mark.slow

SCREENSHOT = REPO_ROOT / "out" / "board-screenshot.png"
PRODUCTION = 'document.querySelector(\'tr[data-model="churn"] td[data-env="production"]\')'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_binary("git")
    world = build_board_world(tmp_path_factory.mktemp("board-world"))
    out = world.world.workdir / "board"
    result = write_board(world.ctx, out)
    assert result.registry == "reachable", result
    return world, out


@pytest.fixture(scope="module")
def browser():
    chromium = require_chromium()
    b = Browser(chromium)
    yield b
    b.close()


def test_the_grid_shows_the_demos_end_state(site, browser):
    world, out = site
    browser.open((out / "index.html").as_uri())
    assert browser.evaluate(f"{PRODUCTION}.querySelector('[data-field=version]').textContent") == "v1"
    quarantined = browser.evaluate(
        f"[...{PRODUCTION}.querySelectorAll('[data-quarantined]')].map(e => e.textContent)"
    )
    assert quarantined == ["v2"]
    waiting = browser.evaluate(
        f"[...{PRODUCTION}.querySelectorAll('[data-field=waiting]')].map(e => e.textContent)"
    )
    assert len(waiting) == 1 and f"PR #{world.pr}" in waiting[0] and "v3" in waiting[0]
    assert browser.evaluate(f"{PRODUCTION}.querySelector('[data-field=registry]').textContent") == (
        "registry in sync"
    )


def test_a_quarantine_link_leads_to_its_rollback_commit(site, browser):
    world, out = site
    browser.open((out / "index.html").as_uri())
    browser.evaluate(f"{PRODUCTION}.querySelector('a[data-quarantined=\"2\"]').click()")
    target = (out / "commits" / f"{world.rollback_commit}.html").as_uri()
    browser.wait_for(f"location.href === '{target}' && document.readyState === 'complete'", "the commit page")
    text = browser.evaluate("document.querySelector('main').innerText")
    assert "rollback churn production: v2 → v1" in text
    assert world.rollback_commit in text and f"Incident: {world.incident}" in text


def test_javascript_only_filters_the_grid(site, browser):
    _, out = site
    browser.open((out / "index.html").as_uri())
    assert browser.evaluate("document.getElementById('filter-box').hidden") is False
    browser.evaluate(
        "const f = document.getElementById('filter'); f.value = 'no-such-model';"
        "f.dispatchEvent(new Event('input'))"
    )
    assert browser.evaluate("document.querySelector('tr[data-model=churn]').hidden") is True
    rows = browser.evaluate("document.querySelectorAll('tr[data-model]').length")
    shown = browser.evaluate("[...document.querySelectorAll('tr[data-model]')].filter(r => !r.hidden).length")
    assert rows >= 1 and shown == 0
    assert browser.evaluate("document.getElementById('filter-count').textContent") == f"0 of {rows} models"


def test_it_is_readable_on_a_phone(site, browser):
    _, out = site
    try:
        browser.viewport(390, 844, mobile=True)
        for page in ("index.html", "models/churn.html"):
            browser.open((out / page).as_uri())
            overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{page} scrolls sideways on a phone by {overflow}px"
    finally:
        browser.send("Emulation.clearDeviceMetricsOverride")


@pytest.mark.parametrize("page", ["index.html", "models/churn.html", "prs/{pr}.html"])
def test_axe_core_finds_no_serious_or_critical_violation(site, browser, page):
    world, out = site
    axe = require_axe()
    browser.open((out / page.format(pr=world.pr)).as_uri())
    violations = browser.axe(axe)
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], serious


def test_a_screenshot_of_the_board_is_kept(site, browser, record_property):
    _, out = site
    browser.viewport(1200, 800)
    try:
        browser.open((out / "index.html").as_uri())
        path = browser.screenshot(SCREENSHOT)
    finally:
        browser.send("Emulation.clearDeviceMetricsOverride")
    assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record_property("screenshot", str(path))
    print(f"board screenshot: {path}")


def test_the_summary_times_the_alert_to_its_rollback_commit_from_the_relays_log(site):
    _, out = site
    index = (out / "index.html").read_text("utf-8")
    # The relay recorded the alert's start 90 s before the rollback commit landed.
    assert "<dt>alert → rollback commit</dt><dd>1 min (median of 1 rollback)</dd>" in index
    assert "<dt>rollbacks</dt><dd>1</dd>" in index
