"""Read rule identifiers, and nothing else, from a DISA XCCDF benchmark.

The catalog's identifiers (V-IDs, rule revisions, STIG IDs, severities, CCIs,
SRGs, legacy IDs) come from the benchmark file, never from a person's typing.
This module is the one reader of them: ``scripts/extract_catalog_ids.py``
prints what it finds and the catalog tests compare it with ``rules.yml``.

It returns no titles, discussions or check texts on purpose. The STIG's own
wording reaches reports only from a file the user supplies at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

_LEGACY_SYSTEM = "http://cyber.mil/legacy"
_CCI_SYSTEM = "http://cyber.mil/cci"
_RELEASE = re.compile(r"Release:\s*(\d+)\s+Benchmark Date:\s*(\d{1,2} \w{3} \d{4})")

# The fields compared between the catalog and the benchmark, in catalog order.
ID_FIELDS = ("vuln_id", "rule_id", "stig_id", "severity", "ccis", "srg", "legacy_ids")


@dataclass(frozen=True)
class XccdfBenchmark:
    id: str
    title: str
    version: int
    release: int
    release_info: str
    benchmark_date: date
    status_date: date


@dataclass(frozen=True)
class XccdfRuleIds:
    vuln_id: str
    rule_id: str
    stig_id: str
    severity: str
    ccis: tuple[str, ...]
    srg: str
    # Old vulnerability ID first, then the old rule ID, as checklists list them.
    legacy_ids: tuple[str, ...]


def read_xccdf_ids(path: Path) -> tuple[XccdfBenchmark, tuple[XccdfRuleIds, ...]]:
    """The benchmark header and each rule's identifiers, in document order."""
    root = ElementTree.parse(path).getroot()
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    return _benchmark(root, ns), tuple(
        _rule_ids(group, ns) for group in root.iter(f"{ns}Group")
    )


def _benchmark(root: Element, ns: str) -> XccdfBenchmark:
    release_info = ""
    for text in root.findall(f"{ns}plain-text"):
        if text.get("id") == "release-info":
            release_info = (text.text or "").strip()
    match = _RELEASE.search(release_info)
    if match is None:
        raise ValueError(f"no release number in release-info {release_info!r}")
    status = root.find(f"{ns}status")
    if status is None or not status.get("date"):
        raise ValueError("benchmark has no dated <status>")
    return XccdfBenchmark(
        id=root.get("id", ""),
        title=(root.findtext(f"{ns}title") or "").strip(),
        version=int((root.findtext(f"{ns}version") or "0").strip()),
        release=int(match.group(1)),
        release_info=release_info,
        benchmark_date=datetime.strptime(match.group(2), "%d %b %Y").date(),
        status_date=date.fromisoformat(status.get("date", "")),
    )


def _rule_ids(group: Element, ns: str) -> XccdfRuleIds:
    rule = group.find(f"{ns}Rule")
    if rule is None:
        raise ValueError(f"group {group.get('id')} holds no Rule")
    idents = [
        (i.get("system"), (i.text or "").strip()) for i in rule.iter(f"{ns}ident")
    ]
    legacy = [text for system, text in idents if system == _LEGACY_SYSTEM]
    return XccdfRuleIds(
        vuln_id=group.get("id", ""),
        rule_id=rule.get("id", ""),
        stig_id=(rule.findtext(f"{ns}version") or "").strip(),
        severity=rule.get("severity", ""),
        ccis=tuple(text for system, text in idents if system == _CCI_SYSTEM),
        srg=(group.findtext(f"{ns}title") or "").strip(),
        legacy_ids=tuple(sorted(legacy, key=lambda i: (not i.startswith("V-"), i))),
    )


def diff_rule_ids(
    catalog: Iterable[Mapping[str, Any]], extracted: Iterable[XccdfRuleIds]
) -> list[str]:
    """Differences between catalog rules and benchmark rules, one line each.

    ``catalog`` holds mappings (parsed YAML or model dumps) with the
    :data:`ID_FIELDS` keys. An empty list means they agree, order included.
    """
    ours = {r["vuln_id"]: r for r in catalog}
    theirs = {r.vuln_id: r for r in extracted}
    problems = [
        f"{v}: in the benchmark, missing from the catalog"
        for v in theirs.keys() - ours.keys()
    ]
    problems += [
        f"{v}: in the catalog, not in the benchmark"
        for v in ours.keys() - theirs.keys()
    ]
    for vuln_id in [v for v in theirs if v in ours]:
        for name in ID_FIELDS:
            want = getattr(theirs[vuln_id], name)
            have = ours[vuln_id].get(name)
            have = tuple(have) if isinstance(have, list | tuple) else have
            if have != want:
                problems.append(
                    f"{vuln_id}: {name} is {have!r}, the benchmark says {want!r}"
                )
    common = [v for v in ours if v in theirs]
    if not problems and common != [v for v in theirs if v in ours]:
        problems.append("rules are not in benchmark order")
    return sorted(problems)
