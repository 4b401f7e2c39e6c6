"""The report in a real headless browser: it renders, the console is clean, nothing leaves file://.

Needs Debian's `chromium` (apt-get install -y chromium); skipped with the
reason when it is absent. Drives it over the DevTools protocol (tests/
workers/report/cdp.py), with background networking off and every host name
mapped to nothing, records console messages, exceptions, log entries and
network requests, and saves a screenshot to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from safesynth.report import render_report
from tests.workers.report.cdp import Browser, find_chromium

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI: apt-get install -y chromium)"),
]

PROBE = """(() => ({
  title: document.getElementById('report-title') && document.getElementById('report-title').textContent,
  gauges: document.querySelectorAll('#sqs-gauge svg, #dps-gauge svg').length,
  svgs: document.querySelectorAll('svg').length,
  columnRows: document.querySelectorAll('#column-table tbody tr').length,
  scripts: document.scripts.length,
  firstSection: document.querySelector('main > section') && document.querySelector('main > section').id,
  verdict: document.getElementById('verdict-title') && document.getElementById('verdict-title').textContent,
  verdictTop: document.getElementById('verdict') && document.getElementById('verdict').getBoundingClientRect().top,
  gaugeTop: document.getElementById('sqs-gauge') && document.getElementById('sqs-gauge').getBoundingClientRect().top,
  failedGates: [...document.querySelectorAll('#verdict .failed-gates li')].map(li => li.textContent),
  height: document.documentElement.scrollHeight,
  external: [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || e.getAttribute('href'))
      .filter(u => !u.startsWith('#')),
}))()"""


def test_report_renders_offline_without_errors(full_evaluation: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_report(full_evaluation["evaluation"], full_evaluation["audit"]), encoding="utf-8")
    browser = Browser(CHROMIUM, tmp_path / "profile")  # type: ignore[arg-type]
    try:
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.call(f"{domain}.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=page.as_uri())
        browser.wait_for("Page.loadEventFired")
        browser.drain(1.0)
        probe = browser.call("Runtime.evaluate", expression=PROBE, returnByValue=True)["result"]["value"]
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": min(probe["height"], 6000), "scale": 1})
    finally:
        browser.quit()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(base64.b64decode(shot["data"]))

    assert probe["title"] == "Synthetic data report"
    assert probe["gauges"] == 2 and probe["svgs"] >= 15
    assert probe["columnRows"] == len(full_evaluation["evaluation"].kinds)
    assert probe["scripts"] == 0 and probe["external"] == []
    # the verdict comes first, above the gauges, and says in words which gate failed and why
    assert probe["firstSection"] == "verdict" and probe["verdictTop"] < probe["gaugeTop"]
    assert probe["verdict"].startswith("Not released")
    assert any("minQuality" in t and "must be at least 9.50" in t for t in probe["failedGates"]), probe["failedGates"]

    events = browser.events
    console = [e["params"] for e in events if e["method"] == "Runtime.consoleAPICalled"]
    exceptions = [e["params"] for e in events if e["method"] == "Runtime.exceptionThrown"]
    log_errors = [e["params"]["entry"] for e in events
                  if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning")]
    assert console == [] and exceptions == [] and log_errors == [], (console, exceptions, log_errors)
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert requests and all(u.startswith(("file://", "data:", "about:")) for u in requests), requests
