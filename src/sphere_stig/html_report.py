"""pytest-html hooks: the columns, run metadata and per-host summary auditors read.

Registered by the plugin only when pytest-html writes a report.
"""

from __future__ import annotations

import html
import json
from collections import Counter

from sphere_stig import redact
from sphere_stig.outcome import Status
from sphere_stig.results import PROPERTY, Result

COLUMNS = ("Host", "Vuln ID", "CAT", "Status", "Evidence")
ORDER = ("Open", "Error", "Not_Reviewed", "Not_Applicable", "NotAFinding")


def display_status(result: Result) -> str:
    return "Error" if result.status is Status.ERROR else result.ckl_status


def _result(report) -> Result | None:
    for name, value in report.user_properties:
        if name == PROPERTY:
            return Result.from_json(json.loads(value))
    return None


class HtmlReport:
    def __init__(self, state) -> None:
        self.state = state

    def pytest_html_report_title(self, report) -> None:
        report.title = f"ISEC7 Sphere STIG acceptance: {self.state.inventory.name}"

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        by_host: dict[str, Counter] = {}
        for r in self.state.results:
            by_host.setdefault(r.host, Counter())[display_status(r)] += 1
        head = "".join(f"<th>{s}</th>" for s in ORDER)
        rows = "".join(
            f"<tr><td>{html.escape(host)}</td>"
            + "".join(f"<td>{counts.get(s, 0)}</td>" for s in ORDER)
            + "</tr>"
            for host, counts in sorted(by_host.items())
        )
        prefix.append(
            "<h2>Results per host</h2>"
            f'<table id="host-summary"><tr><th>Host</th>{head}</tr>{rows}</table>'
            "<p>Error means the facts could not be gathered; it is reported as "
            "Not_Reviewed in checklists, never as a finding or a pass.</p>"
        )

    def pytest_html_results_table_header(self, cells: list) -> None:
        for offset, name in enumerate(COLUMNS, start=1):
            sortable = ' class="sortable"' if name != "Evidence" else ""
            cells.insert(offset, f"<th{sortable}>{name}</th>")

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        result = _result(report)
        if result is None:
            values = [""] * len(COLUMNS)
        else:
            values = [
                html.escape(result.host),
                html.escape(result.id),
                html.escape(result.cat),
                html.escape(display_status(result)),
                f"<pre>{html.escape(redact.scrub(result.details()))}</pre>",
            ]
        for offset, (name, value) in enumerate(zip(COLUMNS, values, strict=True), start=1):
            css = "col-" + name.lower().replace(" ", "-")
            cells.insert(offset, f'<td class="{css}">{value}</td>')
