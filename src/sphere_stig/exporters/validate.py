"""Check CKL and CKLB checklists against what their consumers are known to need.

There is no published schema for either format. The rules here are those of
``/work/shared/checklist-format.md`` §4: C1-C20 for CKL, B1-B8 for CKLB and
the cross-format consistency of §4.3 for a pair written from one run. Each
problem has a level: ``E`` is known to break STIG Viewer, STIG Manager or
Heimdall, ``W`` is an interoperability or quality problem.

Run it on files::

    python -m sphere_stig.exporters.validate FILE... [--strict] [--expect-catalog]

It prints one line per problem and exits 1 when any E was found (with
``--strict`` also for any W). A ``.ckl`` and a ``.cklb`` with the same stem
given together are also checked against each other.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from sphere_stig.exporters.checklist import (
    ASSET_TYPES,
    ROLES,
    SI_NAMES,
    TECH_AREAS,
    VULN_ATTRIBUTES,
)
from sphere_stig.exporters.content import TEXT_LIMIT, text_length

ERROR = "E"
WARNING = "W"

CKL_STATUSES = ("NotAFinding", "Open", "Not_Applicable", "Not_Reviewed")
CKLB_STATUSES = ("not_a_finding", "open", "not_applicable", "not_reviewed")
SEVERITIES = ("high", "medium", "low")

# ASSET children in XSD order, and whether the XSD requires each one.
ASSET_ELEMENTS = (
    ("ROLE", True),
    ("ASSET_TYPE", True),
    ("MARKING", False),
    ("HOST_NAME", True),
    ("HOST_IP", True),
    ("HOST_MAC", True),
    ("HOST_GUID", False),
    ("HOST_FQDN", True),
    ("TARGET_COMMENT", False),
    ("TECH_AREA", True),
    ("TARGET_KEY", True),
    ("STIG_GUID", False),
    ("WEB_OR_DATABASE", True),
    ("WEB_DB_SITE", True),
    ("WEB_DB_INSTANCE", True),
)
VULN_TAIL = (
    "STATUS",
    "FINDING_DETAILS",
    "COMMENTS",
    "SEVERITY_OVERRIDE",
    "SEVERITY_JUSTIFICATION",
)

_VULN_NUM = re.compile(r"^V-\d+$")
_RULE_ID = re.compile(r"^SV-\d+r\d+_rule$")
_CCI = re.compile(r"^CCI-\d{6}$")
_RELEASE_INFO = re.compile(r"^Release: \S+ Benchmark Date: .+$")
_RELEASE_FORM = "Release: <n> Benchmark Date: <date>"
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_SEPARATORS = re.compile(r"[\s,]+")
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']""")
_GENERATOR = re.compile(r"^\s*(?:<\?xml[^>]*\?>)?\s*<!--")


@dataclass(frozen=True)
class Problem:
    level: str  # "E" or "W"
    code: str  # the rule of §4, e.g. "C9"
    message: str
    location: str = ""

    def __str__(self) -> str:
        where = f" {self.location}:" if self.location else ""
        return f"{self.level} {self.code}{where} {self.message}"


@dataclass
class _Report:
    """Collects problems while a file is walked."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, code: str, message: str, location: str = "") -> None:
        self.problems.append(Problem(ERROR, code, message, location))

    def warn(self, code: str, message: str, location: str = "") -> None:
        self.problems.append(Problem(WARNING, code, message, location))


def normalize_status(value: object) -> str | None:
    """A status in any of the spellings readers meet, as its CKLB form.

    Case, underscores and spaces are ignored (``Not_Reviewed``,
    ``not reviewed`` and ``notreviewed`` are one status). Unknown values give
    None. This is the one function the pair check compares statuses with.
    """
    if not isinstance(value, str):
        return None
    key = re.sub(r"[\s_]", "", value).lower()
    return {s.replace("_", ""): s for s in CKLB_STATUSES}.get(key)


# --- CKL ----------------------------------------------------------------------


def validate_ckl(
    data: bytes, expected_rule_ids: set[str] | None = None, *, release: bool = False
) -> list[Problem]:
    """Problems of a CKL file (§4.1, C1-C20).

    ``expected_rule_ids`` is the rule set of the declared benchmark revision
    (C13); ``release=True`` makes a mismatch there an error.
    """
    report = _Report()
    root = _parse_ckl(data, report)
    if root is None:
        return report.problems
    asset = root.find("ASSET")
    if asset is not None:
        _check_asset(asset, report)
    stigs = root.find("STIGS")
    istigs = stigs.findall("iSTIG") if stigs is not None else []
    if stigs is not None and not istigs:
        report.error("C7", "STIGS holds no iSTIG", "STIGS")
    rule_ids: list[str] = []
    target_key = _text(asset, "TARGET_KEY") if asset is not None else None
    for index, istig in enumerate(istigs, start=1):
        rule_ids.extend(_check_istig(istig, f"iSTIG[{index}]", target_key, report))
    _check_rule_set(rule_ids, expected_rule_ids, release, "C13", report)
    if not _GENERATOR.match(data.decode("utf-8", "replace").lstrip("\ufeff")):
        report.warn("C19", "no generator comment after the XML declaration")
    return report.problems


def _parse_ckl(data: bytes, report: _Report) -> Element | None:
    declared = _DECLARED.match(data.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).decode("ascii", "replace").lower() != "utf-8":
        report.error("C1", f"declared encoding {declared.group(1)!r} is not UTF-8")
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.error("C1", f"not valid UTF-8 at byte {exc.start}")
        return None
    try:
        root = SafeET.fromstring(data)
    except SafeET.ParseError as exc:
        report.error("C1", f"not well-formed XML: {exc}")
        return None
    except DefusedXmlException as exc:
        report.error("C1", f"forbidden XML construct: {exc!r}")
        return None
    if any(el.tag.startswith("{") for el in root.iter() if isinstance(el.tag, str)):
        report.error("C1", "elements are in a namespace; CKL uses none")
        return None
    if root.tag != "CHECKLIST":
        report.error("C1", f"root element is {root.tag}, not CHECKLIST")
        return None
    children = [child.tag for child in root]
    if children != ["ASSET", "STIGS"]:
        report.error(
            "C1", f"CHECKLIST must hold ASSET then STIGS, found {children}", "CHECKLIST"
        )
        if "ASSET" not in children or "STIGS" not in children:
            return None
    return root


def _text(parent: Element | None, tag: str) -> str | None:
    """The text of a child element ('' when empty), None when it is absent."""
    if parent is None:
        return None
    child = parent.find(tag)
    if child is None:
        return None
    return child.text or ""


def _check_asset(asset: Element, report: _Report) -> None:
    order = {name: i for i, (name, _) in enumerate(ASSET_ELEMENTS)}
    tags = [child.tag for child in asset]
    for tag in tags:
        if tag not in order:
            report.error("C2", f"unknown element {tag}", "ASSET")
    for tag in sorted({t for t in tags if tags.count(t) > 1}):
        report.error("C2", f"{tag} appears more than once", "ASSET")
    known = [order[t] for t in tags if t in order]
    if known != sorted(known):
        report.error("C2", "children are not in XSD order", "ASSET")
    for name, required in ASSET_ELEMENTS:
        if required and name not in tags:
            report.error("C2", f"required element {name} is missing", "ASSET")

    role = _text(asset, "ROLE")
    if role is not None and role not in ROLES:
        shown = "empty" if not role else repr(role)
        report.error(
            "C3", f"ROLE is {shown}; expected one of {list(ROLES)}", "ASSET/ROLE"
        )
    asset_type = _text(asset, "ASSET_TYPE")
    if asset_type is not None and asset_type not in ASSET_TYPES:
        report.error(
            "C4", f"ASSET_TYPE {asset_type!r} is not one of {list(ASSET_TYPES)}"
        )
    tech_area = _text(asset, "TECH_AREA")
    if tech_area is not None and tech_area not in TECH_AREAS:
        report.error("C4", f"TECH_AREA {tech_area!r} is not a STIG Viewer value")
    host_name = _text(asset, "HOST_NAME")
    if host_name is not None and not host_name.strip():
        report.error("C5", "HOST_NAME is empty", "ASSET/HOST_NAME")

    web = _text(asset, "WEB_OR_DATABASE")
    if web is not None and web not in ("true", "false"):
        report.error("C6", f"WEB_OR_DATABASE is {web!r}, not true or false")
    site, instance = _text(asset, "WEB_DB_SITE"), _text(asset, "WEB_DB_INSTANCE")
    if web == "true" and not (site or instance):
        report.warn("C6", "WEB_OR_DATABASE is true but no site or instance is named")

    _check_address_fields(
        _text(asset, "HOST_IP"),
        _text(asset, "HOST_MAC"),
        _text(asset, "HOST_FQDN"),
        "C17",
        "ASSET",
        report,
    )
    if _text(asset, "MARKING") is None:
        report.warn("C19", "no MARKING element (STIG Viewer 2.16 writes one)", "ASSET")


def _check_address_fields(
    ips: str | None,
    macs: str | None,
    fqdn: str | None,
    code: str,
    where: str,
    report: _Report,
) -> None:
    for ip in _split(ips):
        if not _is_ip(ip):
            report.warn(code, f"host IP {ip!r} is not an IP address", where)
    for mac in _split(macs):
        if not _MAC.match(mac):
            report.warn(code, f"host MAC {mac!r} is not a MAC address", where)
    if fqdn and not (_is_ip(fqdn) or _is_hostname(fqdn)):
        report.warn(code, f"host FQDN {fqdn!r} is not a host name", where)


def _split(value: str | None) -> list[str]:
    return [part for part in _SEPARATORS.split(value or "") if part]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_hostname(value: str) -> bool:
    labels = value.removesuffix(".").split(".")
    return len(value) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def _check_istig(
    istig: Element, where: str, target_key: str | None, report: _Report
) -> list[str]:
    """Check one iSTIG; returns its Rule_IDs in document order."""
    info = _check_stig_info(istig, where, report)
    vulns = istig.findall("VULN")
    if not vulns:
        report.error("C8", "the iSTIG holds no VULN", where)
    seen: set[str] = set()
    rule_ids = []
    for index, vuln in enumerate(vulns, start=1):
        data = _stig_data(vuln)
        vuln_num = (data.get("Vuln_Num") or [""])[0]
        location = f"{where}/VULN[{index}]" + (f" ({vuln_num})" if vuln_num else "")
        _check_vuln(vuln, data, location, report)
        if vuln_num in seen:
            report.warn("C15", f"{vuln_num} appears twice in this iSTIG", location)
        seen.add(vuln_num)
        rule_id = (data.get("Rule_ID") or [""])[0]
        if rule_id:
            rule_ids.append(rule_id)
        _check_stig_ref(data, info, location, report)
        for key in data.get("TargetKey", []):
            if target_key is not None and key != target_key:
                report.warn(
                    "C20",
                    f"TargetKey {key!r} differs from TARGET_KEY {target_key!r}",
                    location,
                )
    return rule_ids


def _check_stig_info(istig: Element, where: str, report: _Report) -> dict[str, str]:
    children = [child.tag for child in istig]
    if not children or children[0] != "STIG_INFO":
        report.error("C7", "an iSTIG must start with STIG_INFO", where)
    stig_info = istig.find("STIG_INFO")
    values: dict[str, str] = {}
    for si_data in stig_info.findall("SI_DATA") if stig_info is not None else []:
        name = _text(si_data, "SID_NAME")
        if name is None:
            report.error("C7", "an SI_DATA has no SID_NAME", f"{where}/STIG_INFO")
            continue
        if name not in SI_NAMES:
            report.error(
                "C7", f"SID_NAME {name!r} is not a known name", f"{where}/STIG_INFO"
            )
        values[name] = _text(si_data, "SID_DATA") or ""
    if not values.get("stigid", "").strip():
        report.error("C7", "STIG_INFO has no non-empty stigid", f"{where}/STIG_INFO")
    release_info = values.get("releaseinfo", "")
    if not _RELEASE_INFO.match(release_info):
        report.warn(
            "C14",
            f"releaseinfo {release_info!r} does not read {_RELEASE_FORM!r}",
            f"{where}/STIG_INFO",
        )
    return values


def _stig_data(vuln: Element) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for stig_data in vuln.findall("STIG_DATA"):
        attribute = _text(stig_data, "VULN_ATTRIBUTE")
        data.setdefault(attribute or "", []).append(
            _text(stig_data, "ATTRIBUTE_DATA") or ""
        )
    return data


def _check_vuln(
    vuln: Element, data: dict[str, list[str]], where: str, report: _Report
) -> None:
    for attribute in data:
        if attribute not in VULN_ATTRIBUTES:
            report.error(
                "C8", f"VULN_ATTRIBUTE {attribute!r} is not a known name", where
            )
    for attribute in ("Vuln_Num", "Rule_ID", "Severity"):
        if not (data.get(attribute) or [""])[0]:
            report.error("C8", f"no {attribute}", where)
    severity = (data.get("Severity") or [""])[0]
    if severity and severity not in SEVERITIES:
        report.error("C8", f"Severity {severity!r} is not high, medium or low", where)

    tags = [child.tag for child in vuln]
    tail = [t for t in tags if t != "STIG_DATA"]
    for tag in VULN_TAIL:
        if tag not in tail:
            code = "C9" if tag == "STATUS" else "C10"
            report.error(code, f"no {tag} element", where)
    leading = len(tags) - len(tail)
    in_order = tags[:leading] == ["STIG_DATA"] * leading
    if not in_order or (set(VULN_TAIL) <= set(tail) and tail != list(VULN_TAIL)):
        expected = "STIG_DATA elements, then " + ", ".join(VULN_TAIL)
        report.error("C10", f"VULN children are not {expected}", where)

    status = _text(vuln, "STATUS")
    if status is not None and status not in CKL_STATUSES:
        report.error(
            "C9", f"STATUS {status!r} is not one of {list(CKL_STATUSES)}", where
        )
    override = _text(vuln, "SEVERITY_OVERRIDE")
    if override is not None and override not in ("", *SEVERITIES):
        report.error(
            "C10",
            f"SEVERITY_OVERRIDE {override!r} is not '', low, medium or high",
            where,
        )

    for cci in data.get("CCI_REF", []):
        if not _CCI.match(cci):
            report.error("C11", f"CCI_REF {cci!r} is not exactly one CCI-nnnnnn", where)
    vuln_num = (data.get("Vuln_Num") or [""])[0]
    if vuln_num and not _VULN_NUM.match(vuln_num):
        report.warn("C12", f"Vuln_Num {vuln_num!r} does not match V-<digits>", where)
    rule_id = (data.get("Rule_ID") or [""])[0]
    if rule_id and not _RULE_ID.match(rule_id):
        report.warn(
            "C12", f"Rule_ID {rule_id!r} does not match SV-<n>r<rev>_rule", where
        )

    details = _text(vuln, "FINDING_DETAILS") or ""
    for tag, text in (
        ("FINDING_DETAILS", details),
        ("COMMENTS", _text(vuln, "COMMENTS")),
    ):
        _check_length(tag, text or "", "C16", where, report)
    if status == "Open" and not details.strip():
        report.warn("C18", "STATUS is Open but FINDING_DETAILS is empty", where)
    if override and not (_text(vuln, "SEVERITY_JUSTIFICATION") or "").strip():
        report.warn("C18", "SEVERITY_OVERRIDE is set without a justification", where)


def _check_length(name: str, text: str, code: str, where: str, report: _Report) -> None:
    length = text_length(text)
    if length > TEXT_LIMIT:
        report.warn(
            code, f"{name} has {length:,} characters (limit {TEXT_LIMIT:,})", where
        )


def _check_stig_ref(
    data: dict[str, list[str]], info: dict[str, str], where: str, report: _Report
) -> None:
    refs = data.get("STIGRef")
    if not refs or not refs[0]:
        return
    expected = (
        f"{info.get('title', '')} :: Version {info.get('version', '')}, "
        f"{info.get('releaseinfo', '')}"
    )
    if refs[0] != expected:
        report.warn("C14", f"STIGRef {refs[0]!r} differs from {expected!r}", where)


def _check_rule_set(
    found: Sequence[str],
    expected: set[str] | None,
    release: bool,
    code: str,
    report: _Report,
) -> None:
    if expected is None:
        return
    add = report.error if release else report.warn
    missing = sorted(expected - set(found))
    stale = sorted(set(found) - expected)
    if missing:
        add(
            code,
            f"{len(missing)} benchmark rule(s) missing: {', '.join(missing)}",
        )
    if stale:
        add(
            code,
            f"{len(stale)} rule(s) not in this revision: {', '.join(stale)}",
        )


# --- CKLB ---------------------------------------------------------------------


def validate_cklb(
    data: bytes, expected_rule_ids: set[str] | None = None, *, release: bool = False
) -> list[Problem]:
    """Problems of a CKLB file (§4.2, B1-B8)."""
    report = _Report()
    document = _parse_cklb(data, report)
    if document is None:
        return report.problems
    target = document.get("target_data")
    if not isinstance(target, dict):
        report.error("B2", "target_data is not an object")
    else:
        _check_target(target, report)
    stigs = document.get("stigs")
    if not isinstance(stigs, list) or not stigs:
        report.error("B3", "stigs is not a non-empty array")
        return report.problems
    rule_ids: list[str] = []
    for index, stig in enumerate(stigs, start=1):
        where = f"stigs[{index}]"
        if not isinstance(stig, dict):
            report.error("B3", "a stig is not an object", where)
            continue
        rule_ids.extend(_check_cklb_stig(stig, where, report))
    _check_rule_set(rule_ids, expected_rule_ids, release, "B8", report)
    return report.problems


def _parse_cklb(data: bytes, report: _Report) -> dict[str, Any] | None:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        report.error("B1", f"not valid UTF-8 at byte {exc.start}")
        return None
    except json.JSONDecodeError as exc:
        report.error("B1", f"not valid JSON: {exc}")
        return None
    if not isinstance(document, dict):
        report.error("B1", "the document is not a JSON object")
        return None
    if document.get("cklb_version") != "1.0":
        report.error(
            "B1", f"cklb_version is {document.get('cklb_version')!r}, not '1.0'"
        )
    return document


def _check_target(target: dict[str, Any], report: _Report) -> None:
    where = "target_data"
    host_name = target.get("host_name")
    if not isinstance(host_name, str) or not host_name.strip():
        report.error("B2", "host_name is missing or empty", where)
    if target.get("target_type") not in ASSET_TYPES:
        report.warn(
            "B7", f"target_type {target.get('target_type')!r} is not known", where
        )
    if target.get("role") not in ROLES:
        report.warn(
            "B7", f"role {target.get('role')!r} is not one of {list(ROLES)}", where
        )
    web = target.get("is_web_database")
    site_or_instance = bool(target.get("web_db_site") or target.get("web_db_instance"))
    if not isinstance(web, bool):
        report.warn("B7", f"is_web_database is {web!r}, not a boolean", where)
    elif web != site_or_instance:
        report.warn(
            "B7",
            f"is_web_database is {str(web).lower()} but a site or instance is "
            + ("not named" if web else "named"),
            where,
        )
    _check_address_fields(
        _string(target.get("ip_address")),
        _string(target.get("mac_address")),
        _string(target.get("fqdn")),
        "B7",
        where,
        report,
    )


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _check_cklb_stig(stig: dict[str, Any], where: str, report: _Report) -> list[str]:
    if not isinstance(stig.get("stig_id"), str) or not stig["stig_id"].strip():
        report.error("B3", "stig_id is missing or empty", where)
    rules = stig.get("rules")
    if not isinstance(rules, list) or not rules:
        report.error("B3", "rules is not a non-empty array", where)
        return []
    if stig.get("size") != len(rules):
        report.warn(
            "B6",
            f"size is {stig.get('size')!r} but there are {len(rules)} rules",
            where,
        )
    release_info = stig.get("release_info")
    if not isinstance(release_info, str) or not _RELEASE_INFO.match(release_info):
        report.warn(
            "B8",
            f"release_info {release_info!r} does not read {_RELEASE_FORM!r}",
            where,
        )
    rule_ids = []
    for index, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict):
            report.error("B4", "a rule is not an object", f"{where}/rules[{index}]")
            continue
        location = f"{where}/rules[{index}]"
        if isinstance(rule.get("group_id"), str):
            location += f" ({rule['group_id']})"
        _check_cklb_rule(rule, stig.get("uuid"), location, report)
        if isinstance(rule.get("rule_id_src"), str) and rule["rule_id_src"]:
            rule_ids.append(rule["rule_id_src"])
    return rule_ids


def _check_cklb_rule(
    rule: dict[str, Any], stig_uuid: object, where: str, report: _Report
) -> None:
    rule_id_src = rule.get("rule_id_src")
    if not isinstance(rule_id_src, str) or not rule_id_src:
        report.error("B4", "no rule_id_src (STIG Manager ignores the rule)", where)
    if not isinstance(rule.get("group_id"), str) or not rule["group_id"]:
        report.error("B4", "no group_id", where)
    if rule.get("severity") not in SEVERITIES:
        report.error(
            "B4", f"severity {rule.get('severity')!r} is not high, medium or low", where
        )
    if rule.get("status") not in CKLB_STATUSES:
        report.error(
            "B4",
            f"status {rule.get('status')!r} is not one of {list(CKLB_STATUSES)}",
            where,
        )
    for key in ("ccis", "legacy_ids", "group_tree"):
        if not isinstance(rule.get(key), list):
            report.error(
                "B5", f"{key} is {type(rule.get(key)).__name__}, not an array", where
            )
    if not isinstance(rule.get("overrides"), dict):
        report.error("B5", "overrides is not an object", where)
    rule_id = rule.get("rule_id")
    if (
        isinstance(rule_id_src, str)
        and rule_id_src
        and f"{rule_id}_rule" != rule_id_src
    ):
        report.warn(
            "B6",
            f"rule_id {rule_id!r} + '_rule' is not rule_id_src {rule_id_src!r}",
            where,
        )
    if rule.get("stig_uuid") != stig_uuid:
        report.warn("B6", "stig_uuid differs from the parent stig's uuid", where)
    for key in ("finding_details", "comments"):
        text = rule.get(key)
        if isinstance(text, str):
            _check_length(key, text, "B8", where, report)


# --- Cross-format (§4.3) ------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    vuln_id: str
    severity: str
    status: str | None
    details: str
    comments: str
    ccis: tuple[str, ...]
    legacy_ids: tuple[str, ...]


@dataclass(frozen=True)
class _Checklist:
    asset: dict[str, str]
    benchmark: tuple[str, str, str]
    rules: dict[str, _Rule]


def validate_pair(ckl_bytes: bytes, cklb_bytes: bytes) -> list[Problem]:
    """Differences between a CKL and a CKLB that should describe the same run."""
    report = _Report()
    try:
        ckl = _read_ckl(ckl_bytes)
        cklb = _read_cklb(cklb_bytes)
    except (SyntaxError, ValueError, LookupError, TypeError, AttributeError) as exc:
        report.error("X0", f"cannot compare the pair: {exc}")
        return report.problems
    for key, value in ckl.asset.items():
        if cklb.asset.get(key) != value:
            report.error(
                "X1", f"asset {key}: CKL {value!r}, CKLB {cklb.asset.get(key)!r}"
            )
    if ckl.benchmark != cklb.benchmark:
        report.error(
            "X2", f"benchmark differs: CKL {ckl.benchmark}, CKLB {cklb.benchmark}"
        )
    for rule_id in sorted(set(ckl.rules) ^ set(cklb.rules)):
        side = "CKL" if rule_id in ckl.rules else "CKLB"
        report.error("X3", f"{rule_id} is only in the {side}")
    for rule_id in sorted(set(ckl.rules) & set(cklb.rules)):
        _compare_rules(rule_id, ckl.rules[rule_id], cklb.rules[rule_id], report)
    return report.problems


def _compare_rules(rule_id: str, ckl: _Rule, cklb: _Rule, report: _Report) -> None:
    where = f"{ckl.vuln_id} ({rule_id})"
    checks: Iterable[tuple[str, str, object, object]] = (
        ("X4", "status", ckl.status, cklb.status),
        ("X5", "finding details", ckl.details, cklb.details),
        ("X5", "comments", ckl.comments, cklb.comments),
        ("X6", "severity", ckl.severity, cklb.severity),
        ("X6", "CCIs", ckl.ccis, cklb.ccis),
        ("X6", "legacy IDs", ckl.legacy_ids, cklb.legacy_ids),
        ("X6", "V-ID", ckl.vuln_id, cklb.vuln_id),
    )
    for code, what, left, right in checks:
        if left != right:
            shown = f"CKL {left!r}, CKLB {right!r}" if code != "X5" else "texts differ"
            report.error(code, f"{what} differ: {shown}", where)


def _read_ckl(data: bytes) -> _Checklist:
    root = SafeET.fromstring(data)
    asset = root.find("ASSET")
    fields = {
        "host_name": "HOST_NAME",
        "ip": "HOST_IP",
        "mac": "HOST_MAC",
        "fqdn": "HOST_FQDN",
        "role": "ROLE",
        "asset_type": "ASSET_TYPE",
        "tech_area": "TECH_AREA",
        "marking": "MARKING",
        "comment": "TARGET_COMMENT",
        "target_key": "TARGET_KEY",
        "web_or_database": "WEB_OR_DATABASE",
    }
    values = {key: _text(asset, tag) or "" for key, tag in fields.items()}
    istig = root.find("STIGS/iSTIG")
    info = {
        _text(si, "SID_NAME") or "": _text(si, "SID_DATA") or ""
        for si in istig.findall("STIG_INFO/SI_DATA")
    }
    rules = {}
    for vuln in istig.findall("VULN"):
        attrs = _stig_data(vuln)
        rule_id = attrs["Rule_ID"][0]
        rules[rule_id] = _Rule(
            vuln_id=attrs["Vuln_Num"][0],
            severity=attrs["Severity"][0],
            status=normalize_status(_text(vuln, "STATUS")),
            details=_text(vuln, "FINDING_DETAILS") or "",
            comments=_text(vuln, "COMMENTS") or "",
            ccis=tuple(attrs.get("CCI_REF", [])),
            legacy_ids=tuple(v for v in attrs.get("LEGACY_ID", []) if v),
        )
    benchmark = (
        info.get("stigid", ""),
        info.get("version", ""),
        info.get("releaseinfo", ""),
    )
    return _Checklist(values, benchmark, rules)


def _read_cklb(data: bytes) -> _Checklist:
    document = json.loads(data.decode("utf-8-sig"))
    target = document["target_data"]
    stig = document["stigs"][0]

    def text(key: str) -> str:
        value = target.get(key)
        return "" if value is None else str(value)

    values = {
        "host_name": text("host_name"),
        "ip": text("ip_address"),
        "mac": text("mac_address"),
        "fqdn": text("fqdn"),
        "role": text("role"),
        "asset_type": text("target_type"),
        "tech_area": text("technology_area"),
        "marking": text("classification"),
        "comment": text("comments"),
        "target_key": str(stig.get("reference_identifier") or ""),
        "web_or_database": "true" if target.get("is_web_database") else "false",
    }
    rules = {}
    for rule in stig["rules"]:
        rules[rule["rule_id_src"]] = _Rule(
            vuln_id=rule["group_id"],
            severity=rule["severity"],
            status=normalize_status(rule.get("status")),
            details=rule.get("finding_details") or "",
            comments=rule.get("comments") or "",
            ccis=tuple(rule.get("ccis") or ()),
            legacy_ids=tuple(rule.get("legacy_ids") or ()),
        )
    benchmark = (
        str(stig.get("stig_id", "")),
        str(stig.get("version", "")),
        str(stig.get("release_info", "")),
    )
    return _Checklist(values, benchmark, rules)


# --- Command line -------------------------------------------------------------


def validate_file(
    path: Path, expected_rule_ids: set[str] | None = None, *, release: bool = False
) -> list[Problem]:
    """Problems of one file; the format follows the extension, else the content."""
    data = path.read_bytes()
    validator: Callable[..., list[Problem]]
    if path.suffix.lower() == ".cklb":
        validator = validate_cklb
    elif path.suffix.lower() == ".ckl":
        validator = validate_ckl
    else:
        first = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        validator = validate_cklb if first == b"{" else validate_ckl
    return validator(data, expected_rule_ids, release=release)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sphere_stig.exporters.validate",
        description="Check CKL/CKLB checklists against the rules consumers enforce.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 on warnings as well as errors"
    )
    parser.add_argument(
        "--expect-catalog",
        action="store_true",
        help="check the rule set against the packaged catalog (C13/B8)",
    )
    parser.add_argument(
        "--release",
        action="store_true",
        help="with --expect-catalog, a rule-set mismatch is an error",
    )
    args = parser.parse_args(argv)
    expected = None
    if args.expect_catalog:
        from sphere_stig import catalog

        expected = {rule.rule_id for rule in catalog.load_rules()}

    errors = warnings = 0
    for path, problems in _problems_by_file(args.files, expected, args.release):
        for problem in problems:
            print(f"{path}: {problem}")
        errors += sum(p.level == ERROR for p in problems)
        warnings += sum(p.level == WARNING for p in problems)
    print(f"{errors} error(s), {warnings} warning(s) in {len(args.files)} file(s)")
    return 1 if errors or (args.strict and warnings) else 0


def _problems_by_file(
    paths: Sequence[Path], expected: set[str] | None, release: bool
) -> Iterable[tuple[str, list[Problem]]]:
    readable = []
    for path in paths:
        try:
            problems = validate_file(path, expected, release=release)
        except OSError as exc:
            yield (
                str(path),
                [Problem(ERROR, "IO", f"cannot read the file: {exc.strerror}")],
            )
            continue
        readable.append(path)
        yield str(path), problems
    by_stem: dict[Path, dict[str, Path]] = {}
    for path in readable:
        by_stem.setdefault(path.with_suffix(""), {})[path.suffix.lower()] = path
    for pair in by_stem.values():
        if ".ckl" in pair and ".cklb" in pair:
            problems = validate_pair(
                pair[".ckl"].read_bytes(), pair[".cklb"].read_bytes()
            )
            yield f"{pair['.ckl']} + {pair['.cklb'].suffix}", problems


if __name__ == "__main__":
    sys.exit(main())
