"""What both collectors share: the PowerShell script sent and the JSON read back.

A collector script (``scripts/*.ps1``) starts with a header line naming it
and its schema; the collector prepends its parameters as PowerShell
assignments, drops comments and indentation, runs it once over the host's
WinRM session and reads the one JSON document it prints. :func:`need` and
:func:`strings` check that document's shape key by key, so a malformed
answer names the key that is wrong.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Protocol, TypeVar

from sphere_stig.outcome import CollectionError
from sphere_stig.transports.winrm import PsResult

log = logging.getLogger(__name__)

# PowerShell ends a single-quoted string at any of these, not only at "'".
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


class PsRunner(Protocol):
    """What the collector needs from a session (WinRMSession, or a test fake)."""

    def run_ps(self, script: str) -> PsResult: ...


@cache
def script_text(name: str) -> str:
    """A collector script of ``collectors/scripts`` as stored."""
    path = resources.files("sphere_stig.collectors").joinpath("scripts", name)
    return path.read_text(encoding="utf-8-sig")


def ps_single_quoted(value: str) -> str:
    """``value`` as a PowerShell single-quoted literal."""
    if any(ord(ch) < 0x20 for ch in value):
        raise ValueError(f"control characters are not allowed in {value!r}")
    escaped = "".join(ch * 2 if ch in _PS_QUOTES else ch for ch in value)
    return f"'{escaped}'"


def compose_script(header: str, assignments: list[str], name: str) -> str:
    """Header, parameter assignments, then the body of script ``name``.

    The body loses its comment lines, blank lines and indentation.
    """
    lines = [header, *assignments]
    for line in script_text(name).splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            lines.append(stripped)
    return "\n".join(lines) + "\n"


class _Collected(Protocol):
    """Typed facts of a collector: a dataclass that carries warnings."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def warnings(self) -> tuple[str, ...]: ...


_Facts = TypeVar("_Facts", bound=_Collected)


def run_collector(
    session: PsRunner,
    script: str,
    host_name: str,
    source: str,
    parse: Callable[[dict[str, Any], str], _Facts],
) -> _Facts:
    """Run one collector script and return its typed facts.

    What the script warned of, what PowerShell wrote to its error stream
    and a non-zero exit status all join the facts' warnings (and the log):
    they travel with the evidence instead of failing the collection.
    """
    result = session.run_ps(script)
    document = read_document(result, host_name, source)
    try:
        facts = parse(document, host_name)
    except Malformed as exc:
        raise CollectionError(host_name, source, f"malformed output: {exc}") from None
    warnings = [*facts.warnings, *result.warnings]
    if result.stderr_text:
        warnings.append(f"PowerShell reported errors: {result.stderr_text}")
    if result.status != 0:
        warnings.append(f"the script ended with exit status {result.status}")
    for warning in warnings:
        log.warning("%s: %s", host_name, warning)
    return replace(facts, warnings=tuple(warnings))


class Malformed(Exception):
    """A collector document that does not have the expected shape."""


def read_document(result: PsResult, host: str, source: str) -> dict[str, Any]:
    """The JSON object a collector script printed, or a CollectionError."""
    # The document is the first line that opens an object; a byte order
    # mark or lines a profile printed may come before it.
    match = re.search(r"^[\s\ufeff]*\{", result.stdout, re.MULTILINE)
    if match is None:
        if result.status == 0 and not result.stderr_text:
            raise CollectionError(host, source, "the script printed no JSON document")
        detail = result.stderr_text or "no output"
        raise CollectionError(
            host, source, f"the script failed (exit status {result.status}): {detail}"
        )
    try:
        document, _ = json.JSONDecoder().raw_decode(result.stdout, match.end() - 1)
    except json.JSONDecodeError as exc:
        raise CollectionError(
            host, source, f"malformed output: stdout is not valid JSON ({exc})"
        ) from None
    return document


def need(data: dict[str, Any], key: str, kind: Any, where: str) -> Any:
    if key not in data:
        raise Malformed(f"'{where}{key}' is missing")
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true/false must not pass for a number.
    if isinstance(value, bool) and bool not in kinds:
        raise Malformed(f"'{where}{key}' should be {_kind_name(kinds)}, not {value!r}")
    if not isinstance(value, kinds):
        raise Malformed(
            f"'{where}{key}' should be {_kind_name(kinds)}, not {type(value).__name__}"
        )
    return value


def _kind_name(kinds: tuple[Any, ...]) -> str:
    names = {
        str: "a string",
        int: "a number",
        bool: "true or false",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def strings(value: list[Any], where: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise Malformed(f"'{where}' should hold only strings")
    return tuple(value)
