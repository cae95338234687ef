"""The HTML report as an auditor sees it.

The first tests call the hooks of ``html_report`` on results built in memory:
the summary against the gate, the count sentence, the detail pane, the test
id. The others render a real report in a real headless Chromium: pytest-html
draws its rows with JavaScript, so the DOM is read after the browser ran the
page (``--dump-dom``), and a screenshot proves it paints.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import subprocess
from collections import Counter
from types import SimpleNamespace

import pytest

from sphere_stig import gate, redact
from sphere_stig.exporters.content import clean
from sphere_stig.html_report import (
    SUMMARY_COLUMNS,
    HtmlReport,
    counts_sentence,
    summary_column,
)
from sphere_stig.official import load_official
from sphere_stig.outcome import Evidence, Status
from sphere_stig.results import PROPERTY, Result
from tests.exporters.sample_run import SECRET, all_results, make_official
from tests.plugin.conftest import REPO, run

MINI_XCCDF = REPO / "tests" / "official" / "data" / "mini-xccdf.xml"
REAL_XCCDF = (
    REPO.parent / "shared" / "stig" / "U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml"
)
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


# -- The hooks, on results built in memory -----------------------------------


@pytest.fixture
def secret():
    redact.register(SECRET)
    yield SECRET
    redact.clear()


def html_report(results, official=None, fail_on=gate.DEFAULT) -> HtmlReport:
    state = SimpleNamespace(
        results=results,
        official=official,
        fail_on=gate.parse(fail_on),
        started=dt.datetime.now(dt.UTC),
        interrupted=False,
    )
    return HtmlReport(state)


def reported(
    result: Result | None,
    when="call",
    outcome="passed",
    longrepr=None,
    sections=(),
    nodeid="tests_infra/test_stig.py::test_stig[V-224760-sphere01]",
) -> pytest.TestReport:
    properties = [(PROPERTY, json.dumps(result.to_json()))] if result else []
    return pytest.TestReport(
        nodeid=nodeid,
        location=("tests_infra/test_stig.py", 4, "test_stig"),
        keywords={},
        outcome=outcome,
        longrepr=longrepr,
        when=when,
        sections=list(sections),
        user_properties=properties,
    )


def requirement(status, host="sphere01") -> Result:
    return Result(
        kind="requirement", id="CERT-01", host=host, status=status, summary="s"
    )


def table_counts(markup: str, row: str) -> dict[str, int]:
    """The counts of one row of the summary table, by column key."""
    found = re.search(rf"<tr[^>]*><td>{row}</td>(.*?)</tr>", markup)
    assert found, f"no summary row {row}"
    return {k: int(n) for k, n in re.findall(r'class="n-([\w-]+)">(\d+)<', found[1])}


def test_summary_counts_each_result_as_the_gate_does():
    # Given the sample run (a waived finding, an expired waiver, an open port
    # row, an error) and an open overview requirement
    results = all_results() + [requirement(Status.FAIL, host="dc1")]
    report = html_report(results)

    # When the summary is written
    markup = report._host_summary()

    # Then the totals are the gate's: open per class, waived apart, errors
    decision = gate.decide(results, gate.parse(gate.DEFAULT))
    total = table_counts(markup, "All hosts")
    for token in ("cat1", "cat2", "cat3", "ports", "requirements", "error"):
        assert total[token] == decision.blocking[token] + decision.passing[token]
    assert total["waived"] == decision.waived == 1
    assert total["requirements"] == 1 and total["ports"] == 1
    # And the waived finding on sphere01 is not counted as an open CAT II
    sphere01 = table_counts(markup, "sphere01")
    assert (sphere01["cat2"], sphere01["waived"]) == (2, 1)
    # And every result is counted exactly once, per host and in total
    assert total["results"] == len(results)
    for host in ("sphere01", "sphere02", "dc1"):
        counts = table_counts(markup, host)
        assert sum(counts[key] for key, _ in SUMMARY_COLUMNS) == counts["results"]
    # And the gate's verdict is written above the table, as the terminal says it
    line = decision.line(gate.parse(gate.DEFAULT))
    assert f'class="failed">Gate{html.escape(line[4:])}</p>' in markup
    assert "CAT II open" in markup and "Requirements open" in markup


def test_summary_column_follows_the_gate_token():
    waiver = {"state": "valid"}
    cases = {
        "cat1": Result("stig", "V-1", "h", Status.FAIL, "s", severity="high"),
        "waived": Result(
            "stig", "V-1", "h", Status.FAIL, "s", severity="high", waiver=waiver
        ),
        "Open": Result("stig", "V-1", "h", Status.FAIL, "s", severity="oops"),
        "error": Result("port", "LST-1", "h", Status.ERROR, "s"),
        "Not_Applicable": Result("port", "LST-1", "h", Status.NOT_APPLICABLE, "s"),
    }
    assert {summary_column(r): key for key, r in cases.items()} == {k: k for k in cases}


def test_count_sentence_names_every_result_and_status():
    results = all_results()
    statuses = Counter(r.status for r in results)
    assert statuses[Status.NOT_APPLICABLE] and statuses[Status.ERROR]

    sentence = counts_sentence(results, 12.4, other_rows=0)

    assert sentence == (
        "10 results in 12 s: 4 Open, 1 Open (waived), 1 Error, "
        "1 Not_Applicable, 3 NotAFinding."
    )
    assert counts_sentence(results[:1], 0.8, other_rows=2).endswith(
        "The table also holds 2 rows that are not a result: a pytest error "
        "outside any rule, named in the Test column."
    )
    assert "in 2 min 05 s" in counts_sentence(results, 125.3, other_rows=0)


def test_skipped_row_shows_its_reason_and_evidence_not_a_tuple():
    # Given a Not_Reviewed rule, which pytest reports as a skip in setup
    result = Result(
        "stig",
        "V-224767",
        "sphere01",
        Status.NOT_REVIEWED,
        "Manual check: open the account list",
        (Evidence("reviewer answer", "none recorded", "a review", "manual", None),),
        severity="high",
    )
    skip = ("/work/tests_infra/test_stig.py", 6, "Skipped: Not_Reviewed: Manual")
    report = reported(result, when="setup", outcome="skipped", longrepr=skip)
    plugin = html_report([result])

    # When pytest-html asks for the row and its detail pane
    cells = [
        '<td class="col-result">Skipped</td>',
        f'<td class="col-testId">{report.nodeid}::setup</td>',
    ]
    plugin.pytest_html_results_table_row(report, cells)
    data = ["('/work/tests_infra/test_stig.py', 6, 'Skipped: ...')\n"]
    plugin.pytest_html_results_table_html(report, data)

    # Then the pane holds the reason and the evidence as text, once
    (pane,) = data
    assert "<b>Reason:</b> Manual check: open the account list</p>" in pane
    assert "<td>reviewer answer</td><td>none recorded</td><td>a review</td>" in pane
    assert "('/work" not in pane and "Skipped:" not in pane
    # And the Test column holds the test id without its phase
    assert f'<td class="col-testId">{report.nodeid}</td>' in cells
    # And the row itself carries no copy of the evidence
    assert not any("none recorded" in c for c in cells)
    assert '<td class="col-status">Not_Reviewed</td>' in cells


def test_detail_pane_is_one_escaped_line_without_secrets(secret):
    # Given evidence with markup, a secret, a line starting with "E" and a
    # Unicode line separator, and captured output holding the secret
    result = Result(
        "stig",
        "V-224761",
        "sphere01",
        Status.FAIL,
        f"session timeout is 30 <b>minutes</b>\nEnsure it is 15 {secret}",
        (
            Evidence(
                "timeout", "30\u2028Eh <script>x()</script>", "15", "web.xml", False
            ),
        ),
        severity="medium",
    )
    report = reported(
        result,
        outcome="failed",
        sections=[("Captured log call", f"DEBUG RUN winrm password={secret}")],
    )
    data = ["anything"]

    html_report([result]).pytest_html_results_table_html(report, data)

    (pane,) = data
    # pytest-html turns every line starting with "E" red; the pane has one line
    assert not re.search("[\n\r\u2028\u2029]", pane)
    assert "Ensure it is 15" in pane and "&#10;Ensure" in pane
    assert "&lt;script&gt;x()&lt;/script&gt;" in pane and "<script>" not in pane
    assert "&lt;b&gt;minutes&lt;/b&gt;" in pane
    assert secret not in pane and redact.MASK in pane
    assert "<summary>Captured log call</summary>" in pane
    # And the captured output pytest-html appends at teardown is masked too
    assert secret not in str(report.sections)


def test_other_rows_keep_pytest_text_masked_even_when_escaped(secret):
    # Given a teardown error, which carries no result, with the secret in its
    # text: pytest-html has escaped it before the hook sees it
    report = reported(
        None, when="teardown", outcome="failed", nodeid="tests_infra/t.py::test_x"
    )
    data = [html.escape(f"E   ValueError: token '{secret}' & more") + "\n"]
    plugin = html_report([])
    cells = ['<td class="col-testId">tests_infra/t.py::test_x::teardown</td>']

    plugin.pytest_html_results_table_html(report, data)
    plugin.pytest_html_results_table_row(report, cells)

    assert data == [html.escape(f"E   ValueError: token '{redact.MASK}' & more") + "\n"]
    # And its Test column keeps the phase, the one thing that tells it apart
    assert '<td class="col-testId">tests_infra/t.py::test_x::teardown</td>' in cells
    assert plugin.other_rows == 1


def test_official_check_and_fix_text_come_from_the_supplied_xccdf_only():
    official = make_official()
    stig, port = all_results()[0], all_results()[7]
    assert (stig.kind, port.kind) == ("stig", "port")

    with_xccdf = html_report([stig], official=official)._detail(stig, reported(stig))
    without = html_report([stig])._detail(stig, reported(stig))
    port_pane = html_report([port], official=official)._detail(port, reported(port))

    source = official.filename
    assert (
        f"<details><summary>DISA check text ({source})</summary>"
        f"<pre>Official check of {stig.id}.</pre></details>"
    ) in with_xccdf
    assert f"<pre>Official fix of {stig.id}.</pre>" in with_xccdf
    assert "DISA" not in without and "DISA" not in port_pane


# -- The report, rendered by Chromium -----------------------------------------


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


def dom_of(tmp_path, report, query="", script="") -> str:
    """The DOM after Chromium ran the page; ``script`` runs once it is drawn."""
    if script:
        copy = report.with_name("scripted.html")
        page = report.read_text(encoding="utf-8")
        page = page.replace(
            "</body>",
            "<script>window.addEventListener('load', function () {"
            f"{script}}});</script></body>",
        )
        copy.write_text(page, encoding="utf-8")
        report = copy
    return chromium(tmp_path, "--dump-dom", report.as_uri() + query).stdout


def report_path(project):
    (run_dir,) = (project.path / "out" / "t").iterdir()
    return run_dir / "report.html"


@pytest.fixture
def report(project):
    # Given a run with a passing, a failing and an unreachable host
    run(project, "--inventory", "t", "-m", "stig", "-k", "V-224782 or V-224767")
    return report_path(project)


def rows(dom: str) -> list[dict]:
    """The rendered result rows (the templates have no cells and are skipped).

    A row's pane holds tables of its own, so the DOM is cut at the start of
    each row rather than matched up to a closing tag.
    """
    found: list[dict] = []
    for chunk in dom.split('<tbody class="results-table-row')[1:]:
        attrs, _, body = chunk.partition(">")
        cells: dict = dict(
            re.findall(
                r'<td class="col-(host|vuln|cat|status|testId)">([^<]*)</td>', body
            )
        )
        if cells:
            cells["hidden"] = "display: none" in attrs
            log = re.search(
                r'<div class="log">(.*?)</div>\s*</div>\s*</td>', body, re.S
            )
            cells["log"] = log[1] if log else ""
            found.append(cells)
    return found


def shown(dom: str) -> list[tuple[str, str, str]]:
    return [(r["host"], r["vuln"], r["status"]) for r in rows(dom) if not r["hidden"]]


def test_summary_and_rows_render(report, tmp_path):
    # When Chromium renders the report
    dom = dom_of(tmp_path, report)
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
    # And the sentence under the summary counts all six results, not two
    count = re.search(r'<p class="run-count">(.*?)</p>', dom).group(1)
    assert re.match(
        r"6 results in \d+\.\d s: 1 Open, 1 Error, 3 Not_Reviewed, 1 NotAFinding\. ",
        count,
    ), count
    # And a skipped row's pane says why, as text, under a clean test id
    (manual,) = [
        r for r in rendered if r["vuln"] == "V-224767" and r["host"] == "bad01"
    ]
    assert manual["testId"] == "tests_infra/test_stig.py::test_stig[V-224767-bad01]"
    assert "<b>Reason:</b> Manual check: In the console" in manual["log"]
    assert "Skipped:" not in manual["log"] and "('" not in manual["log"]
    assert not any(r["testId"].endswith("::setup") for r in rendered)
    # And the evidence is written once: in the pane, not in a column
    assert dom.count("LockOutRealm</td><td>absent") == 1
    assert 'class="col-evidence"' not in dom
    # And the page paints: a real PNG of some size
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_filters_hide_rows_from_the_url(report, tmp_path):
    expected = {
        "?status=Open": [("bad01", "V-224782", "Open")],
        "?severity=CAT%20I": [
            ("good01", "V-224767", "Not_Reviewed"),
            ("bad01", "V-224767", "Not_Reviewed"),
            ("down01", "V-224767", "Not_Reviewed"),
        ],
        # The gate's tokens name a CAT too, and values match in any case.
        "?severity=cat2&host=bad01": [("bad01", "V-224782", "Open")],
        "?severity=CAT+II&status=error": [("down01", "V-224782", "Error")],
    }
    for query, want in expected.items():
        dom = dom_of(tmp_path, report, query)

        assert sorted(shown(dom)) == sorted(want), query
        assert len(rows(dom)) == 6
        assert 'id="filter-warning" hidden=""' in dom


def test_unknown_filter_value_is_named_and_shows_all_rows(report, tmp_path):
    dom = dom_of(tmp_path, report, "?severity=CAT%20IV")

    assert len(shown(dom)) == 6
    warning = re.search(r'<p id="filter-warning">(.*?)</p>', dom).group(1)
    assert warning == (
        "Not a filter value, ignored (all rows of it shown): severity=CAT IV"
    )


def test_filter_holds_when_pytest_html_redraws_the_table(report, tmp_path):
    # When the auditor opens a row of the filtered report (pytest-html then
    # draws a new table) and sorts by host
    dom = dom_of(
        tmp_path,
        report,
        "?status=Not_Reviewed",
        "document.querySelector('tbody:not([style*=none]) td.col-host').click();"
        "document.querySelector('th[data-column-type=host]').click();",
    )

    # Then the filter still hides the other rows, and the rows are sorted
    assert [host for host, _, _ in shown(dom)] == ["bad01", "down01", "good01"]
    assert {status for _, _, status in shown(dom)} == {"Not_Reviewed"}
    assert len(rows(dom)) == 6


def test_waivers_ports_and_requirements_reach_the_summary_as_the_gate_counts(
    project, tmp_path
):
    # Given a run of every test, with bad01's lockout finding waived
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(
        "waivers:\n  - rule: V-224782\n    hosts: [bad01]\n"
        "    justification: Accepted <b>until</b> the migration & test\n"
        "    approver: A. Approver\n    ticket: POAM-1\n"
        "    granted: 2026-01-01\n    expires: 2099-01-01\n"
    )
    result = run(project, "--inventory", "t", f"--waivers={waivers}")
    gate_line = next(ln for ln in result.outlines if "sphere-stig: gate" in ln)

    # When Chromium renders the report
    dom = dom_of(tmp_path, report_path(project), "?status=waived")

    # Then the page states the terminal's gate line
    line = gate_line.removeprefix("sphere-stig: gate")
    assert f'<p id="gate-verdict" class="failed">Gate{html.escape(line)}</p>' in dom
    # And its totals are the gate's numbers: the waived finding apart
    total = table_counts(dom, "All hosts")
    assert total["waived"] == 1 and "; 1 waived" in gate_line
    for token, (one, many) in gate.TOKENS.items():
        said = re.search(rf"(\d+) ({one}|{many})\b", gate_line)
        assert total[token] == (int(said[1]) if said else 0), token
    assert total["ports"] > 0
    # And the count sentence counts every row of the table
    assert re.search(rf"<p class=\"run-count\">{len(rows(dom))} results in ", dom)
    # And ?status=waived shows the waived row alone, its waiver escaped
    assert shown(dom) == [("bad01", "V-224782", "Open (waived)")]
    assert "Accepted &lt;b&gt;until&lt;/b&gt; the migration &amp; test" in dom


def test_official_check_and_fix_text_render_folded_and_escaped(project, tmp_path):
    # Given a benchmark whose check text holds markup and a line that starts
    # with "E" (texts invented, like the rest of the mini benchmark)
    xccdf = tmp_path / "markup-xccdf.xml"
    xccdf.write_text(
        MINI_XCCDF.read_text(encoding="utf-8").replace(
            "<check-content>Open the account.</check-content>",
            "<check-content>Open the &lt;script&gt;alert(1)&lt;/script&gt; account."
            "\nEnsure it &amp; its twin are off.</check-content>",
        ),
        encoding="utf-8",
    )
    run(project, "--inventory", "t", "-k", "V-224767", f"--stig-xccdf={xccdf}")

    dom = dom_of(tmp_path, report_path(project))

    # Then each row's pane holds DISA's check and fix text, folded and escaped
    check = (
        "<details><summary>DISA check text (markup-xccdf.xml)</summary><pre>Open the "
        "&lt;script&gt;alert(1)&lt;/script&gt; account.\nEnsure it &amp; its twin "
        "are off.</pre></details>"
    )
    fix = (
        "<details><summary>DISA fix text (markup-xccdf.xml)</summary>"
        "<pre>Disable its logon.</pre></details>"
    )
    assert dom.count(check) == 3 and dom.count(fix) == 3
    # And no line of it is taken for a traceback line
    assert "<script>alert(1)" not in dom and '<span class="error">Ensure' not in dom


@pytest.mark.skipif(
    not REAL_XCCDF.is_file(), reason="the DISA XCCDF is not beside the repository"
)
def test_official_text_of_the_real_benchmark_reaches_the_pane(project, tmp_path):
    run(project, "--inventory", "t", "-k", "V-224782", f"--stig-xccdf={REAL_XCCDF}")

    dom = dom_of(tmp_path, report_path(project))

    rule = load_official(REAL_XCCDF).rules["V-224782"]
    for text in (rule.check_content, rule.fix_text):
        assert text.strip()
        assert dom.count(html.escape(clean(text), quote=False)) == 3
