"""Allure labels for a result, so Allure groups results the way auditors read them.

A no-op when allure-pytest is not collecting results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sphere_stig.outcome import Verdict

F = TypeVar("F", bound=Callable[..., Any])

SEVERITY = {"high": "critical", "medium": "normal", "low": "minor"}
# A public page of each rule, for the link on every Allure result; the
# ``sphere_rule_link`` ini key overrides it.
RULE_LINK = "https://stigviewer.cyberprotection.com/stigs/isec7_sphere/2024-08-20/finding/{vuln_id}"


def _allure_hook(**kwargs: Any) -> Callable[[F], F]:
    """allure-commons' hook marker, or nothing when allure-pytest is absent
    (the class using it is then never registered)."""
    try:
        from allure_commons import hookimpl
    except ImportError:
        return lambda fn: fn
    return hookimpl(**kwargs)


class KeepTargetHost:
    """allure-pytest labels each result with the runner's host name; in this
    suite ``host`` means the host under test, so the runner's label is dropped
    (the runner is named in the run metadata instead)."""

    def __init__(self, runner: str) -> None:
        self.runner = runner

    @_allure_hook(tryfirst=True)
    def report_result(self, result) -> None:
        if sum(lb.name == "host" for lb in result.labels) > 1:
            result.labels = [
                lb
                for lb in result.labels
                if not (lb.name == "host" and lb.value == self.runner)
            ]


def register_host_label_fix() -> KeepTargetHost | None:
    try:
        import allure_commons
        from allure_commons.utils import host_tag
    except ImportError:
        return None
    fix = KeepTargetHost(host_tag())
    allure_commons.plugin_manager.register(fix)
    return fix


def label(case, verdict: Verdict, link: str = RULE_LINK) -> None:
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
        allure.dynamic.link(link.format(vuln_id=entry.vuln_id), name=entry.vuln_id)
    elif case.kind == "requirement":
        allure.dynamic.epic("ISEC7 Sphere overview requirements")
        allure.dynamic.feature(entry.section)
        allure.dynamic.story(entry.id)
        allure.dynamic.title(f"{entry.id} on {case.host.name}")
    else:
        allure.dynamic.epic("ISEC7 Sphere port and protocol tables")
        allure.dynamic.feature(entry.table)
        allure.dynamic.story(f"{entry.id} {entry.target} {entry.port_text}")
        allure.dynamic.title(
            f"{entry.id} on {case.host.name}: {entry.target} {entry.port_text}"
        )
    allure.attach(
        redact.scrub(verdict.details()),
        name="evidence",
        attachment_type=allure.attachment_type.TEXT,
    )
