"""Heimdall Data Format (HDF): the InSpec "exec JSON" shape Heimdall loads.

What Heimdall needs (the exec-json schema in ``mitre/heimdall2``
``schemas/exec-json.json`` and inspecjs's reading of it):

* top level: ``platform`` (``name``, ``release``; ``target_id`` names the
  target), ``version``, ``statistics`` and ``profiles``;
* each profile: ``name``, ``sha256``, ``supports``, ``attributes``,
  ``groups`` and ``controls`` (``title``, ``version``, ``summary`` are shown);
* each control: ``id``, ``title``, ``desc``, ``impact``, ``refs``, ``tags``,
  ``code``, ``source_location`` (``ref``, ``line``) and ``results``;
  ``descriptions`` with the labels ``default``, ``check`` and ``fix`` feed
  the check and fix tabs; ``tags.severity`` wins over the impact for the
  severity shown;
* each result: ``code_desc``, ``run_time``, ``start_time`` and ``status``
  (passed, failed, skipped, error), with ``message`` or ``skip_message``.

Heimdall does not read a control's status from the file: it derives it from
the results. Any ``error`` result makes the control a Profile Error; impact
0.0 (or a waiver marked ``skipped_due_to_waiver``) makes it Not Applicable;
then any ``failed`` gives Failed, any ``passed`` Passed, and all ``skipped``
Not Reviewed. So this module writes **one document per host**: in a single
document with every host's results under one control, one unreachable host
would turn the rule into a Profile Error for all of them, one failing host
would hide the hosts that pass, one not-applicable host would zero the impact
for all, and the counts would be of rules rather than of rules on hosts.
Per host, each control's derived status is exactly the checklist status
(``platform.target_id`` and ``tags.host`` name the host), and Heimdall loads
several files side by side and compares them.

Mapping: pass gives passed results, fail gives at least one failed result,
not applicable gives impact 0.0 and a skipped result, not reviewed gives a
skipped result, and error gives an error result (Heimdall: Profile Error, not
Failed). A valid waiver goes into ``waiver_data`` without
``skipped_due_to_waiver``, so the control stays Failed, as in the checklist.
Controls carry no NIST tags (the catalog maps rules to CCIs only), so
Heimdall files them under its "unmapped" NIST family.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sphere_stig import __version__, catalog
from sphere_stig.exporters import content
from sphere_stig.exporters.content import RuleEntry, clean
from sphere_stig.official import OfficialBenchmark
from sphere_stig.outcome import Evidence, Status
from sphere_stig.results import Result

log = logging.getLogger(__name__)

IMPACT = {"high": 0.7, "medium": 0.5, "low": 0.3}
_CATALOG_REF = "src/sphere_stig/catalog/rules.yml"


def to_hdf(
    meta: Mapping[str, Any],
    results: Sequence[Result],
    official: OfficialBenchmark | None = None,
    *,
    host: str | None = None,
) -> dict[str, Any]:
    """The HDF document of one host: every catalog rule as a control.

    ``host`` picks the host from results of several; without it the STIG
    results must all be of one host (see the module docstring for why one
    document per host).
    """
    host = host or _only_host(meta, results)
    started = _parse_time(meta.get("started"))
    start_time = _iso(started)
    entries = content.entries_for_host(host, results, official, started)
    info = content.benchmark_info(official)
    controls = [_control(entry, host, start_time) for entry in entries]
    statuses = Counter(_statistic(entry.status) for entry in entries)
    profile = {
        "name": info.id,
        "title": info.title,
        "version": info.version_release,
        "summary": info.description or f"{info.title}, {info.release_info}",
        "maintainer": content.TOOL,
        "license": "Apache-2.0",
        "supports": [{"platform-family": "windows"}],
        "attributes": _attributes(),
        "groups": _groups(entries),
        "status": "loaded",
        "controls": controls,
    }
    profile["sha256"] = _profile_hash(controls)
    return {
        "platform": {
            "name": content.TOOL,
            "release": __version__,
            "target_id": clean(host),
        },
        "version": __version__,
        "statistics": {
            "duration": _duration(meta, results, host),
            "controls": {
                key: {"total": statuses.get(key, 0)}
                for key in ("passed", "failed", "skipped", "error")
            },
        },
        "profiles": [profile],
        "passthrough": _passthrough(meta, host),
    }


def write_hdf(
    path: Path,
    meta: Mapping[str, Any],
    results: Sequence[Result],
    official: OfficialBenchmark | None = None,
    *,
    host: str | None = None,
) -> Path:
    """Write one host's HDF document to ``path``."""
    document = to_hdf(meta, results, official, host=host)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path


def write_hdf_reports(
    report_dir: Path,
    meta: Mapping[str, Any],
    results: Sequence[Result],
    official: OfficialBenchmark | None = None,
    *,
    stamp: str,
) -> list[Path]:
    """``<HOST>_ISEC7_Sphere_V3R1_<stamp>.hdf.json`` for every host with STIG results."""
    info = content.benchmark_info(official)
    # Hosts the STIG applies to; a directory or mail host has no Sphere STIG.
    hosts = _stig_hosts(results)
    written = []
    for host in hosts:
        name = f"{_safe(host)}_{info.file_stem}_{_safe(stamp)}.hdf.json"
        written.append(write_hdf(report_dir / name, meta, results, official, host=host))
    log.info("wrote %d HDF files to %s", len(written), report_dir)
    return written


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def _stig_hosts(results: Sequence[Result]) -> list[str]:
    return list(dict.fromkeys(r.host for r in results if r.kind == "stig"))


def _only_host(meta: Mapping[str, Any], results: Sequence[Result]) -> str:
    hosts = _stig_hosts(results) or list(meta.get("hosts", ()))
    if len(hosts) != 1:
        raise ValueError(
            f"an HDF document holds one host; these results are of {hosts or 'none'}; "
            "pass host=NAME, or use write_hdf_reports() for one file per host"
        )
    return hosts[0]


def _parse_time(value: object) -> dt.datetime:
    if isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            log.warning("run start %r is not an ISO time; using now", value)
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _duration(meta: Mapping[str, Any], results: Sequence[Result], host: str) -> float:
    if meta.get("started") and meta.get("finished"):
        span = _parse_time(meta["finished"]) - _parse_time(meta["started"])
        return max(span.total_seconds(), 0.0)
    return round(sum(r.duration for r in results if r.host == host), 3)


def _statistic(status: Status) -> str:
    return {
        Status.PASS: "passed",
        Status.FAIL: "failed",
        Status.ERROR: "error",
    }.get(status, "skipped")


def _control(entry: RuleEntry, host: str, start_time: str) -> dict[str, Any]:
    rule = entry.rule
    own = catalog.rule(rule.vuln_id)
    desc = rule.discussion or rule.check_content
    descriptions = [{"label": "default", "data": desc}]
    for label, text in (
        ("check", rule.check_content),
        ("fix", rule.fix_text),
        ("comments", entry.comments),
    ):
        if text:
            descriptions.append({"label": label, "data": text})
    control: dict[str, Any] = {
        "id": rule.vuln_id,
        "title": rule.title,
        "desc": desc,
        "descriptions": descriptions,
        "impact": 0.0
        if entry.status is Status.NOT_APPLICABLE
        else IMPACT[rule.severity],
        "refs": [],
        "tags": {
            "gid": rule.vuln_id,
            "rid": rule.rule_id,
            "stig_id": rule.stig_id,
            "gtitle": rule.srg,
            "cci": list(rule.ccis),
            "legacy": list(rule.legacy_ids),
            "severity": rule.severity,
            "host": clean(host),
            "area": own.area,
            "check_name": own.check,
            "checklist_status": entry.ckl_status,
        },
        "code": _code(own),
        "source_location": _source(entry.result),
        "results": _segments(entry, host, start_time),
    }
    waiver = entry.result.waiver if entry.result else None
    if waiver:
        control["waiver_data"] = _waiver_data(waiver)
    return control


def _code(rule: catalog.Rule) -> str:
    """The rule as the suite runs it: which check, which inputs, the procedure."""
    return json.dumps(
        {
            "check": rule.check,
            "manual": rule.manual,
            "area": rule.area,
            "inputs": list(rule.inputs),
            "procedure": rule.procedure.strip(),
        },
        indent=2,
    )


def _source(result: Result | None) -> dict[str, Any]:
    if result is not None and result.nodeid:
        return {"ref": clean(result.nodeid.split("::")[0]), "line": 0}
    return {"ref": _CATALOG_REF, "line": 0}


def _segments(entry: RuleEntry, host: str, start_time: str) -> list[dict[str, Any]]:
    """The control's results: one per observation, or one saying why there are none."""
    result = entry.result
    subject = f"{entry.rule.vuln_id} on {clean(host)}"
    if result is None:
        return [_skipped(subject, entry.reason, 0.0, start_time)]
    if result.status is Status.ERROR:
        segment = _segment("error", subject, result.duration, start_time)
        segment["message"] = (
            f"ERROR: {clean(result.summary)}; the rule was not evaluated"
        )
        segment["exception"] = clean(result.summary)
        return [segment]
    if result.status in (Status.NOT_APPLICABLE, Status.NOT_REVIEWED):
        return [
            _skipped(
                subject, content.evidence_body(result), result.duration, start_time
            )
        ]

    observations = list(result.evidence)
    share = result.duration / max(len(observations), 1)
    segments = [_observation(e, result.status, share, start_time) for e in observations]
    # Heimdall derives the control status from these: a fail needs a failed
    # result and a pass must have none.
    wanted = "failed" if result.status is Status.FAIL else "passed"
    if not any(s["status"] == wanted for s in segments):
        summary = _segment(
            wanted, f"{subject}: {clean(result.summary)}", 0.0, start_time
        )
        segments.insert(0, summary)
    return segments


def _segment(
    status: str, code_desc: str, run_time: float, start: str
) -> dict[str, Any]:
    return {
        "status": status,
        "code_desc": code_desc,
        "run_time": round(run_time, 6),
        "start_time": start,
    }


def _skipped(subject: str, why: str, run_time: float, start: str) -> dict[str, Any]:
    segment = _segment("skipped", subject, run_time, start)
    segment["skip_message"] = clean(why)
    return segment


def _observation(
    evidence: Evidence, status: Status, run_time: float, start: str
) -> dict[str, Any]:
    if status is Status.FAIL and evidence.ok is False:
        outcome = "failed"
    else:
        outcome = "passed"
    prefix = "info: " if evidence.ok is None else ""
    segment = _segment(
        outcome,
        clean(f"{prefix}{evidence.item}: expected {evidence.expected}"),
        run_time,
        start,
    )
    segment["message"] = clean(
        f"observed {evidence.observed} (source: {evidence.source})"
    )
    segment["resource"] = clean(evidence.source)
    return segment


def _waiver_data(waiver: Mapping[str, str]) -> dict[str, Any]:
    state = str(waiver.get("state", ""))
    unused = str(waiver.get("unused", "")).lower() == "true"
    outcome = "not needed, nothing is open" if unused else "the finding stays open"
    data: dict[str, Any] = {
        # The checks still ran; leaving out skipped_due_to_waiver keeps
        # Heimdall from turning the waived finding into Not Applicable.
        "run": True,
        "message": clean(f"waiver {state or 'recorded'}; {outcome}"),
    }
    justification = waiver.get("justification") or waiver.get("reason")
    if justification:
        data["justification"] = clean(justification)
    expiry = waiver.get("expires") or waiver.get("expiry") or waiver.get("expiration")
    if expiry:
        data["expiration_date"] = clean(str(expiry))
    return data


def _attributes() -> list[dict[str, Any]]:
    """The organisation inputs, as InSpec lists a profile's inputs."""
    attributes = []
    for name, spec in catalog.load_inputs().items():
        options: dict[str, Any] = {
            "description": spec.description.strip(),
            "type": spec.type,
            "required": spec.default is None,
        }
        if spec.default is not None:
            value = spec.default
            options["value"] = list(value) if isinstance(value, tuple) else value
        attributes.append({"name": name, "options": options})
    return attributes


def _groups(entries: Sequence[RuleEntry]) -> list[dict[str, Any]]:
    """One group per catalog area (Tomcat TLS, Certificates, ...)."""
    areas: dict[str, list[str]] = {}
    for entry in entries:
        area = catalog.rule(entry.rule.vuln_id).area
        areas.setdefault(area, []).append(entry.rule.vuln_id)
    return [{"id": area, "title": area, "controls": ids} for area, ids in areas.items()]


def _profile_hash(controls: Sequence[Mapping[str, Any]]) -> str:
    """A checksum of what the profile checks, leaving out this run's results."""
    static = [
        {
            "id": c["id"],
            "title": c["title"],
            "desc": c["desc"],
            "code": c["code"],
            "tags": {k: c["tags"][k] for k in ("rid", "stig_id", "cci", "severity")},
        }
        for c in controls
    ]
    return hashlib.sha256(
        json.dumps(static, sort_keys=True).encode("utf-8")
    ).hexdigest()


def _passthrough(meta: Mapping[str, Any], host: str) -> dict[str, Any]:
    """Run facts Heimdall keeps but does not interpret."""
    keep = ("inventory", "limit", "started", "finished", "run_by", "suite_version")
    data = {key: meta[key] for key in keep if key in meta}
    data["host"] = host
    return {k: clean(v) if isinstance(v, str) else v for k, v in data.items()}
