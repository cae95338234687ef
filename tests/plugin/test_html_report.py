"""The HTML report as an auditor sees it: rendered by a real headless Chromium.

pytest-html draws its rows with JavaScript, so the DOM is read after the
browser ran the page (``--dump-dom``), and a screenshot proves it paints.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.plugin.conftest import run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
]


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    if not shutil.which(CHROMIUM):
        pytest.fail(
            "headless Chromium is needed: apt-get install chromium (lab/up installs it)"
        )
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture
def report(project):
    # Given a run with a passing, a failing and an unreachable host
    run(project, "--inventory", "t", "-m", "stig", "-k", "V-224782 or V-224767")
    (run_dir,) = (project.path / "out" / "t").iterdir()
    return run_dir / "report.html"


TBODY = re.compile(
    r'<tbody class="results-table-row ?[^"]*"([^>]*)>(.*?)</tbody>', re.S
)


def rows(dom: str) -> list[dict[str, str]]:
    """The rendered result rows (the templates have no cells and are skipped)."""
    found = []
    for attrs, body in TBODY.findall(dom):
        cells = dict(
            re.findall(r'<td class="col-(host|vuln|cat|status)">([^<]*)</td>', body)
        )
        if cells:
            cells["hidden"] = "display: none" in attrs
            found.append(cells)
    return found


def test_summary_and_rows_render(report, tmp_path):
    # When Chromium renders the report
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    shot = tmp_path / "report.png"
    chromium(
        tmp_path, "--window-size=1400,1800", f"--screenshot={shot}", report.as_uri()
    )

    # Then the run metadata, the per-host summary and every row are there
    assert 'id="run-metadata"' in dom and "t (" in dom
    summary = re.search(r'<table id="host-summary">(.*?)</table>', dom, re.S).group(1)
    assert re.search(
        r"<td>good01</td><td class=\"compliance\">50% \(1/2\)</td>", summary
    )
    assert re.search(r"<td>bad01</td><td class=\"compliance\">0% \(0/2\)</td>", summary)
    rendered = rows(dom)
    assert {(r["host"], r["vuln"], r["status"]) for r in rendered} == {
        ("good01", "V-224782", "NotAFinding"),
        ("bad01", "V-224782", "Open"),
        ("down01", "V-224782", "Error"),
        ("good01", "V-224767", "Not_Reviewed"),
        ("bad01", "V-224767", "Not_Reviewed"),
        ("down01", "V-224767", "Not_Reviewed"),
    }
    assert not any(r["hidden"] for r in rendered)
    assert len(rendered) == 6
    # And the page paints: a real PNG of some size
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_filters_hide_rows_from_the_url(report, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", report.as_uri() + "?status=Open").stdout

    shown = [r for r in rows(dom) if not r["hidden"]]
    assert [(r["host"], r["vuln"], r["status"]) for r in shown] == [
        ("bad01", "V-224782", "Open")
    ]
    assert len(rows(dom)) == 6
