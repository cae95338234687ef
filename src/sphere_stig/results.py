"""The record of one (rule or port row, host) outcome, as every exporter sees it.

Results travel from pytest workers to the controller inside
``report.user_properties`` (xdist serialises them), so a result is a plain
JSON-able mapping with a typed view on top.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sphere_stig import redact
from sphere_stig.outcome import CKL_STATUS, Evidence, Status, Verdict

PROPERTY = "sphere_stig_result"


@dataclass(frozen=True)
class Result:
    kind: str  # "stig" or "port"
    id: str  # Vuln ID or port row id
    host: str
    status: Status
    summary: str
    evidence: tuple[Evidence, ...] = ()
    severity: str = ""
    title: str = ""
    stig_id: str = ""
    rule_id: str = ""
    check: str = ""
    nodeid: str = ""
    duration: float = 0.0
    ccis: tuple[str, ...] = ()
    # A reviewer's answer that decided a manual rule, and a waiver that
    # accepts an open finding for a time: both as recorded in their files
    # (rule, scope, who, when, expiry, ...), shown in checklist comments.
    answer: dict[str, str] | None = None
    waiver: dict[str, str] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def waived(self) -> bool:
        """An open finding covered by a waiver that has not expired."""
        return (
            self.status is Status.FAIL
            and self.waiver is not None
            and self.waiver.get("state") == "valid"
        )

    @property
    def ckl_status(self) -> str:
        return CKL_STATUS[self.status]

    @property
    def cat(self) -> str:
        return {"high": "CAT I", "medium": "CAT II", "low": "CAT III"}.get(
            self.severity, ""
        )

    def details(self) -> str:
        return Verdict(self.status, self.summary, self.evidence).details()

    def to_json(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        data["ckl_status"] = self.ckl_status
        return _scrubbed(data)

    @classmethod
    def from_json(cls, data: dict) -> Result:
        data = dict(data)
        data.pop("ckl_status", None)
        data["status"] = Status(data["status"])
        data["evidence"] = tuple(Evidence(**e) for e in data.get("evidence", ()))
        data["ccis"] = tuple(data.get("ccis", ()))
        return cls(**data)


def _scrubbed(value):
    """Every string of a result passes the redaction list before it is stored."""
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def write_json(results: list[Result], path: Path, meta: dict) -> None:
    payload = {"meta": _scrubbed(meta), "results": [r.to_json() for r in results]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> tuple[dict, list[Result]]:
    payload = json.loads(path.read_text(encoding="utf-8"))
    return payload["meta"], [Result.from_json(r) for r in payload["results"]]
