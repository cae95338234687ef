"""Allure labels for a result, so Allure groups results the way auditors read them.

A no-op when allure-pytest is not collecting results.
"""

from __future__ import annotations

from sphere_stig.outcome import Verdict

SEVERITY = {"high": "critical", "medium": "normal", "low": "minor"}


def label(case, verdict: Verdict) -> None:
    try:
        import allure
    except ImportError:  # allure-pytest not installed: nothing to label
        return
    from sphere_stig import redact

    entry = case.entry
    allure.dynamic.label("host", case.host.name)
    allure.dynamic.parameter("host", case.host.name)
    if case.kind == "stig":
        allure.dynamic.epic("ISEC7 Sphere STIG V3R1")
        allure.dynamic.feature(entry.area)
        allure.dynamic.story(f"{entry.vuln_id} {entry.title}")
        allure.dynamic.severity(SEVERITY[entry.severity])
        allure.dynamic.tag(entry.cat)
        allure.dynamic.label("rule", entry.vuln_id)
        allure.dynamic.label("stig_id", entry.stig_id)
        for cci in entry.ccis:
            allure.dynamic.label("cci", cci)
        allure.dynamic.title(f"{entry.vuln_id} on {case.host.name}: {entry.title}")
    else:
        allure.dynamic.epic("ISEC7 Sphere port and protocol tables")
        allure.dynamic.feature(entry.table)
        allure.dynamic.story(f"{entry.id} {entry.target} {entry.port_text}")
        allure.dynamic.title(f"{entry.id} on {case.host.name}: {entry.target} {entry.port_text}")
    allure.attach(
        redact.scrub(verdict.details()),
        name="evidence",
        attachment_type=allure.attachment_type.TEXT,
    )
