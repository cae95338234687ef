"""What an export says about each rule on each host, decided once for all formats.

CKL, CKLB and HDF spell the same facts three ways. This module settles those
facts: the benchmark header, each rule's identifiers and text (the catalog's
identifiers, the official wording when the user supplied the XCCDF), the
status of a rule on a host, the finding details with their evidence hash, and
the reviewer comments. The format modules only lay the facts out.

Every text leaves through :func:`clean`: secrets masked, line ends made
uniform, and characters that XML 1.0 cannot carry replaced, so the CKL and the
CKLB of one host hold exactly the same text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sphere_stig import __version__, catalog, redact
from sphere_stig.answers import NOT_YET
from sphere_stig.official import OfficialBenchmark, OfficialRule
from sphere_stig.outcome import CKL_STATUS, CKLB_STATUS, Status
from sphere_stig.results import Result

log = logging.getLogger(__name__)

TOOL = "sphere-stig"
NOT_RUN = "not run in this session (deselected or interrupted)"
# STIG Manager truncates longer texts, and 32,767 is Excel's cell limit.
TEXT_LIMIT = 32_767
SEPARATOR = "~" * 5
BENCHMARK_PREFIX = "xccdf_mil.disa.stig_benchmark_"

# A fixed namespace, so a host's checklist and rule UUIDs are the same on
# every run: STIG Viewer and STIG Manager then see one checklist, updated.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:sphere-stig:checklist")

# XML 1.0 allows tab, newline and carriage return below U+0020, no
# surrogates, and neither U+FFFE nor U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_RELEASE = re.compile(r"Release:\s*(\S+)\s")

_STATUS_WORDS = {
    Status.PASS: "NOT A FINDING",
    Status.FAIL: "OPEN",
    Status.NOT_APPLICABLE: "NOT APPLICABLE",
    Status.NOT_REVIEWED: "NOT REVIEWED",
}

# Answer and waiver files name their fields in their own way; these are the
# labels a reader sees, in this order, with the spellings each one accepts.
_ANSWER_FIELDS = (
    ("Status", ("status", "result")),
    ("Explanation", ("explanation", "comment", "comments", "reason")),
    ("Reviewer", ("reviewer", "reviewed_by", "by")),
    ("Reviewed on", ("date", "reviewed", "reviewed_on")),
    ("Expires", ("expires", "expiry", "expiration", "expires_on")),
    ("State", ("state",)),
    ("Evidence", ("evidence", "evidence_ref", "reference")),
)
_WAIVER_FIELDS = (
    ("Justification", ("justification", "reason")),
    ("Approver", ("approver", "approved_by")),
    ("Ticket", ("ticket", "poam", "poam_id", "reference")),
    ("Granted", ("granted",)),
    ("Expires", ("expires", "expiry", "expiration", "expires_on")),
    ("State", ("state",)),
)


@dataclass(frozen=True)
class BenchmarkInfo:
    """The STIG header every format repeats: identity, revision, title."""

    id: str
    title: str
    version: str
    release: str
    release_info: str
    filename: str
    description: str = ""
    classification: str = "UNCLASSIFIED"

    @property
    def version_release(self) -> str:
        return f"V{self.version}R{self.release}"

    @property
    def file_stem(self) -> str:
        """``ISEC7_Sphere_V3R1``: the part of a file name after the host."""
        return f"{self.id}_{self.version_release}"

    @property
    def stig_ref(self) -> str:
        """The CKL ``STIGRef`` line, from which STIG Viewer shows the STIG name."""
        return f"{self.title} :: Version {self.version}, {self.release_info}"

    @property
    def display_name(self) -> str:
        return self.title.removesuffix(" Security Technical Implementation Guide")


@dataclass(frozen=True)
class RuleText:
    """One rule's identifiers (always the catalog's) and its text."""

    vuln_id: str
    rule_id: str
    stig_id: str
    severity: str
    srg: str
    ccis: tuple[str, ...]
    legacy_ids: tuple[str, ...]
    title: str
    discussion: str
    check_content: str
    fix_text: str
    check_content_ref: str = "M"
    official: bool = False

    @property
    def rule_id_short(self) -> str:
        """The CKLB ``rule_id``: the rule ID without its ``_rule`` suffix."""
        return self.rule_id.removesuffix("_rule")


@dataclass(frozen=True)
class RuleEntry:
    """One rule on one host, ready to be written in any format."""

    rule: RuleText
    status: Status
    finding_details: str
    comments: str
    result: Result | None

    @property
    def ckl_status(self) -> str:
        return CKL_STATUS[self.status]

    @property
    def cklb_status(self) -> str:
        return CKLB_STATUS[self.status]

    @property
    def reason(self) -> str:
        """Why the rule has its status, in one line (the result's summary)."""
        if self.result is None:
            return f"Not reviewed: {NOT_RUN}"
        return clean(self.result.summary)


def clean(text: str | None) -> str:
    """Text as every export writes it: scrubbed, LF line ends, XML 1.0 safe.

    Control characters become their visible Unicode pictures (BEL becomes
    U+2407), so an auditor still sees that something was there; surrogates and
    the two non-characters become U+FFFD.
    """
    if not text:
        return ""
    text = redact.scrub(str(text)).replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


def text_length(text: str) -> int:
    """Length in UTF-16 code units, the way STIG Manager and Excel count."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """Text cut to ``limit`` characters, with a marker saying it was cut.

    The cut happens on the plain text, before any escaping, so it can never
    fall inside an entity or a JSON escape; it falls at a line end when one
    is near.
    """
    total = text_length(text)
    if total <= limit:
        return text
    marker = (
        f"\n[TRUNCATED by {TOOL}: the text has {total:,} characters; "
        "the full text is in results.json]"
    )
    budget = limit - text_length(marker)
    kept, used = [], 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > budget:
            break
        kept.append(char)
        used += size
    head = "".join(kept)
    line_end = head.rfind("\n")
    if 0 < line_end and line_end > len(head) - 200:
        head = head[:line_end]
    return head + marker


def stable_uuid(*parts: str) -> str:
    """A UUID derived from its parts: the same host and STIG give the same one."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def benchmark_info(official: OfficialBenchmark | None = None) -> BenchmarkInfo:
    """The catalog's benchmark header, or the supplied XCCDF's when given."""
    own = catalog.BENCHMARK
    if official is None:
        return BenchmarkInfo(
            id=own.id,
            title=own.title,
            version=str(own.version),
            release=str(own.release),
            release_info=own.release_info,
            filename=own.filename,
        )
    match = _RELEASE.search(official.release_info + " ")
    info = BenchmarkInfo(
        id=official.id.removeprefix(BENCHMARK_PREFIX),
        title=clean(official.title),
        version=str(official.version),
        release=match.group(1) if match else str(own.release),
        release_info=clean(official.release_info),
        filename=official.filename,
        description=clean(official.description),
    )
    if (info.id, info.version_release) != (own.id, own.version_release):
        # Rule identifiers still come from the catalog, so the validator's
        # rule-set check (C13) will point at every rule that moved.
        log.warning(
            "the XCCDF is %s %s but the catalog holds %s %s; rule identifiers "
            "come from the catalog",
            info.id,
            info.version_release,
            own.id,
            own.version_release,
        )
    return info


def rule_texts(official: OfficialBenchmark | None = None) -> tuple[RuleText, ...]:
    """Every catalog rule, in benchmark order, with the best text available."""
    texts = []
    for rule in catalog.load_rules():
        found = _official_rule(official, rule.vuln_id) if official else None
        if official is not None and found is None:
            log.warning(
                "%s is not in the supplied XCCDF; using catalog text", rule.vuln_id
            )
        texts.append(_rule_text(rule, found))
    return tuple(texts)


def _official_rule(official: OfficialBenchmark, vuln_id: str) -> OfficialRule | None:
    if vuln_id in official.rules:
        return official.rules[vuln_id]
    return next((r for r in official.rules.values() if r.vuln_id == vuln_id), None)


def _rule_text(rule: catalog.Rule, official: OfficialRule | None) -> RuleText:
    if official is None:
        # Our own words only: the title and the manual procedure. DISA's
        # discussion and fix text arrive only with --stig-xccdf.
        title, discussion = clean(rule.title), ""
        check, fix, ref = clean(rule.procedure.strip()), "", "M"
    else:
        title = clean(official.title) or clean(rule.title)
        discussion = clean(official.discussion)
        check, fix = clean(official.check_content), clean(official.fix_text)
        ref = official.check_content_ref or "M"
    return RuleText(
        vuln_id=rule.vuln_id,
        rule_id=rule.rule_id,
        stig_id=rule.stig_id,
        severity=rule.severity,
        srg=rule.srg,
        ccis=tuple(rule.ccis),
        legacy_ids=tuple(rule.legacy_ids),
        title=title,
        discussion=discussion,
        check_content=check,
        fix_text=fix,
        check_content_ref=ref,
        official=official is not None,
    )


def stig_results(results: Iterable[Result], host: str) -> dict[str, Result]:
    """The host's STIG results by V-ID; a later result for a rule wins."""
    chosen: dict[str, Result] = {}
    for result in results:
        if result.kind == "stig" and result.host == host:
            chosen[result.id] = result
    return chosen


def entries_for_host(
    host: str,
    results: Iterable[Result],
    official: OfficialBenchmark | None,
    generated: dt.datetime,
) -> list[RuleEntry]:
    """One entry per catalog rule; a rule with no result is not reviewed."""
    by_id = stig_results(results, host)
    texts = rule_texts(official)
    unknown = sorted(set(by_id) - {t.vuln_id for t in texts})
    if unknown:
        log.warning(
            "%s: results for rules not in the catalog ignored: %s", host, unknown
        )
    entries = []
    for text in texts:
        result = by_id.get(text.vuln_id)
        entries.append(
            RuleEntry(
                rule=text,
                status=result.status if result else Status.NOT_REVIEWED,
                finding_details=finding_details(result, host, generated),
                comments=comments(result),
                result=result,
            )
        )
    return entries


def stamp_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def evidence_body(result: Result | None) -> str:
    """The evidence itself: what the hash covers and what a diff compares."""
    if result is None:
        return f"Not reviewed: {NOT_RUN}"
    if result.status is Status.ERROR:
        lines = [
            f"ERROR: {result.summary}",
            "The rule was not evaluated: the facts could not be collected or "
            "judged, so it stays Not_Reviewed (never Open, never NotAFinding) "
            "until a run can judge it.",
        ]
        lines.extend(e.line() for e in result.evidence)
        return clean("\n".join(lines))
    return clean(result.details())


def evidence_hash(body: str) -> str:
    return hashlib.sha1(body.encode("utf-8")).hexdigest()


def finding_details(result: Result | None, host: str, generated: dt.datetime) -> str:
    """Header (tool, host, time), ``ResultHash:``, separator, then the evidence.

    The hash is over the full evidence before any truncation, so an answer
    pinned to it stops applying as soon as the evidence changes.
    """
    body = evidence_body(result)
    when = stamp_time(generated)
    if result is None:
        verdict = f"did not evaluate this rule on {host} ({when})"
    elif result.status is Status.ERROR:
        verdict = f"could not evaluate this rule on {host} ({when})"
    else:
        verdict = f"found this to be {_STATUS_WORDS[result.status]} on {host} ({when})"
    header = [f"{TOOL} {__version__} {verdict}", f"ResultHash: {evidence_hash(body)}"]
    if result is not None and result.nodeid:
        header.insert(1, f"Test: {clean(result.nodeid)}")
    return clip("\n".join([*header, SEPARATOR, body]))


def comments(result: Result | None) -> str:
    """The reviewer's answer and the waiver, as readable ``Label: value`` lines."""
    if result is None:
        return ""
    sections = []
    if result.answer:
        sections.append(
            _section(_answer_heading(result.answer), result.answer, _ANSWER_FIELDS)
        )
    if result.waiver:
        sections.append(
            _section(_waiver_heading(result.waiver), result.waiver, _WAIVER_FIELDS)
        )
    return clip(clean("\n\n".join(sections)))


def _answer_heading(answer: Mapping[str, str]) -> str:
    state = str(answer.get("state", "")).lower()
    if state == "expired":
        return "Reviewer answer (expired): it no longer decides this rule"
    if state == NOT_YET:
        return "Reviewer answer (not yet in force): it is dated after this run"
    return "Reviewer answer (manual rule)"


def _waiver_heading(waiver: Mapping[str, str]) -> str:
    state = str(waiver.get("state", "")).lower()
    if str(waiver.get("unused", "")).lower() == "true":
        return f"Waiver ({state or 'recorded'}): not needed, nothing is open"
    if state == "valid":
        return (
            "Waiver (valid): the finding stays Open; the waiver records an "
            "accepted risk until it expires"
        )
    if state == "expired":
        return "Waiver (expired): it no longer covers this finding"
    if state == NOT_YET:
        return "Waiver (not yet in force): granted for a day after this run"
    return "Waiver"


def _section(
    heading: str,
    record: Mapping[str, object],
    fields: Sequence[tuple[str, tuple[str, ...]]],
) -> str:
    lines = [heading]
    used: set[str] = set()
    for label, keys in fields:
        key = next((k for k in keys if k in record and k not in used), None)
        if key is None:
            continue
        used.add(key)
        lines.append(_labelled(label, record[key]))
    for key in sorted(set(record) - used):
        lines.append(_labelled(key.replace("_", " ").capitalize(), record[key]))
    return "\n".join(lines)


def _labelled(label: str, value: object) -> str:
    text = "" if value is None else str(value)
    # Continuation lines are indented so a reader sees where a value ends.
    return f"{label}: " + text.strip().replace("\n", "\n  ")
