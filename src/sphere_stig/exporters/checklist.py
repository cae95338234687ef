"""STIG Viewer checklists: CKL (STIG Viewer 2, XML) and CKLB (STIG Viewer 3, JSON).

One checklist per host holds every rule of the benchmark, in benchmark order.
A rule the session did not run is ``Not_Reviewed`` with that reason, never
left out. Statuses come from the one mapping in :mod:`sphere_stig.outcome`
(an error is ``Not_Reviewed``, never ``Open`` and never ``NotAFinding``), and
the CKL and the CKLB of a host are built from the same entries, so they carry
identical statuses and texts.

UUIDs are UUID 5 values derived from the host name, the benchmark and the rule
ID: a rerun produces the same checklist and rule UUIDs, so STIG Viewer and
STIG Manager see an updated checklist rather than a new one.

The field layout follows ``/work/shared/checklist-format.md`` (§2 and §3); the
validator in :mod:`sphere_stig.exporters.validate` checks it (§4).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from sphere_stig import __version__
from sphere_stig.exporters import content
from sphere_stig.exporters.content import BenchmarkInfo, RuleEntry, clean
from sphere_stig.inventory import Host
from sphere_stig.official import OfficialBenchmark
from sphere_stig.results import Result

log = logging.getLogger(__name__)

ROLES = ("None", "Workstation", "Member Server", "Domain Controller")
ASSET_TYPES = ("Computing", "Non-Computing")
TECH_AREAS = (
    "",
    "Application Review",
    "Boundary Security",
    "CDS Admin Review",
    "CDS Technical Review",
    "Database Review",
    "Domain Name System (DNS)",
    "Exchange Server",
    "Host Based System Security (HBSS)",
    "Internal Network",
    "Mobility",
    "Other Review",
    "Releasable Networks (REL)",
    "Releaseable Networks (REL)",
    "Traditional Security",
    "UNIX OS",
    "VVOIP Review",
    "Web Review",
    "Windows OS",
)

# The attributes of a VULN in the order STIG Viewer 2 writes them; LEGACY_ID
# and CCI_REF follow, repeated once per value.
VULN_ATTRIBUTES = (
    "Vuln_Num",
    "Severity",
    "Group_Title",
    "Rule_ID",
    "Rule_Ver",
    "Rule_Title",
    "Vuln_Discuss",
    "IA_Controls",
    "Check_Content",
    "Fix_Text",
    "False_Positives",
    "False_Negatives",
    "Documentable",
    "Mitigations",
    "Potential_Impact",
    "Third_Party_Tools",
    "Mitigation_Control",
    "Responsibility",
    "Security_Override_Guidance",
    "Check_Content_Ref",
    "Weight",
    "Class",
    "STIGRef",
    "TargetKey",
    "STIG_UUID",
    "LEGACY_ID",
    "CCI_REF",
)
SI_NAMES = (
    "version",
    "classification",
    "customname",
    "stigid",
    "description",
    "filename",
    "releaseinfo",
    "title",
    "uuid",
    "notice",
    "source",
)

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ChecklistAsset:
    """The asset block of a checklist: one host, as the inventory describes it."""

    host_name: str
    ip: str = ""
    mac: str = ""
    fqdn: str = ""
    role: str = "Member Server"
    marking: str = "CUI"
    tech_area: str = "Mobility"
    comment: str = ""
    # The benchmark's numeric key in STIG Viewer's library. DISA's key for the
    # ISEC7 Sphere STIG is not known here, so it stays empty unless set;
    # every VULN's TargetKey repeats whatever is given.
    target_key: str = ""
    asset_type: str = "Computing"

    def __post_init__(self) -> None:
        if not self.host_name.strip():
            raise ValueError("a checklist asset needs a host name")
        if self.role not in ROLES:
            raise ValueError(
                f"asset {self.host_name}: role {self.role!r} is not one of {ROLES}"
            )
        if self.asset_type not in ASSET_TYPES:
            raise ValueError(
                f"asset {self.host_name}: asset type {self.asset_type!r} "
                f"is not one of {ASSET_TYPES}"
            )
        if self.tech_area not in TECH_AREAS:
            raise ValueError(
                f"asset {self.host_name}: tech area {self.tech_area!r} is not a "
                "STIG Viewer technology area"
            )
        if self.target_key and not self.target_key.isdigit():
            raise ValueError(
                f"asset {self.host_name}: target key {self.target_key!r} is not numeric"
            )

    @classmethod
    def from_host(cls, host: Host, target_key: str = "") -> ChecklistAsset:
        return cls(
            host_name=host.name,
            ip=host.address,
            mac=host.asset.mac,
            fqdn=host.fqdn,
            role=host.asset.role,
            marking=host.asset.marking,
            tech_area=host.asset.tech_area,
            comment=host.asset.comment,
            target_key=target_key,
        )


def checklist_name(asset: ChecklistAsset, info: BenchmarkInfo, stamp: str) -> str:
    """``<HOST>_ISEC7_Sphere_V3R1_<stamp>`` without the extension."""
    host = _UNSAFE_NAME.sub("_", asset.host_name)
    return f"{host}_{info.file_stem}_{_UNSAFE_NAME.sub('_', stamp)}"


def build_ckl(
    asset: ChecklistAsset,
    results: Sequence[Result],
    official: OfficialBenchmark | None = None,
    *,
    generated: dt.datetime,
) -> bytes:
    """The STIG Viewer 2 checklist of one host, as UTF-8 bytes."""
    info = content.benchmark_info(official)
    entries = content.entries_for_host(asset.host_name, results, official, generated)
    return _ckl_bytes(asset, info, entries, generated)


def build_cklb(
    asset: ChecklistAsset,
    results: Sequence[Result],
    official: OfficialBenchmark | None = None,
    *,
    generated: dt.datetime,
) -> bytes:
    """The STIG Viewer 3 checklist of one host, as UTF-8 JSON bytes."""
    info = content.benchmark_info(official)
    entries = content.entries_for_host(asset.host_name, results, official, generated)
    return _cklb_bytes(asset, info, entries, generated)


def write_checklists(
    report_dir: Path,
    assets: Sequence[ChecklistAsset],
    results: Sequence[Result],
    official: OfficialBenchmark | None = None,
    *,
    stamp: str,
    generated: dt.datetime | None = None,
) -> list[Path]:
    """Write ``<HOST>_ISEC7_Sphere_V3R1_<stamp>.ckl`` and ``.cklb`` per asset.

    Only STIG results count (port-table rows have no place in a checklist).
    Returns the paths written, CKL before CKLB for each asset.
    """
    generated = generated or dt.datetime.now(dt.UTC)
    info = content.benchmark_info(official)
    stig = [r for r in results if r.kind == "stig"]
    known = {a.host_name for a in assets}
    strays = sorted({r.host for r in stig} - known)
    if strays:
        log.warning(
            "results for hosts without an asset are not in any checklist: %s", strays
        )
    report_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for asset in assets:
        entries = content.entries_for_host(asset.host_name, stig, official, generated)
        name = checklist_name(asset, info, stamp)
        for suffix, data in (
            (".ckl", _ckl_bytes(asset, info, entries, generated)),
            (".cklb", _cklb_bytes(asset, info, entries, generated)),
        ):
            path = report_dir / f"{name}{suffix}"
            _write(path, data)
            written.append(path)
    log.info("wrote %d checklists to %s", len(written), report_dir)
    return written


def _write(path: Path, data: bytes) -> None:
    # Written beside and renamed, so a reader never sees half a checklist.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _stig_uuid(asset: ChecklistAsset, info: BenchmarkInfo) -> str:
    return content.stable_uuid(asset.host_name, info.id, info.version_release)


def _rule_uuid(asset: ChecklistAsset, info: BenchmarkInfo, entry: RuleEntry) -> str:
    return content.stable_uuid(asset.host_name, info.id, entry.rule.rule_id)


# --- CKL ----------------------------------------------------------------------


def _ckl_bytes(
    asset: ChecklistAsset,
    info: BenchmarkInfo,
    entries: Sequence[RuleEntry],
    generated: dt.datetime,
) -> bytes:
    root = ET.Element("CHECKLIST")
    _ckl_asset(root, asset)
    istig = ET.SubElement(ET.SubElement(root, "STIGS"), "iSTIG")
    _ckl_stig_info(istig, asset, info)
    for entry in entries:
        _ckl_vuln(istig, asset, info, entry)
    ET.indent(root, space="\t")
    comment = ET.Comment(f" {content.TOOL} :: {__version__} :: {_iso(generated)} ")
    return b"".join(
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n',
            ET.tostring(comment, encoding="utf-8"),
            b"\n",
            ET.tostring(root, encoding="utf-8", short_empty_elements=False),
            b"\n",
        )
    )


def _leaf(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = clean(text)
    return element


def _ckl_asset(root: ET.Element, asset: ChecklistAsset) -> None:
    node = ET.SubElement(root, "ASSET")
    for tag, value in (
        ("ROLE", asset.role),
        ("ASSET_TYPE", asset.asset_type),
        ("MARKING", asset.marking),
        ("HOST_NAME", asset.host_name),
        ("HOST_IP", asset.ip),
        ("HOST_MAC", asset.mac),
        ("HOST_FQDN", asset.fqdn),
        ("TARGET_COMMENT", asset.comment),
        ("TECH_AREA", asset.tech_area),
        ("TARGET_KEY", asset.target_key),
        ("WEB_OR_DATABASE", "false"),
        ("WEB_DB_SITE", ""),
        ("WEB_DB_INSTANCE", ""),
    ):
        _leaf(node, tag, value)


def _ckl_stig_info(
    istig: ET.Element, asset: ChecklistAsset, info: BenchmarkInfo
) -> None:
    values = {
        "version": info.version,
        "classification": info.classification,
        "customname": "",
        "stigid": info.id,
        "description": info.description,
        "filename": info.filename,
        "releaseinfo": info.release_info,
        "title": info.title,
        "uuid": _stig_uuid(asset, info),
        "notice": "terms-of-use",
        "source": "STIG.DOD.MIL",
    }
    stig_info = ET.SubElement(istig, "STIG_INFO")
    for name in SI_NAMES:
        si_data = ET.SubElement(stig_info, "SI_DATA")
        _leaf(si_data, "SID_NAME", name)
        # STIG Viewer leaves SID_DATA out, rather than empty, when unset.
        if values[name]:
            _leaf(si_data, "SID_DATA", values[name])


def _ckl_vuln(
    istig: ET.Element, asset: ChecklistAsset, info: BenchmarkInfo, entry: RuleEntry
) -> None:
    rule = entry.rule
    single = {
        "Vuln_Num": rule.vuln_id,
        "Severity": rule.severity,
        "Group_Title": rule.srg,
        "Rule_ID": rule.rule_id,
        "Rule_Ver": rule.stig_id,
        "Rule_Title": rule.title,
        "Vuln_Discuss": rule.discussion,
        "Check_Content": rule.check_content,
        "Fix_Text": rule.fix_text,
        "Documentable": "false",
        "Check_Content_Ref": rule.check_content_ref,
        "Weight": "10.0",
        "Class": "Unclass",
        "STIGRef": info.stig_ref,
        "TargetKey": asset.target_key,
        "STIG_UUID": _stig_uuid(asset, info),
    }
    # An empty LEGACY_ID keeps all 27 attributes present for a rule that has
    # no legacy identifiers, as STIG Viewer does.
    repeated = {"LEGACY_ID": rule.legacy_ids or ("",), "CCI_REF": rule.ccis}
    vuln = ET.SubElement(istig, "VULN")
    for attribute in VULN_ATTRIBUTES:
        for value in repeated.get(attribute, (single.get(attribute, ""),)):
            stig_data = ET.SubElement(vuln, "STIG_DATA")
            _leaf(stig_data, "VULN_ATTRIBUTE", attribute)
            _leaf(stig_data, "ATTRIBUTE_DATA", value)
    _leaf(vuln, "STATUS", entry.ckl_status)
    _leaf(vuln, "FINDING_DETAILS", entry.finding_details)
    _leaf(vuln, "COMMENTS", entry.comments)
    _leaf(vuln, "SEVERITY_OVERRIDE", "")
    _leaf(vuln, "SEVERITY_JUSTIFICATION", "")


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (
        moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


# --- CKLB ---------------------------------------------------------------------


def _cklb_bytes(
    asset: ChecklistAsset,
    info: BenchmarkInfo,
    entries: Sequence[RuleEntry],
    generated: dt.datetime,
) -> bytes:
    stig_uuid = _stig_uuid(asset, info)
    document: dict[str, Any] = {
        "title": clean(f"{asset.host_name} {info.display_name} {info.version_release}"),
        "id": content.stable_uuid(asset.host_name, "checklist", info.id),
        "stigs": [
            {
                "stig_name": info.title,
                "display_name": info.display_name,
                "stig_id": info.id,
                "release_info": info.release_info,
                "version": info.version,
                "uuid": stig_uuid,
                "reference_identifier": asset.target_key,
                "size": len(entries),
                "rules": [
                    _cklb_rule(asset, info, stig_uuid, entry) for entry in entries
                ],
            }
        ],
        # The combination STIG Viewer 3 writes for a new checklist; what the
        # three flags mean is not documented.
        "active": True,
        "mode": 2,
        "has_path": False,
        "target_data": _cklb_target(asset),
        "cklb_version": "1.0",
        # Producer extension, as Evaluate-STIG adds its own; readers ignore it.
        content.TOOL: {"version": __version__, "time": _iso(generated)},
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _cklb_target(asset: ChecklistAsset) -> dict[str, Any]:
    return {
        "target_type": asset.asset_type,
        "host_name": clean(asset.host_name),
        "ip_address": clean(asset.ip),
        "mac_address": clean(asset.mac),
        "fqdn": clean(asset.fqdn),
        "comments": clean(asset.comment),
        "role": asset.role,
        "is_web_database": False,
        "technology_area": asset.tech_area,
        "web_db_site": "",
        "web_db_instance": "",
        "classification": clean(asset.marking),
    }


def _cklb_rule(
    asset: ChecklistAsset, info: BenchmarkInfo, stig_uuid: str, entry: RuleEntry
) -> dict[str, Any]:
    rule = entry.rule
    return {
        "uuid": _rule_uuid(asset, info, entry),
        "stig_uuid": stig_uuid,
        "reference_identifier": asset.target_key,
        "group_id": rule.vuln_id,
        "group_id_src": rule.vuln_id,
        "rule_id": rule.rule_id_short,
        "rule_id_src": rule.rule_id,
        "rule_version": rule.stig_id,
        "rule_title": rule.title,
        "group_title": rule.title,
        "group_tree": [
            {
                "id": rule.vuln_id,
                "title": rule.srg,
                "description": "<GroupDescription></GroupDescription>",
            }
        ],
        "severity": rule.severity,
        "weight": "10.0",
        "classification": "Unclassified",
        "discussion": rule.discussion,
        "check_content": rule.check_content,
        "fix_text": rule.fix_text,
        "check_content_ref": {"href": info.filename, "name": rule.check_content_ref},
        "false_positives": "",
        "false_negatives": "",
        "documentable": "false",
        "security_override_guidance": "",
        "potential_impacts": "",
        "third_party_tools": "",
        "ia_controls": "",
        "responsibility": "",
        "mitigations": "",
        "mitigation_control": "",
        "legacy_ids": list(rule.legacy_ids),
        "ccis": list(rule.ccis),
        "status": entry.cklb_status,
        "finding_details": entry.finding_details,
        "comments": entry.comments,
        "overrides": {},
    }
