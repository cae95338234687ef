"""pytest-html hooks: what an auditor reads at the top and in every row.

At the top: the run's metadata, the gate's verdict, the results per host in
the gate's classes (open findings by CAT, open port rows and requirements,
waived findings apart), the number of results, and filters by host,
severity and status. Each row: host, Vuln ID, STIG ID, CAT, status, title and
the reviewer's answer or the waiver; its detail pane holds the reason, the
evidence and, with ``--stig-xccdf``, DISA's check and fix text. Registered by
the plugin only when pytest-html writes a report; every text passes the
redaction list.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter
from collections.abc import Iterable

from sphere_stig import gate, redact
from sphere_stig.exporters.content import clean
from sphere_stig.outcome import Evidence, Status
from sphere_stig.results import PROPERTY, Result

COLUMNS = (
    "Host",
    "Vuln ID",
    "STIG ID",
    "CAT",
    "Status",
    "Title",
    "Answer / waiver",
)
_CSS_NAMES = {"Vuln ID": "vuln", "STIG ID": "stigid", "Answer / waiver": "decision"}
WAIVED = "Open (waived)"
STATUSES = ("Open", WAIVED, "Error", "Not_Reviewed", "Not_Applicable", "NotAFinding")
CATS = ("CAT I", "CAT II", "CAT III")
# Other spellings a report URL may use for a filter value, compared without
# case: the gate's and the markers' tokens for a CAT, "waived" for a status.
ALIASES = {
    "CAT I": ("cat1", "high"),
    "CAT II": ("cat2", "medium"),
    "CAT III": ("cat3", "low"),
    WAIVED: ("waived",),
}

# The per-host summary counts a result in one column, the way the gate
# counts it: an open result under its gate class, unless a valid waiver
# covers it; everything else under its checklist status.
OPEN_COLUMNS = (
    ("cat1", "CAT I open"),
    ("cat2", "CAT II open"),
    ("cat3", "CAT III open"),
    ("ports", "Port rows open"),
    ("requirements", "Requirements open"),
)
SUMMARY_COLUMNS = (
    *OPEN_COLUMNS,
    ("waived", "Waived"),
    ("error", "Error"),
    ("Not_Reviewed", "Not_Reviewed"),
    ("Not_Applicable", "Not_Applicable"),
    ("NotAFinding", "NotAFinding"),
)

_STYLE = """
<style>
  #results-table td { vertical-align: top; }
  #results-table td.col-vuln, #results-table td.col-stigid,
  #results-table td.col-cat, #results-table td.col-status { white-space: nowrap; }
  #results-table td.col-decision pre {
    white-space: pre-wrap; word-break: break-word; max-width: 40em; margin: 0;
  }
  #run-metadata th { text-align: left; padding-right: 1em; }
  #host-summary td, #host-summary th { padding: 2px 8px; text-align: right; }
  #host-summary td:first-child, #host-summary th:first-child { text-align: left; }
  #host-summary tr.total td { border-top: 1px solid #999; font-weight: bold; }
  #gate-verdict { font-weight: bold; }
  #gate-verdict.failed { color: #c00; }
  #gate-verdict.passed { color: #070; }
  #gate-verdict.interrupted { color: #a60; }
  #sphere-filters label { margin-right: 1.5em; }
  #filter-warning { color: #c00; }
  .log .sphere-detail {
    white-space: normal; font-family: Helvetica, Arial, sans-serif;
  }
  .sphere-detail p { margin: 0.3em 0; }
  .sphere-detail pre, .sphere-detail td {
    white-space: pre-wrap; word-break: break-word; margin: 0.2em 0;
  }
  .sphere-detail pre, .sphere-evidence td {
    font-family: "Courier New", Courier, monospace;
  }
  .sphere-evidence { border-collapse: collapse; margin: 0.3em 0; }
  .sphere-evidence th, .sphere-evidence td {
    border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top;
  }
  .sphere-evidence td:first-child { white-space: nowrap; }
  .sphere-evidence tr.FAIL td:first-child { color: #c00; font-weight: bold; }
  .sphere-evidence tr.ok td:first-child { color: #070; }
  .sphere-detail details { margin: 0.3em 0; }
  .sphere-detail summary { cursor: pointer; font-weight: bold; }
</style>
"""

# Hides rows that do not match the three filters. pytest-html draws its rows
# from JSON after the page loads and redraws the whole table (a new element)
# whenever a row is expanded, sorted or filtered by outcome, so the filter
# watches the body for the new table and runs again.
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
  // The option a URL value names: its value or one of its aliases, any case.
  function option(select, value) {
    var key = value.trim().toLowerCase();
    return Array.prototype.find.call(select.options, function (o) {
      var names = [o.value].concat((o.dataset.aliases || '').split(' '));
      return names.some(function (n) { return n.toLowerCase() === key; });
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    // report.html?host=sphere01&severity=CAT%20II&status=Open opens the
    // report filtered.
    var query = new URLSearchParams(window.location.search);
    var unknown = [];
    document.querySelectorAll('select.sphere-filter').forEach(function (s) {
      var param = s.dataset.param;
      if (query.has(param)) {
        var found = option(s, query.get(param));
        if (found) {
          s.value = found.value;
        } else {
          unknown.push(param + '=' + query.get(param));
        }
      }
      s.addEventListener('change', apply);
    });
    var warning = document.getElementById('filter-warning');
    if (warning && unknown.length) {
      warning.textContent = 'Not a filter value, ignored (all rows of it shown): ' +
        unknown.join(', ');
      warning.hidden = false;
    }
    new MutationObserver(apply).observe(document.body, {childList: true});
    apply();
  });
})();
</script>
"""


def display_status(result: Result) -> str:
    if result.status is Status.ERROR:
        return "Error"
    if result.waived:
        return WAIVED
    return result.ckl_status


def compliance(results: list[Result]) -> tuple[int, int]:
    """(not a finding, judged): not-applicable rows are left out; errors and
    not-reviewed rows count against the host, because nobody showed them met."""
    judged = [r for r in results if r.status is not Status.NOT_APPLICABLE]
    return sum(r.status is Status.PASS for r in judged), len(judged)


def summary_column(result: Result) -> str:
    """The summary column that counts a result, decided as the gate decides."""
    token = gate.token(result)
    if token is None:
        return result.ckl_status
    return "waived" if result.waived else token


def counts_sentence(results: list[Result], seconds: float, other_rows: int) -> str:
    """How many results the report holds, by status, and how long the run took."""
    statuses = Counter(display_status(r) for r in results)
    parts = ", ".join(f"{statuses[s]} {s}" for s in STATUSES if statuses[s])
    noun = "result" if len(results) == 1 else "results"
    sentence = f"{len(results)} {noun} in {_duration(seconds)}"
    sentence += f": {parts}." if parts else "."
    if other_rows:
        rows = "1 row that is" if other_rows == 1 else f"{other_rows} rows that are"
        sentence += (
            f" The table also holds {rows} not a result: a pytest error outside "
            "any rule, named in the Test column."
        )
    return sentence


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _result(report) -> Result | None:
    # Collection reports carry no user properties.
    for name, value in getattr(report, "user_properties", ()):
        if name == PROPERTY:
            return Result.from_json(json.loads(value))
    return None


def _text(value: str) -> str:
    """Text as the report shows it: secrets masked, then escaped for HTML."""
    return html.escape(clean(value))


def _one_line(markup: str) -> str:
    """Markup with its line ends as character references.

    pytest-html colours every line of a detail pane that starts with "E" as
    a traceback line, by wrapping it in a span; a line of evidence or of
    DISA's text that happens to start with "E" would turn red and could cut
    a tag in two. Written as one line, the pane reads the same.
    """
    for char, ref in (("\n", "&#10;"), ("\r", "&#13;")):
        markup = markup.replace(char, ref)
    return markup.replace("\u2028", "&#8232;").replace("\u2029", "&#8233;")


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


def _evidence(evidence: Iterable[Evidence]) -> str:
    rows = "".join(
        f'<tr class="{e.mark}"><td>{e.mark}</td><td>{_text(e.item)}</td>'
        f"<td>{_text(e.observed)}</td><td>{_text(e.expected)}</td>"
        f"<td>{_text(e.source)}</td></tr>"
        for e in evidence
    )
    if not rows:
        return "<p><b>Evidence:</b> none recorded.</p>"
    return (
        '<table class="sphere-evidence"><tr><th></th><th>Item</th><th>Observed</th>'
        f"<th>Expected</th><th>Source</th></tr>{rows}</table>"
    )


def _folded(label: str, text: str) -> str:
    body = _text(text) if text.strip() else "(empty)"
    return f"<details><summary>{label}</summary><pre>{body}</pre></details>"


def _select(param: str, column: str, label: str, values: Iterable[str]) -> str:
    options = "".join(
        f'<option value="{html.escape(v)}"'
        + (f' data-aliases="{" ".join(ALIASES[v])}"' if v in ALIASES else "")
        + f">{html.escape(v)}</option>"
        for v in values
    )
    return (
        f'<label>{label} <select class="sphere-filter" data-param="{param}" '
        f'data-column="{column}"><option value="">all</option>{options}</select>'
        "</label> "
    )


def _html_plugin(config):
    """pytest-html's report object, or None when it is not the expected one."""
    try:
        from pytest_html.basereport import BaseReport
    except ImportError:
        return None
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, BaseReport):
            return plugin
    return None


class HtmlReport:
    def __init__(self, state) -> None:
        self.state = state
        # Rows of the table that carry no result: errors of pytest itself
        # (a broken fixture teardown, a test file that cannot be imported).
        self.other_rows = 0

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
                f"official, from {official.filename}: the titles, and the check "
                "and fix text in the detail of each STIG row"
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

    def _gate(self) -> str:
        decision = gate.decide(self.state.results, self.state.fail_on)
        line = decision.line(self.state.fail_on)
        verdict = "failed" if decision.failed else "passed"
        if self.state.interrupted:
            from sphere_stig.plugin import interrupted_line

            line = f"{interrupted_line(self.state)}. No verdict; among these, {line}"
            verdict = "interrupted"
        return (
            f'<p id="gate-verdict" class="{verdict}">'
            f"{html.escape(line[:1].upper() + line[1:])}</p>"
        )

    def _host_summary(self) -> str:
        by_host: dict[str, list[Result]] = {}
        for r in self.state.results:
            by_host.setdefault(r.host, []).append(r)
        head = (
            "<tr><th>Host</th><th>STIG compliance</th>"
            + "".join(f"<th>{label}</th>" for _, label in SUMMARY_COLUMNS)
            + "<th>Results</th></tr>"
        )
        rows = [
            self._summary_row(html.escape(host), results)
            for host, results in sorted(by_host.items())
        ]
        if len(rows) > 1:
            rows.append(self._summary_row("All hosts", self.state.results, css="total"))
        gated = [label for key, label in OPEN_COLUMNS if key in self.state.fail_on]
        if "error" in self.state.fail_on:
            gated.append("Error")
        fail_on = ",".join(sorted(self.state.fail_on)) or "none"
        return (
            "<h2>Results per host</h2>"
            + self._gate()
            + f'<table id="host-summary">{head}{"".join(rows)}</table>'
            "<p>Each result is counted once, as the gate counts it. An open result "
            "under a valid waiver is counted as Waived, not as open: it stays Open "
            "in the checklists and does not fail the run until the waiver expires. "
            "STIG compliance = NotAFinding / STIG rules except Not_Applicable. "
            "Error means the facts could not be gathered; checklists carry it as "
            "Not_Reviewed, never as a finding or a pass. "
            f"Fail the run (--fail-on {html.escape(fail_on)}): "
            f"{', '.join(gated) or 'nothing'}.</p>"
        )

    def _summary_row(self, host: str, results: list[Result], css: str = "") -> str:
        stig = [r for r in results if r.kind == "stig"]
        met, judged = compliance(stig)
        percent = f"{100 * met / judged:.0f}% ({met}/{judged})" if judged else "n/a"
        counts = Counter(summary_column(r) for r in results)
        return (
            (f'<tr class="{css}">' if css else "<tr>")
            + f'<td>{host}</td><td class="compliance">{percent}</td>'
            + "".join(
                f'<td class="n-{key}">{counts.get(key, 0)}</td>'
                for key, _ in SUMMARY_COLUMNS
            )
            + f'<td class="n-results">{len(results)}</td></tr>'
        )

    def _filters(self) -> str:
        hosts = sorted({r.host for r in self.state.results})
        return (
            '<div id="sphere-filters"><h2>Filter</h2>'
            + _select("host", "host", "Host", hosts)
            + _select("severity", "cat", "Severity", CATS)
            + _select("status", "status", "Status", STATUSES)
            + '<p id="filter-warning" hidden></p></div>'
            + _FILTER_SCRIPT
        )

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        prefix.extend([_STYLE, self._metadata(), self._host_summary(), self._filters()])
        self._replace_run_count(session.config)

    def _replace_run_count(self, config) -> None:
        # Workaround: pytest-html 4 writes "N tests took T" under the summary
        # and counts only passed and failed tests, so every Not_Reviewed,
        # Not_Applicable and Error result is left out of N
        # (https://github.com/pytest-dev/pytest-html/issues/794). It has no
        # hook for that sentence; its report object builds it in _run_count()
        # when it renders the page, right after this hook. Lift this when
        # pytest-html counts every row or offers a hook for the sentence.
        plugin = _html_plugin(config)
        if plugin is None or not hasattr(plugin, "_run_count"):
            return
        seconds = (dt.datetime.now(dt.UTC) - self.state.started).total_seconds()
        sentence = counts_sentence(self.state.results, seconds, self.other_rows) + (
            " In pytest's outcome boxes below, Passed are the NotAFinding results, "
            "Failed the Open ones, Skipped the Not_Reviewed and Not_Applicable "
            "ones, and Errors the Error ones."
        )
        plugin._run_count = lambda: sentence

    def pytest_html_results_table_header(self, cells: list) -> None:
        for offset, name in enumerate(COLUMNS, start=1):
            css = _CSS_NAMES.get(name, name.lower())
            sortable = (
                f' class="sortable" data-column-type="{css}"'
                if name != "Answer / waiver"
                else ""
            )
            cells.insert(offset, f"<th{sortable}>{name}</th>")

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        result = _result(report)
        if result is None:
            values = [""] * len(COLUMNS)
            # pytest-html shows the call report, and the other phases only
            # when they did not pass.
            if report.when in ("call", "collect") or report.outcome != "passed":
                self.other_rows += 1
        else:
            values = [
                _text(result.host),
                _text(result.id),
                _text(result.stig_id),
                _text(result.cat),
                _text(display_status(result)),
                # One line: pytest-html reads a sortable cell up to its end
                # on the same line.
                _text(" ".join(result.title.split())),
                f"<pre>{_text(_decision_text(result))}</pre>",
            ]
        self._fix_test_id(report, result, cells)
        for offset, (name, value) in enumerate(
            zip(COLUMNS, values, strict=True), start=1
        ):
            css = "col-" + _CSS_NAMES.get(name, name.lower())
            cells.insert(offset, f'<td class="{css}">{value}</td>')

    @staticmethod
    def _fix_test_id(report, result: Result | None, cells: list) -> None:
        """The test id, escaped; a result's without the phase it ended in.

        pytest-html appends "::setup" to a test that ended in its setup, as
        every Not_Reviewed, Not_Applicable and Error result does (its verdict
        is reached in a fixture), and writes the id unescaped.
        """
        test_id = report.nodeid
        if result is None and report.when != "call":
            test_id += f"::{report.when}"
        for index, cell in enumerate(cells):
            if 'class="col-testId"' in str(cell):
                cells[index] = f'<td class="col-testId">{html.escape(test_id)}</td>'

    def pytest_html_results_table_html(self, report, data: list) -> None:
        # pytest-html appends the captured teardown output to the row later,
        # from the report itself: it is masked there first.
        report.sections = [
            (header, redact.scrub(content)) for header, content in report.sections
        ]
        result = _result(report)
        if result is None:
            # pytest's own text, escaped by pytest-html: masked as plain text,
            # so that an escaped character cannot hide a secret.
            data[:] = [html.escape(redact.scrub(html.unescape(d))) for d in data]
            return
        data[:] = [self._detail(result, report)]

    def _detail(self, result: Result, report) -> str:
        """The row's detail pane: reason, evidence, DISA's text, captured output."""
        parts = [f"<p><b>Reason:</b> {_text(result.summary)}</p>"]
        if report.failed and result.status not in (Status.FAIL, Status.ERROR):
            # The test itself broke after its verdict: pytest's text says how.
            parts.append(_folded("pytest's report", report.longreprtext))
        parts += [
            _evidence(result.evidence),
            *self._official(result),
            *(_folded(_text(header), content) for header, content in report.sections),
        ]
        return _one_line(f'<div class="sphere-detail">{"".join(parts)}</div>')

    def _official(self, result: Result) -> list[str]:
        """DISA's check and fix text of a rule, only from the XCCDF of this run."""
        official = self.state.official
        if official is None or result.kind != "stig":
            return []
        source = _text(official.filename)
        rule = official.rules.get(result.id)
        if rule is None:
            return [
                f"<p>{_text(result.id)} is not in {source}: no DISA check or fix "
                "text for it.</p>"
            ]
        return [
            _folded(f"DISA check text ({source})", rule.check_content),
            _folded(f"DISA fix text ({source})", rule.fix_text),
        ]
