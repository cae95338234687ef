"""The official DISA text of the rules, from an XCCDF file the user supplies.

The suite ships rule identifiers and titles in its own words. The STIG's own
wording (titles, discussion, check and fix text) reaches reports and
checklists only through ``--stig-xccdf PATH``, read here at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OfficialRule:
    vuln_id: str
    rule_id: str
    stig_id: str
    severity: str
    title: str
    discussion: str
    check_content: str
    fix_text: str
    check_content_ref: str = "M"
    ccis: tuple[str, ...] = ()
    legacy_ids: tuple[str, ...] = ()
    srg: str = ""


@dataclass(frozen=True)
class OfficialBenchmark:
    id: str
    title: str
    version: str
    release_info: str
    filename: str
    description: str = ""
    rules: dict[str, OfficialRule] = field(default_factory=dict)
