"""Verdicts, evidence and the one mapping from outcomes to checklist statuses.

Every check ends in a :class:`Verdict`. Its :class:`Status` is mapped to a
STIG Viewer status in exactly one place (:data:`CKL_STATUS`), so the HTML
report, JUnit, Allure and the checklists can never disagree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    """What a check concluded about one rule on one host."""

    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    NOT_REVIEWED = "not_reviewed"
    # The facts could not be gathered (host unreachable, file unreadable,
    # broken XML). An error is never a finding and never a pass.
    ERROR = "error"


CKL_STATUS: dict[Status, str] = {
    Status.PASS: "NotAFinding",
    Status.FAIL: "Open",
    Status.NOT_APPLICABLE: "Not_Applicable",
    Status.NOT_REVIEWED: "Not_Reviewed",
    Status.ERROR: "Not_Reviewed",
}

CKLB_STATUS: dict[Status, str] = {
    Status.PASS: "not_a_finding",
    Status.FAIL: "open",
    Status.NOT_APPLICABLE: "not_applicable",
    Status.NOT_REVIEWED: "not_reviewed",
    Status.ERROR: "not_reviewed",
}


@dataclass(frozen=True)
class Evidence:
    """One observation: what was looked at, what was seen, what was wanted.

    ``ok`` is True when this observation satisfies the rule, False when it
    violates it and None when it is context only (for example the key size
    of a certificate recorded for an auditor).
    """

    item: str
    observed: str
    expected: str
    source: str
    ok: bool | None = None

    @property
    def mark(self) -> str:
        """How a report labels the observation: ok, FAIL or info."""
        return {True: "ok", False: "FAIL", None: "info"}[self.ok]

    def line(self) -> str:
        return (
            f"[{self.mark}] {self.item}: observed {self.observed}; "
            f"expected {self.expected} (source: {self.source})"
        )


@dataclass(frozen=True)
class Verdict:
    """The result of one check, with the evidence that backs it."""

    status: Status
    summary: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def details(self) -> str:
        """Evidence as plain text, one observation per line."""
        lines = [self.summary]
        lines.extend(e.line() for e in self.evidence)
        return "\n".join(lines)


def passed(summary: str, *evidence: Evidence) -> Verdict:
    return Verdict(Status.PASS, summary, evidence)


def failed(summary: str, *evidence: Evidence) -> Verdict:
    return Verdict(Status.FAIL, summary, evidence)


def not_applicable(summary: str, *evidence: Evidence) -> Verdict:
    return Verdict(Status.NOT_APPLICABLE, summary, evidence)


def not_reviewed(summary: str, *evidence: Evidence) -> Verdict:
    return Verdict(Status.NOT_REVIEWED, summary, evidence)


def judge(summary_pass: str, summary_fail: str, *evidence: Evidence) -> Verdict:
    """Pass when no observation violates the rule, else fail.

    At least one observation must carry a judgement (``ok`` not None):
    a verdict with nothing judged would be a check that cannot fail.
    """
    judged = [e for e in evidence if e.ok is not None]
    if not judged:
        raise ValueError("judge() needs at least one judged observation")
    if all(e.ok for e in judged):
        return passed(summary_pass, *evidence)
    return failed(summary_fail, *evidence)


class CheckError(Exception):
    """Facts were gathered but cannot be judged (broken XML, hostile input).

    The message names the host, the file or key, and what to do next. The
    rule's result becomes an error, never a finding.
    """


class CollectionError(Exception):
    """Facts could not be gathered from a host (unreachable, refused, timeout)."""

    def __init__(self, host: str, source: str, reason: str) -> None:
        super().__init__(f"{host}: {source}: {reason}")
        self.host = host
        self.source = source
        self.reason = reason
