"""pytest-html hooks: what an auditor reads at the top and in every row.

At the top: the run's metadata, open findings per host and CAT, and the
compliance percentage per host, then filters by host, severity and status.
Each row: host, Vuln ID, STIG ID, CAT, status, title, evidence, and the
reviewer's answer or the waiver. Registered by the plugin only when
pytest-html writes a report; every text passes the redaction list.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter

from sphere_stig import redact
from sphere_stig.outcome import Status
from sphere_stig.results import PROPERTY, Result

COLUMNS = (
    "Host",
    "Vuln ID",
    "STIG ID",
    "CAT",
    "Status",
    "Title",
    "Evidence",
    "Answer / waiver",
)
STATUSES = ("Open", "Error", "Not_Reviewed", "Not_Applicable", "NotAFinding")
CATS = ("CAT I", "CAT II", "CAT III")

# Hides rows that do not match the three filters. pytest-html draws its rows
# from JSON after the page loads and redraws them when sorted or filtered,
# so the filter runs again whenever the table changes.
_STYLE = """
<style>
  #results-table td.col-evidence pre, #results-table td.col-decision pre {
    white-space: pre-wrap; word-break: break-word; max-width: 60em; margin: 0;
  }
  #run-metadata th { text-align: left; padding-right: 1em; }
  #host-summary td, #host-summary th { padding: 2px 8px; text-align: right; }
  #host-summary td:first-child { text-align: left; }
  #sphere-filters label { margin-right: 1.5em; }
</style>
"""

_FILTER_SCRIPT = """
<script>
(function () {
  function cell(row, name) {
    var td = row.querySelector('td.col-' + name);
    return td ? td.textContent.trim() : '';
  }
  function apply() {
    var want = {};
    document.querySelectorAll('select.sphere-filter').forEach(function (s) {
      want[s.dataset.column] = s.value;
    });
    document.querySelectorAll('#results-table tbody.results-table-row').forEach(function (body) {
      var row = body.querySelector('tr.collapsible');
      if (!row) { return; }
      var show = Object.keys(want).every(function (col) {
        return !want[col] || cell(row, col) === want[col];
      });
      body.style.display = show ? '' : 'none';
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    // report.html?host=sphere01&status=Open opens the report filtered.
    var query = new URLSearchParams(window.location.search);
    document.querySelectorAll('select.sphere-filter').forEach(function (s) {
      if (query.has(s.dataset.column)) { s.value = query.get(s.dataset.column); }
      s.addEventListener('change', apply);
    });
    var table = document.getElementById('results-table');
    if (table) {
      new MutationObserver(apply).observe(table, {childList: true});
    }
    apply();
  });
})();
</script>
"""


def display_status(result: Result) -> str:
    return "Error" if result.status is Status.ERROR else result.ckl_status


def compliance(results: list[Result]) -> tuple[int, int]:
    """(not a finding, judged): not-applicable rows are left out; errors and
    not-reviewed rows count against the host, because nobody showed them met."""
    judged = [r for r in results if r.status is not Status.NOT_APPLICABLE]
    return sum(r.status is Status.PASS for r in judged), len(judged)


def _result(report) -> Result | None:
    for name, value in report.user_properties:
        if name == PROPERTY:
            return Result.from_json(json.loads(value))
    return None


def _decision_text(result: Result) -> str:
    parts = []
    if result.answer:
        a = result.answer
        parts.append(
            f"Answer ({a.get('state', '')}): {a.get('status', '')} by {a.get('reviewer', '')} "
            f"on {a.get('date', '')}, expires {a.get('expires', '')}; {a.get('evidence', '')}"
        )
    if result.waiver:
        w = result.waiver
        state = w.get("state", "")
        if w.get("unused") == "true":
            state += ", not needed: nothing open"
        parts.append(
            f"Waiver {w.get('ticket', '')} ({state}): approved by {w.get('approver', '')}, "
            f"expires {w.get('expires', '')}; {w.get('justification', '')}"
        )
    return "\n".join(parts)


def _select(column: str, label: str, values) -> str:
    options = "".join(
        f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values
    )
    return (
        f'<label>{label} <select class="sphere-filter" data-column="{column}">'
        f'<option value="">all</option>{options}</select></label> '
    )


class HtmlReport:
    def __init__(self, state) -> None:
        self.state = state

    def pytest_html_report_title(self, report) -> None:
        report.title = f"ISEC7 Sphere STIG acceptance: {self.state.inventory.name}"

    def _metadata(self) -> str:
        from sphere_stig import __version__, catalog

        state = self.state
        bench = catalog.BENCHMARK
        official = state.official
        rows = [
            ("Inventory", f"{state.inventory.name} ({state.inventory.path})"),
            ("Hosts", ", ".join(h.name for h in state.inventory.hosts)),
            ("Run by", state.run_by),
            ("Started (UTC)", state.started.isoformat(timespec="seconds")),
            (
                "Finished (UTC)",
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ),
            ("Suite version", __version__),
            ("STIG", f"{bench.title} {bench.version_release} ({bench.release_info})"),
            (
                "Rule text",
                f"official, from {official.filename}"
                if official
                else "the suite's own titles (run with --stig-xccdf for DISA's text)",
            ),
            ("Fail on", ",".join(sorted(state.fail_on)) or "none"),
            ("Answers", str(state.answers.path) if state.answers else "none"),
            ("Waivers", str(state.waivers.path) if state.waivers else "none"),
        ]
        rows += [("XCCDF differs", note) for note in state.revision_notes]
        body = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(redact.scrub(v))}</td></tr>"
            for k, v in rows
        )
        return f'<h2>Run</h2><table id="run-metadata">{body}</table>'

    def _host_summary(self) -> str:
        by_host: dict[str, list[Result]] = {}
        for r in self.state.results:
            if r.kind == "stig":
                by_host.setdefault(r.host, []).append(r)
        head = (
            "<tr><th>Host</th><th>Compliance</th>"
            + "".join(f"<th>{c} open</th>" for c in CATS)
            + "".join(f"<th>{s}</th>" for s in STATUSES if s != "Open")
            + "</tr>"
        )
        rows = []
        for host, results in sorted(by_host.items()):
            met, judged = compliance(results)
            percent = f"{100 * met / judged:.0f}% ({met}/{judged})" if judged else "n/a"
            opened = Counter(r.cat for r in results if r.status is Status.FAIL)
            statuses = Counter(display_status(r) for r in results)
            rows.append(
                f'<tr><td>{html.escape(host)}</td><td class="compliance">{percent}</td>'
                + "".join(f"<td>{opened.get(c, 0)}</td>" for c in CATS)
                + "".join(
                    f"<td>{statuses.get(s, 0)}</td>" for s in STATUSES if s != "Open"
                )
                + "</tr>"
            )
        ports = [r for r in self.state.results if r.kind == "port"]
        port_line = ""
        if ports:
            counts = Counter(display_status(r) for r in ports)
            port_line = (
                "<p>Port table rows: "
                + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                + ".</p>"
            )
        return (
            "<h2>STIG results per host</h2>"
            f'<table id="host-summary">{head}{"".join(rows)}</table>'
            "<p>Compliance = Not a Finding / all rules except Not Applicable. "
            "Error means the facts could not be gathered; checklists carry it as "
            "Not_Reviewed, never as a finding or a pass.</p>" + port_line
        )

    def _filters(self) -> str:
        hosts = sorted({r.host for r in self.state.results})
        return (
            '<div id="sphere-filters"><h2>Filter</h2>'
            + _select("host", "Host", hosts)
            + _select("cat", "Severity", CATS)
            + _select("status", "Status", STATUSES)
            + "</div>"
            + _FILTER_SCRIPT
        )

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        prefix.extend([_STYLE, self._metadata(), self._host_summary(), self._filters()])

    def pytest_html_results_table_header(self, cells: list) -> None:
        for offset, name in enumerate(COLUMNS, start=1):
            sortable = (
                ' class="sortable"'
                if name not in ("Evidence", "Answer / waiver")
                else ""
            )
            cells.insert(offset, f"<th{sortable}>{name}</th>")

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        result = _result(report)
        if result is None:
            values = [""] * len(COLUMNS)
        else:
            values = [
                html.escape(result.host),
                html.escape(result.id),
                html.escape(result.stig_id),
                html.escape(result.cat),
                html.escape(display_status(result)),
                html.escape(result.title),
                f"<pre>{html.escape(redact.scrub(result.details()))}</pre>",
                f"<pre>{html.escape(redact.scrub(_decision_text(result)))}</pre>",
            ]
        for offset, (name, value) in enumerate(
            zip(COLUMNS, values, strict=True), start=1
        ):
            css = "col-" + {
                "Vuln ID": "vuln",
                "STIG ID": "stigid",
                "Answer / waiver": "decision",
            }.get(name, name.lower())
            cells.insert(offset, f'<td class="{css}">{value}</td>')

    def pytest_html_results_table_html(self, report, data: list) -> None:
        # Captured logs and output are the one part of a row we did not write.
        data[:] = [redact.scrub(d) for d in data]
