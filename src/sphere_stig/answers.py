"""Reviewers' answers for manual rules, and waivers for open findings.

Two YAML files sit beside an inventory (the format is in docs/answers.md):

* an answers file records what a reviewer found for a rule the suite cannot
  judge (a catalog rule with ``manual: true``, or an overview requirement
  with ``check: manual``), for a set of hosts and for a limited time;
* a waivers file records that an open finding is accepted for a time, under
  an approver's name and a ticket: a STIG rule, a port-table row or an
  overview requirement.

An entry's ``rule:`` key names one of them by its catalog ID: a Vuln ID
(``V-224767``), a requirement ID (``AUTH-01``) or a port row ID (``LST-03``).

:func:`apply` folds both into a verdict. An answer decides a manual rule
while it is in force: from its date until it expires. A waiver or answer
dated after the day of the run is not yet in force and counts for nothing.
A waiver never changes a verdict: the finding stays open and the waiver travels beside it
(``Result.waiver``) into the checklist comments. Error verdicts are left
alone, because nothing is known about the rule on that host.

When several entries for one rule match a host, the most specific wins: an
exact host name over a glob, a glob over ``*``; between two globs, the one
with more fixed characters; after that, the entry earlier in the file.
Host names and patterns are compared without regard to case. Loaded for a
run, every pattern must match a host of the inventory: a misspelt name would
otherwise leave an answer or waiver unused without a word.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from sphere_stig import catalog, yamlfile
from sphere_stig.hints import did_you_mean
from sphere_stig.outcome import Evidence, Status, Verdict

__all__ = [
    "ANSWER_STATUS",
    "EXPIRED",
    "NOT_YET",
    "VALID",
    "Answer",
    "AnswerBook",
    "AnswersError",
    "Applied",
    "Match",
    "Waiver",
    "WaiverBook",
    "apply",
    "load_answers",
    "load_waivers",
]

VALID = "valid"
EXPIRED = "expired"
# Dated after the day of the run: a typo in the year, or an approval
# recorded ahead of time. It counts from its date on, like any other entry.
NOT_YET = "not yet in force"

# A reviewer answers in checklist words; the suite judges in its own.
ANSWER_STATUS: dict[str, Status] = {
    "NotAFinding": Status.PASS,
    "Open": Status.FAIL,
    "Not_Applicable": Status.NOT_APPLICABLE,
}
_EVIDENCE_OK: dict[str, bool | None] = {
    "NotAFinding": True,
    "Open": False,
    "Not_Applicable": None,
}
_WILDCARDS = re.compile(r"\[[^\]]*\]|[*?]")


class AnswersError(Exception):
    """An answers or waivers file cannot be used.

    The message names the file, the entry (index and rule) and the key, and
    says what to change.
    """


def _iso_date(value: Any) -> date:
    # YAML turns an unquoted 2026-12-03 into a date and a quoted one into a
    # string. Anything else (a number, a time stamp) is refused rather than
    # guessed at: pydantic alone would read 20261203 as seconds since 1970.
    if isinstance(value, datetime):
        raise ValueError(f"{value} has a time of day; write the date only, YYYY-MM-DD")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD")


# What a rule: key may name: a STIG rule, an overview requirement, a port row.
_ID_FORMS = {
    "rule": r"V-\d{5,6}",
    "requirement": r"(AUTH|CERT|AGENT)-\d{2}",
    "port": r"(LST|OUT)-\d{2}",
}


def _catalog_id(value: str) -> str:
    if not any(re.fullmatch(form, value) for form in _ID_FORMS.values()):
        raise ValueError(
            f"{value!r} is not a catalog ID; write a Vuln ID (V-nnnnnn), a "
            f"requirement ID (AUTH-nn, CERT-nn, AGENT-nn) or a port row ID "
            f"(LST-nn, OUT-nn)"
        )
    return value


def _pattern_list(value: Any) -> Any:
    # A bare string would otherwise be refused with pydantic's generic
    # "valid tuple" message, which does not tell the user what to write.
    if isinstance(value, str):
        raise ValueError(f"write a list of host names or globs, e.g. [{value}]")
    if isinstance(value, list | tuple) and not value:
        raise ValueError(
            "give at least one host name or glob, or leave the key out to cover "
            "every host"
        )
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
CatalogId = Annotated[str, AfterValidator(_catalog_id)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
HostPattern = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
HostPatterns = Annotated[
    tuple[HostPattern, ...], BeforeValidator(_pattern_list), Field(min_length=1)
]


class _Entry(BaseModel):
    """What answers and waivers share: a catalog ID, the hosts, an expiry date."""

    # Ticket numbers and the like often arrive from YAML as numbers.
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    # The field that says when the entry took effect ("date" or "granted").
    START: ClassVar[str]

    rule: CatalogId
    hosts: HostPatterns = ("*",)
    expires: IsoDate

    @field_validator("hosts")
    @classmethod
    def _no_blank_in_pattern(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if any(c.isspace() for c in pattern):
                raise ValueError(f"host pattern {pattern!r} contains a space")
        return value

    @property
    def start(self) -> date:
        """The day the entry takes effect (its ``date`` or ``granted``)."""
        start: date = getattr(self, self.START)
        return start

    def state(self, today: date) -> str:
        """``valid`` from its start to the day before it expires.

        Before its start it is ``not yet in force``; from the expiry date on,
        ``expired``.
        """
        if today < self.start:
            return NOT_YET
        return VALID if today < self.expires else EXPIRED

    @model_validator(mode="after")
    def _expires_after_start(self) -> _Entry:
        start, end = self.start, self.expires
        if end <= start:
            relation = "before" if end < start else "the same day as"
            raise ValueError(
                f"expires {end} is {relation} {self.START} {start}, so the entry "
                f"would never be in force; set expires to the first day it no "
                f"longer counts"
            )
        return self


class Answer(_Entry):
    """A reviewer's result for a manual rule or requirement on the hosts that match."""

    status: Literal["NotAFinding", "Open", "Not_Applicable"]
    explanation: Text
    reviewer: Text
    date: IsoDate
    evidence: Text

    START: ClassVar[str] = "date"


class Waiver(_Entry):
    """An accepted open finding (rule, requirement or port row): who approved
    it, under which ticket, how long."""

    justification: Text
    approver: Text
    ticket: Text
    granted: IsoDate

    START: ClassVar[str] = "granted"


E = TypeVar("E", bound=_Entry)


@dataclass(frozen=True)
class Match(Generic[E]):
    """The entry that applies to a host, where it sits and which pattern hit."""

    index: int
    entry: E
    pattern: str


def _specificity(pattern: str, host: str) -> tuple[int, int] | None:
    """How closely a pattern names a host (higher is closer), None if not at all."""
    pattern, host = pattern.lower(), host.lower()
    if not _WILDCARDS.search(pattern):
        return (2, len(pattern)) if pattern == host else None
    if not fnmatch.fnmatchcase(host, pattern):
        return None
    if pattern == "*":
        return (0, 0)
    return (1, len(_WILDCARDS.sub("", pattern)))


@dataclass(frozen=True)
class _Book(Generic[E]):
    path: Path
    entries: tuple[E, ...] = ()

    def find(self, rule: str, host: str) -> Match[E] | None:
        """The most specific entry for this rule and host (see the module doc)."""
        best: tuple[tuple[int, int], int, str] | None = None
        for index, entry in enumerate(self.entries):
            if entry.rule != rule:
                continue
            for pattern in entry.hosts:
                rank = _specificity(pattern, host)
                # Strictly greater: on a tie the earlier entry keeps its place.
                if rank is not None and (best is None or rank > best[0]):
                    best = (rank, index, pattern)
        if best is None:
            return None
        return Match(best[1], self.entries[best[1]], best[2])


class AnswerBook(_Book[Answer]):
    """The answers of one file, in file order."""


class WaiverBook(_Book[Waiver]):
    """The waivers of one file, in file order."""


def load_answers(
    path: Path,
    rules: Iterable[catalog.Rule] | None = None,
    hosts: Iterable[str] | None = None,
    requirements: Iterable[catalog.Requirement] | None = None,
    ports: Iterable[catalog.PortRow] | None = None,
) -> AnswerBook:
    """Read an answers file; every entry must name a manual rule or a manual
    requirement of the catalog.

    With ``hosts`` (every host of the inventory), each host pattern must
    match one of them; given as a mapping of host to roles, the hosts an
    entry matches must include one its rule, row or requirement applies to.
    ``rules``, ``requirements`` and ``ports`` default to the packaged
    catalog's.
    """
    known = _Known.of(rules, requirements, ports)
    return AnswerBook(path, _load(path, "answers", Answer, known, hosts))


def load_waivers(
    path: Path,
    rules: Iterable[catalog.Rule] | None = None,
    hosts: Iterable[str] | None = None,
    requirements: Iterable[catalog.Requirement] | None = None,
    ports: Iterable[catalog.PortRow] | None = None,
) -> WaiverBook:
    """Read a waivers file; every entry must name a rule, a requirement or a
    port row of the catalog.

    With ``hosts`` (every host of the inventory), each host pattern must
    match one of them; given as a mapping of host to roles, the hosts an
    entry matches must include one its rule, row or requirement applies to.
    ``rules``, ``requirements`` and ``ports`` default to the packaged
    catalog's.
    """
    known = _Known.of(rules, requirements, ports)
    return WaiverBook(path, _load(path, "waivers", Waiver, known, hosts))


Judged = catalog.Rule | catalog.Requirement | catalog.PortRow


def _id_of(entry: Judged) -> str:
    return entry.vuln_id if isinstance(entry, catalog.Rule) else entry.id


def _is_manual(entry: Judged) -> bool:
    """Whether a reviewer's answer may decide it: nothing on the host can."""
    if isinstance(entry, catalog.Rule):
        return entry.manual
    if isinstance(entry, catalog.Requirement):
        return entry.check == catalog.MANUAL
    return False


def _record_text(entry: Judged) -> str:
    """What the reviewer should have written down, for the evidence."""
    if isinstance(entry, catalog.Rule):
        return (entry.record or "the reviewer's result").strip()
    if isinstance(entry, catalog.Requirement):
        return "the reviewer's result for: " + " ".join(entry.statement.split())
    return "the reviewer's result"


@dataclass(frozen=True)
class _Known:
    """The catalog IDs an entry may name, by kind, in catalog order."""

    rules: dict[str, catalog.Rule]
    requirements: dict[str, catalog.Requirement]
    ports: dict[str, catalog.PortRow]

    @classmethod
    def of(
        cls,
        rules: Iterable[catalog.Rule] | None,
        requirements: Iterable[catalog.Requirement] | None,
        ports: Iterable[catalog.PortRow] | None,
    ) -> _Known:
        return cls(
            {r.vuln_id: r for r in (catalog.load_rules() if rules is None else rules)},
            {
                q.id: q
                for q in (
                    catalog.load_requirements()
                    if requirements is None
                    else requirements
                )
            },
            {p.id: p for p in (catalog.load_ports() if ports is None else ports)},
        )

    def get(self, ident: str) -> Judged | None:
        return (
            self.rules.get(ident)
            or self.requirements.get(ident)
            or self.ports.get(ident)
        )

    def unknown(self, ident: str) -> str:
        """Why an ID of the right form names nothing, and what to write."""
        if ident.startswith("V-"):
            return (
                f"{ident} is not a rule of the catalog; check the Vuln ID against "
                f"the STIG (V-nnnnnn)"
            )
        if re.fullmatch(_ID_FORMS["requirement"], ident):
            return (
                f"{ident} is not a requirement of the catalog; "
                f"{did_you_mean(ident, self.requirements, 'requirements')}"
            )
        return (
            f"{ident} is not a port row of the catalog; "
            f"{did_you_mean(ident, self.ports, 'port rows')}"
        )


def _load(
    path: Path,
    key: str,
    model: type[E],
    known: _Known,
    hosts: Iterable[str] | None,
) -> tuple[E, ...]:
    """The entries of the file; every problem in it is in the one error, a line each."""
    names = None if hosts is None else list(hosts)
    problems: list[str] = []
    entries: list[tuple[int, E]] = []
    for index, raw in enumerate(_read(path, key)):
        label = _label(path, key, index, raw)
        if not isinstance(raw, dict):
            problems.append(
                f"{label}: expected a mapping with the keys "
                f"{', '.join(model.model_fields)}"
            )
            continue
        try:
            entry = model.model_validate(raw)
        except ValidationError as exc:
            problems += (f"{label}: {text}" for text in _explain(exc))
            continue
        judged = known.get(entry.rule)
        if judged is None:
            problems.append(f"{label}: key rule: {known.unknown(entry.rule)}")
            continue
        if model is Answer and not _is_manual(judged):
            what = "port-table row " if isinstance(judged, catalog.PortRow) else ""
            problems.append(
                f"{label}: key rule: {what}{entry.rule} is checked automatically "
                f"(check {judged.check}), so an answer cannot decide it; remove the "
                f"entry, or record an accepted open finding in a waivers file"
            )
            continue
        if names is not None:
            unmatched = _unmatched(label, entry, names)
            problems += unmatched
            if not unmatched and isinstance(hosts, Mapping):
                problems += _not_applicable(label, entry, judged, hosts)
        entries.append((index, entry))
    problems += _repeated_patterns(path, key, entries)
    if problems:
        raise AnswersError("\n".join(problems))
    return tuple(entry for _, entry in entries)


def _read(path: Path, key: str) -> list[Any]:
    other = "waivers" if key == "answers" else "answers"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AnswersError(
            f"{path}: no such {key} file; create it (docs/answers.md shows the "
            f"format) or fix the path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise AnswersError(f"{path}: cannot be read ({reason})") from None
    try:
        doc = yamlfile.parse(text)
    except yamlfile.DuplicateKeyError as exc:
        raise AnswersError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise AnswersError(
            f"{path}:{where} not valid YAML ({problem}); fix the syntax"
        ) from None
    if doc is None:
        raise AnswersError(
            f"{path}: the file is empty; it needs a list under '{key}:' "
            f"(write '{key}: []' for none)"
        )
    if not isinstance(doc, dict) or key not in doc:
        hint = (
            f" (it has '{other}:', so it looks like a {other} file)"
            if isinstance(doc, dict) and other in doc
            else ""
        )
        raise AnswersError(
            f"{path}: expected a mapping with a list under '{key}:'{hint}"
        )
    unknown = sorted(str(k) for k in doc if k not in (key, "description"))
    if unknown:
        article = "an" if key == "answers" else "a"
        raise AnswersError(
            f"{path}: unknown top-level key {unknown[0]!r}; {article} {key} file holds "
            f"'{key}:' and, optionally, 'description:'"
        )
    entries = doc[key]
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise AnswersError(
            f"{path}: key {key}: expected a list of entries, each starting '- rule:'"
        )
    return entries


def _label(path: Path, key: str, index: int, raw: Any) -> str:
    rule = raw.get("rule") if isinstance(raw, dict) else None
    return f"{path}: {key}[{index}]" + (f" ({rule})" if rule else "")


def _explain(exc: ValidationError) -> list[str]:
    """The problems of an entry, in the words a YAML author needs."""
    texts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        kind = error["type"]
        if kind == "missing":
            texts.append(f"key {where}: missing; add it")
        elif kind == "extra_forbidden":
            texts.append(f"key {where}: not a known key; check its spelling")
        else:
            message = error["msg"].removeprefix("Value error, ")
            shown = error.get("input")
            if kind != "value_error" and isinstance(shown, str | int | float):
                message += f" (got {shown!r})"
            texts.append(f"key {where}: {message}" if where else message)
    return texts


def _unmatched(label: str, entry: _Entry, hosts: list[str]) -> list[str]:
    # A misspelt host name would leave the entry unused on the host it was
    # meant for, with nothing saying why.
    return [
        f"{label}: key hosts: {pattern!r} matches no host of the inventory; "
        f"{did_you_mean(pattern, hosts, 'hosts')}; fix the name or remove it"
        for pattern in entry.hosts
        if all(_specificity(pattern, host) is None for host in hosts)
    ]


def _not_applicable(
    label: str,
    entry: _Entry,
    judged: Judged,
    roles: Mapping[str, Sequence[str]],
) -> list[str]:
    # An entry for hosts the rule never runs on would be loaded and then
    # never shown anywhere.
    wanted = (
        judged.target_roles if isinstance(judged, catalog.PortRow) else judged.roles
    )
    matched = [
        host
        for host in roles
        if any(_specificity(pattern, host) is not None for pattern in entry.hosts)
    ]
    if any(set(roles[host]) & set(wanted) for host in matched):
        return []
    return [
        f"{label}: {entry.rule} applies to hosts with the role "
        f"{' or '.join(wanted)}, and none of {', '.join(matched)} has it, so the "
        "entry would never be used; fix its hosts or remove it"
    ]


def _repeated_patterns(path: Path, key: str, entries: list[tuple[int, E]]) -> list[str]:
    # Two entries naming the same rule with the same pattern would tie on
    # every host: which one counts would depend on their order alone.
    seen: dict[tuple[str, str], int] = {}
    problems = []
    for index, entry in entries:
        for pattern in entry.hosts:
            slot = (entry.rule, pattern.lower())
            if slot in seen:
                problems.append(
                    f"{path}: {key}[{index}] ({entry.rule}): key hosts: "
                    f"{pattern!r} is already used for {entry.rule} by "
                    f"{key}[{seen[slot]}]; keep one entry per rule and host pattern"
                )
            else:
                seen[slot] = index
    return problems


@dataclass(frozen=True)
class Applied:
    """A verdict after answers and waivers, with the records for the comments."""

    verdict: Verdict
    answer: dict[str, str] | None = None
    waiver: dict[str, str] | None = None


def apply(
    rule: Judged,
    host_name: str,
    verdict: Verdict,
    answers: AnswerBook | None,
    waivers: WaiverBook | None,
    today: date,
) -> Applied:
    """Fold the matching answer and waiver into a verdict on one host.

    ``rule`` is what was judged: a STIG rule, an overview requirement or a
    port-table row of the catalog.
    """
    if verdict.status is Status.ERROR:
        return Applied(verdict)
    ident = _id_of(rule)
    answer = None
    # An answer decides what nothing else decided: a manual rule whose own
    # comparison (V-225096 with its input) judged the host keeps that verdict.
    found = answers.find(ident, host_name) if answers is not None else None
    if found is not None and answers is not None:
        if _is_manual(rule) and verdict.status is Status.NOT_REVIEWED:
            verdict, answer = _answered(rule, verdict, found, answers.path, today)
        else:
            verdict = _set_aside(verdict, found, answers.path)
    waiver = None
    if waivers is not None:
        found_waiver = waivers.find(ident, host_name)
        if found_waiver is not None:
            verdict, waiver = _waived(verdict, found_waiver, waivers.path, today)
    return Applied(verdict, answer, waiver)


def _answered(
    rule: Judged,
    verdict: Verdict,
    found: Match[Answer],
    path: Path,
    today: date,
) -> tuple[Verdict, dict[str, str]]:
    a = found.entry
    state = a.state(today)
    record = {
        "rule": a.rule,
        "hosts": ", ".join(a.hosts),
        "matched": found.pattern,
        "status": a.status,
        "explanation": a.explanation,
        "reviewer": a.reviewer,
        "date": a.date.isoformat(),
        "expires": a.expires.isoformat(),
        "evidence": a.evidence,
        "file": path.name,
        "entry": f"answers[{found.index}]",
        "state": state,
    }
    source = f"{path.name} answers[{found.index}]; evidence: {a.evidence}"
    if state == EXPIRED:
        # The old answer stays visible, but as context: it no longer decides.
        stale = Evidence(
            item="reviewer answer",
            observed=f"{a.status} by {a.reviewer} on {a.date}, expired on {a.expires}",
            expected="an answer that has not expired",
            source=source,
        )
        summary = (
            f"Answer by {a.reviewer} expired on {a.expires}; review the rule again "
            f"and renew the entry in {path.name}. {verdict.summary}"
        )
        return Verdict(Status.NOT_REVIEWED, summary, (stale,)), record
    if state == NOT_YET:
        early = Evidence(
            item="reviewer answer",
            observed=(
                f"{a.status} by {a.reviewer} dated {a.date}, not in force until then"
            ),
            expected=f"an answer dated on or before the day of the run ({today})",
            source=source,
        )
        summary = (
            f"Answer by {a.reviewer} is dated {a.date}, after the day of the run, "
            f"so it does not decide the rule yet; correct the date in {path.name} "
            f"if the review has taken place. {verdict.summary}"
        )
        return Verdict(Status.NOT_REVIEWED, summary, (early,)), record
    decided = Evidence(
        item="reviewer answer",
        observed=f"{a.status}: {a.explanation}",
        expected=_record_text(rule),
        source=source,
        ok=_EVIDENCE_OK[a.status],
    )
    summary = (
        f"Decided by a reviewer's answer: {a.status}, given by {a.reviewer} on "
        f"{a.date}, expires on {a.expires}. {a.explanation}"
    )
    return Verdict(ANSWER_STATUS[a.status], summary, (decided,)), record


def _set_aside(verdict: Verdict, found: Match[Answer], path: Path) -> Verdict:
    """The check decided, so the answer only shows that it exists."""
    a = found.entry
    note = Evidence(
        item="reviewer answer (not used)",
        observed=f"{a.status} by {a.reviewer} on {a.date} ({a.evidence})",
        expected="an answer decides only a rule that no check decided",
        source=f"{path.name} answers[{found.index}]",
    )
    return replace(verdict, evidence=(*verdict.evidence, note))


def _waived(
    verdict: Verdict, found: Match[Waiver], path: Path, today: date
) -> tuple[Verdict, dict[str, str]]:
    w = found.entry
    state = w.state(today)
    record = {
        "rule": w.rule,
        "hosts": ", ".join(w.hosts),
        "matched": found.pattern,
        "justification": w.justification,
        "approver": w.approver,
        "ticket": w.ticket,
        "granted": w.granted.isoformat(),
        "expires": w.expires.isoformat(),
        "file": path.name,
        "entry": f"waivers[{found.index}]",
        "state": state,
    }
    if verdict.status is not Status.FAIL:
        # Nothing is open, so there is nothing to waive; keeping the record
        # shows the reviewer a waiver that may be ready to retire.
        record["unused"] = "true"
        return verdict, record
    if state == VALID:
        note = (
            f"Waiver {w.ticket} approved by {w.approver} accepts this open finding "
            f"until it expires on {w.expires}; the finding stays open."
        )
    elif state == NOT_YET:
        note = (
            f"Waiver {w.ticket} approved by {w.approver} is granted on {w.granted}, "
            f"not in force until then; the finding is open and not waived."
        )
    else:
        note = (
            f"Waiver {w.ticket} approved by {w.approver} expired on {w.expires}; "
            f"the finding is open and no longer waived."
        )
    summary = verdict.summary.rstrip()
    if not summary.endswith((".", "!", "?")):
        summary += "."
    return Verdict(Status.FAIL, f"{summary} {note}", verdict.evidence), record
