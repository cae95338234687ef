"""The CI gate: which results fail the run, and a one-line reason.

``--fail-on`` names the classes of results that fail a run: open findings by
CAT (``cat1``, ``cat2``, ``cat3``), open port-table rows and overview
requirements (``ports``, ``requirements``: they carry no CAT) and results
that could not be evaluated (``error``). A finding
covered by a valid waiver does not fail the run; once the waiver expires it
counts again. ``none`` fails on nothing (a report-only run).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sphere_stig.outcome import Status
from sphere_stig.results import Result

# Token -> (singular, plural) wording for the one-line summary.
TOKENS = {
    "cat1": ("open CAT I finding", "open CAT I findings"),
    "cat2": ("open CAT II finding", "open CAT II findings"),
    "cat3": ("open CAT III finding", "open CAT III findings"),
    "ports": ("open port row", "open port rows"),
    "requirements": ("open requirement", "open requirements"),
    "error": ("error", "errors"),
}
DEFAULT = "cat1,cat2,error,ports,requirements"
_CAT_TOKEN = {"high": "cat1", "medium": "cat2", "low": "cat3"}


class GateError(ValueError):
    pass


def parse(value: str) -> frozenset[str]:
    tokens = {t.strip().lower() for t in value.split(",") if t.strip()}
    if tokens == {"none"}:
        return frozenset()
    unknown = tokens - set(TOKENS)
    if unknown or not tokens:
        close = [
            match
            for t in sorted(unknown)
            for match in difflib.get_close_matches(t, list(TOKENS), n=1)
        ]
        hints = f"did you mean {', '.join(close)}? " if close else ""
        raise GateError(
            f"--fail-on {value!r}: unknown {', '.join(sorted(unknown)) or 'empty value'}; "
            f"{hints}use a comma-separated list of {', '.join(TOKENS)}, or none"
        )
    return frozenset(tokens)


def token(result: Result) -> str | None:
    """The gate class of a result, or None when it is neither open nor an error."""
    if result.status is Status.ERROR:
        return "error"
    if result.status is not Status.FAIL:
        return None
    if result.kind == "port":
        return "ports"
    if result.kind == "requirement":
        return "requirements"
    return _CAT_TOKEN.get(result.severity)


@dataclass(frozen=True)
class Decision:
    failed: bool
    blocking: Counter
    passing: Counter  # open or error results the gate lets through
    # The waived results by gate class.
    waived_by: Counter = field(default_factory=Counter)
    # The blocking results by host, so that CI says where to look.
    blocking_hosts: Counter = field(default_factory=Counter)

    @property
    def waived(self) -> int:
        return self.waived_by.total()

    def line(self, fail_on: Iterable[str]) -> str:
        rule = ",".join(sorted(fail_on)) or "none"

        def describe(counts: Counter) -> str:
            return ", ".join(
                f"{n} {TOKENS[k][n != 1]}" for k, n in sorted(counts.items())
            )

        waived = (
            f"; {self.waived} waived, so not counted ({describe(self.waived_by)})"
            if self.waived
            else ""
        )
        let = describe(self.passing)
        if self.failed:
            hosts = ", ".join(
                f"{host} ({n})" for host, n in sorted(self.blocking_hosts.items())
            )
            return (
                f"gate FAILED (fail-on {rule}): {describe(self.blocking)}"
                + (f" on {hosts}" if hosts else "")
                + (f"; not gated: {let}" if let else "")
                + waived
            )
        nothing = ": nothing open outside waivers" if self.waived else ": nothing open"
        return (
            f"gate passed (fail-on {rule})"
            + (f": not gated: {let}" if let else nothing)
            + waived
        )


def decide(results: Iterable[Result], fail_on: frozenset[str]) -> Decision:
    blocking: Counter = Counter()
    passing: Counter = Counter()
    waived: Counter = Counter()
    hosts: Counter = Counter()
    for result in results:
        kind = token(result)
        if kind is None:
            continue
        if result.waived:
            waived[kind] += 1
            continue
        if kind in fail_on:
            blocking[kind] += 1
            hosts[result.host] += 1
        else:
            passing[kind] += 1
    return Decision(bool(blocking), blocking, passing, waived, hosts)
