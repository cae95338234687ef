"""What changed between two runs: new findings, fixed ones, and the rest.

Results are matched on (host, kind, id), so STIG rules and port-table rows
are both compared. Per host the diff lists:

* new findings: the result is Open (fail) now and was not before, including
  a rule that was not run before and a host that was not in the old run,
  and an Open finding whose waiver covered it before and does not now;
* fixed findings: Open before, NotAFinding (pass) now;
* other status changes: any other change of status (an Open finding that is
  now an error is not fixed: it was not judged);
* changed evidence: the same status, but a different summary or different
  evidence lines (shown as lines removed and added);
* rules added or removed: results only in the new or only in the old run.

Hosts only in the old run are listed by name. Run it on two run folders (or
their ``results.json``)::

    python -m sphere_stig.exporters.compare OLD_RUN NEW_RUN [--markdown] [--fail-on-new]

It exits 0, or 1 with ``--fail-on-new`` when there is a new finding, and 2
when a run cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sphere_stig import redact
from sphere_stig.outcome import CKL_STATUS, Status
from sphere_stig.results import Result, read_json

Run = tuple[Mapping[str, Any], Sequence[Result]]


@dataclass(frozen=True)
class Change:
    """One rule (or port row) on one host, before and after."""

    host: str
    kind: str
    id: str
    title: str
    old: Status | None
    new: Status | None
    waived: bool = False
    # Open in both runs, waived before and not now: it counts again.
    waiver_lapsed: bool = False
    removed_lines: tuple[str, ...] = ()
    added_lines: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.id} {self.title}".strip()

    @property
    def transition(self) -> str:
        return f"{status_label(self.old)} -> {status_label(self.new)}"


@dataclass(frozen=True)
class HostDiff:
    host: str
    new_findings: tuple[Change, ...] = ()
    fixed: tuple[Change, ...] = ()
    status_changes: tuple[Change, ...] = ()
    evidence_changes: tuple[Change, ...] = ()
    added: tuple[Change, ...] = ()
    removed: tuple[Change, ...] = ()
    new_host: bool = False

    @property
    def changed(self) -> bool:
        return any(
            (
                self.new_findings,
                self.fixed,
                self.status_changes,
                self.evidence_changes,
                self.added,
                self.removed,
            )
        )


@dataclass(frozen=True)
class RunDiff:
    old_label: str
    new_label: str
    hosts: tuple[HostDiff, ...]
    hosts_added: tuple[str, ...]
    hosts_removed: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def new_findings(self) -> tuple[Change, ...]:
        return tuple(c for h in self.hosts for c in h.new_findings)

    @property
    def fixed(self) -> tuple[Change, ...]:
        return tuple(c for h in self.hosts for c in h.fixed)

    def counts(self) -> dict[str, int]:
        return {
            "new findings": len(self.new_findings),
            "fixed": len(self.fixed),
            "other status changes": sum(len(h.status_changes) for h in self.hosts),
            "evidence changes": sum(len(h.evidence_changes) for h in self.hosts),
            "added": sum(len(h.added) for h in self.hosts),
            "removed": sum(len(h.removed) for h in self.hosts),
        }


def status_label(status: Status | None) -> str:
    """The checklist status, with errors kept apart from plain not-reviewed."""
    if status is None:
        return "not run"
    if status is Status.ERROR:
        return "error (Not_Reviewed)"
    return CKL_STATUS[status]


def compare(old: Run, new: Run) -> RunDiff:
    """The differences from the ``old`` run to the ``new`` one."""
    old_meta, old_results = old
    new_meta, new_results = new
    before, after = _index(old_results), _index(new_results)
    old_hosts = _hosts(old_meta, before)
    new_hosts = _hosts(new_meta, after)
    hosts = []
    for host in new_hosts:
        diff = _host_diff(host, before.get(host, {}), after.get(host, {}))
        if host not in old_hosts:
            diff = replace(diff, new_host=True)
        hosts.append(diff)
    return RunDiff(
        old_label=_label(old_meta),
        new_label=_label(new_meta),
        hosts=tuple(hosts),
        hosts_added=tuple(h for h in new_hosts if h not in old_hosts),
        hosts_removed=tuple(h for h in old_hosts if h not in new_hosts),
        notes=_notes(old_meta, new_meta),
    )


def _index(results: Iterable[Result]) -> dict[str, dict[tuple[str, str], Result]]:
    """Results by host, then by (kind, id); a later result replaces an earlier."""
    index: dict[str, dict[tuple[str, str], Result]] = {}
    for result in results:
        index.setdefault(result.host, {})[(result.kind, result.id)] = result
    return index


def _hosts(meta: Mapping[str, Any], index: Mapping[str, Any]) -> list[str]:
    # Hosts the run covered but that have no results still count as present.
    return list(dict.fromkeys([*meta.get("hosts", ()), *index]))


def _label(meta: Mapping[str, Any]) -> str:
    parts = [str(meta[key]) for key in ("inventory", "started") if meta.get(key)]
    return " ".join(parts) or "(no run facts)"


def _notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    notes = []
    revisions = [_revision(m) for m in (old, new)]
    if revisions[0] != revisions[1] and all(revisions):
        notes.append(
            f"benchmark revision changed from {revisions[0]} to {revisions[1]}; "
            "rule IDs may have changed with it"
        )
    for label, meta in (("old", old), ("new", new)):
        if meta.get("interrupted"):
            notes.append(
                f"the {label} run was interrupted: it holds only part of its "
                "results, so rules it lacks are not fixed or removed"
            )
        if meta.get("limit"):
            notes.append(f"the {label} run was limited to {meta['limit']}")
    if old.get("inventory") and new.get("inventory") != old.get("inventory"):
        notes.append(
            f"the runs used different inventories ({old.get('inventory')} and "
            f"{new.get('inventory')})"
        )
    return tuple(notes)


def _revision(meta: Mapping[str, Any]) -> str:
    benchmark = meta.get("benchmark") or {}
    if not benchmark.get("id"):
        return ""
    return f"{benchmark['id']} V{benchmark.get('version')}R{benchmark.get('release')}"


def _host_diff(
    host: str,
    before: Mapping[tuple[str, str], Result],
    after: Mapping[tuple[str, str], Result],
) -> HostDiff:
    new_findings, fixed, changes, evidence, added, removed = [], [], [], [], [], []
    for key, now in after.items():
        then = before.get(key)
        old_status = then.status if then else None
        lapsed = bool(then and then.waived and not now.waived)
        if now.status is Status.FAIL and (old_status is not Status.FAIL or lapsed):
            new_findings.append(_change(then, now))
        elif then is None:
            added.append(_change(None, now))
        elif old_status is Status.FAIL and now.status is Status.PASS:
            fixed.append(_change(then, now))
        elif old_status is not now.status:
            changes.append(_change(then, now))
        elif _lines(then) != _lines(now):
            evidence.append(_change(then, now, with_lines=True))
    for key, then in before.items():
        if key not in after:
            removed.append(_change(then, None))
    return HostDiff(
        host=host,
        new_findings=tuple(new_findings),
        fixed=tuple(fixed),
        status_changes=tuple(changes),
        evidence_changes=tuple(evidence),
        added=tuple(added),
        removed=tuple(removed),
    )


def _lines(result: Result) -> list[str]:
    return result.details().splitlines()


def _change(
    then: Result | None, now: Result | None, *, with_lines: bool = False
) -> Change:
    either = now or then
    assert either is not None
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    if with_lines and then is not None and now is not None:
        old_lines, new_lines = _lines(then), _lines(now)
        removed = tuple(line for line in old_lines if line not in new_lines)
        added = tuple(line for line in new_lines if line not in old_lines)
    return Change(
        host=either.host,
        kind=either.kind,
        id=either.id,
        title=either.title,
        old=then.status if then else None,
        new=now.status if now else None,
        waived=bool(now and now.waived),
        waiver_lapsed=bool(then and now and then.waived and not now.waived),
        removed_lines=removed,
        added_lines=added,
    )


# --- Rendering ----------------------------------------------------------------

_SECTIONS = (
    ("new_findings", "New findings"),
    ("fixed", "Fixed findings"),
    ("status_changes", "Other status changes"),
    ("evidence_changes", "Changed evidence"),
    ("added", "Added (not run before)"),
    ("removed", "Removed (not run now)"),
)


def _summary(diff: RunDiff) -> str:
    counts = ", ".join(f"{n} {what}" for what, n in diff.counts().items())
    hosts = f"{len(diff.hosts_added)} host(s) added, {len(diff.hosts_removed)} removed"
    return f"{counts}; {hosts}"


def _describe(change: Change) -> str:
    return f"{change.label}: {change.transition}{_waiver_note(change)}"


def _waiver_note(change: Change) -> str:
    if change.waived:
        return " (waived)"
    if change.waiver_lapsed:
        return " (no longer waived)"
    return ""


def render_text(diff: RunDiff) -> str:
    lines = [f"Compared {diff.old_label} -> {diff.new_label}"]
    lines.extend(f"Note: {note}" for note in diff.notes)
    if diff.hosts_added:
        lines.append(f"Hosts added: {', '.join(diff.hosts_added)}")
    if diff.hosts_removed:
        lines.append(f"Hosts removed: {', '.join(diff.hosts_removed)}")
    for host in diff.hosts:
        lines.append("")
        if not host.changed:
            lines.append(f"{host.host}: no changes")
            continue
        lines.append(f"{host.host}{' (new host)' if host.new_host else ''}")
        for attribute, title in _SECTIONS:
            changes: tuple[Change, ...] = getattr(host, attribute)
            if not changes:
                continue
            lines.append(f"  {title} ({len(changes)}):")
            for change in changes:
                lines.append(f"    {_describe(change)}")
                lines.extend(f"      - {line}" for line in change.removed_lines)
                lines.extend(f"      + {line}" for line in change.added_lines)
    lines.extend(("", f"Summary: {_summary(diff)}"))
    return redact.scrub("\n".join(lines) + "\n")


def render_markdown(diff: RunDiff) -> str:
    lines = [
        "# Run comparison",
        "",
        f"From `{_md(diff.old_label)}` to `{_md(diff.new_label)}`.",
        "",
        f"**Summary:** {_summary(diff)}",
    ]
    if diff.notes or diff.hosts_added or diff.hosts_removed:
        lines.append("")
    lines.extend(f"- Note: {_md(note)}" for note in diff.notes)
    if diff.hosts_added:
        lines.append(f"- Hosts added: {', '.join(map(_md, diff.hosts_added))}")
    if diff.hosts_removed:
        lines.append(f"- Hosts removed: {', '.join(map(_md, diff.hosts_removed))}")
    for host in diff.hosts:
        lines.extend(
            ("", f"## {_md(host.host)}{' (new host)' if host.new_host else ''}", "")
        )
        if not host.changed:
            lines.append("No changes.")
            continue
        for attribute, title in _SECTIONS:
            changes: tuple[Change, ...] = getattr(host, attribute)
            if not changes:
                continue
            lines.extend((f"### {title} ({len(changes)})", ""))
            lines.extend(
                ("| Rule | Title | Before | Now |", "| --- | --- | --- | --- |")
            )
            for change in changes:
                now = status_label(change.new) + _waiver_note(change)
                lines.append(
                    f"| {_md(change.id)} | {_md(change.title)} | "
                    f"{status_label(change.old)} | {now} |"
                )
            details = [c for c in changes if c.removed_lines or c.added_lines]
            for change in details:
                lines.extend(("", f"{_md(change.id)}:", "", "```diff"))
                lines.extend(f"- {line}" for line in change.removed_lines)
                lines.extend(f"+ {line}" for line in change.added_lines)
                lines.append("```")
            lines.append("")
    return redact.scrub("\n".join(lines).rstrip("\n") + "\n")


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or heading."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


# --- Command line -------------------------------------------------------------


class RunError(Exception):
    """A run cannot be read; the message says which path and why."""


def load_run(path: Path) -> Run:
    """A run from its folder, its ``results.json``, or a ``results.jsonl`` stream.

    An interrupted run has only the stream; it is read with empty run facts.
    """
    if path.is_dir():
        for name in ("results.json", "results.jsonl"):
            if (path / name).is_file():
                return load_run(path / name)
        raise RunError(f"{path}: no results.json or results.jsonl in this folder")
    try:
        if path.suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            return {}, [
                Result.from_json(json.loads(line)) for line in lines if line.strip()
            ]
        return read_json(path)
    except OSError as exc:
        raise RunError(f"{path}: cannot be read ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: not a results file of this suite ({exc})") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sphere_stig.exporters.compare",
        description="Show what changed between two runs of the suite.",
    )
    parser.add_argument("old", type=Path, metavar="OLD_RUN")
    parser.add_argument("new", type=Path, metavar="NEW_RUN")
    parser.add_argument("--markdown", action="store_true", help="print Markdown")
    parser.add_argument(
        "--fail-on-new",
        action="store_true",
        help="exit 1 when the new run has a finding the old one did not",
    )
    args = parser.parse_args(argv)
    try:
        diff = compare(load_run(args.old), load_run(args.new))
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_markdown(diff) if args.markdown else render_text(diff), end="")
    return 1 if args.fail_on_new and diff.new_findings else 0


if __name__ == "__main__":
    sys.exit(main())
