"""Windows facts of a Sphere server, gathered by one PowerShell script.

``scripts/host_facts.ps1`` reads the Sphere files, the server.xml ACL, the
machine root store, the Tomcat service and its Procrun Java options, the
shutdown-port listeners, the UDP listeners on the SNMP trap ports, the
installed Sphere version and two local groups,
and prints one JSON document. This module sends it once, checks that
document against schema 1 and turns it into :class:`~sphere_stig.facts.WindowsFacts`.
It never parses the files themselves: they stay raw bytes for the parsers.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Protocol, TypeVar

from sphere_stig.facts import (
    SPHERE_FILES,
    AclEntry,
    Listener,
    RemoteFile,
    StoreCertificate,
    TomcatService,
    WindowsFacts,
)
from sphere_stig.outcome import CollectionError
from sphere_stig.transports.winrm import PsResult

log = logging.getLogger(__name__)

SCHEMA = 1
SCRIPT = "host_facts.ps1"
HEADER = "# sphere-stig collector: host_facts schema 1"
SOURCE = "host_facts.ps1"

# PowerShell ends a single-quoted string at any of these, not only at "'".
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


class PsRunner(Protocol):
    """What the collector needs from a session (WinRMSession, or a test fake)."""

    def run_ps(self, script: str) -> PsResult: ...


@cache
def script_text(name: str = SCRIPT) -> str:
    """A collector script of ``collectors/scripts`` as stored."""
    path = resources.files("sphere_stig.collectors").joinpath("scripts", name)
    return path.read_text(encoding="utf-8-sig")


def ps_single_quoted(value: str) -> str:
    """``value`` as a PowerShell single-quoted literal."""
    if any(ord(ch) < 0x20 for ch in value):
        raise ValueError(f"control characters are not allowed in {value!r}")
    escaped = "".join(ch * 2 if ch in _PS_QUOTES else ch for ch in value)
    return f"'{escaped}'"


def build_script(
    sphere_root: str, shutdown_port: int, trap_ports: tuple[int, ...] = ()
) -> str:
    """The script as sent: header, parameters, then the body without comments.

    Comment lines, blank lines and indentation are dropped so that the
    encoded command stays well below the Windows command-line limit.
    """
    for name, port in (
        ("shutdown_port", shutdown_port),
        *(("trap_ports", p) for p in trap_ports),
    ):
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"{name} must hold ints, not {port!r}")
    return compose_script(
        HEADER,
        [
            f"$SphereRoot = {ps_single_quoted(sphere_root)}",
            f"$ShutdownPort = {shutdown_port}",
            f"$TrapPorts = @({', '.join(str(p) for p in trap_ports)})",
        ],
        SCRIPT,
    )


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


def collect_windows_facts(
    session: PsRunner,
    host_name: str,
    sphere_root: str,
    shutdown_port: int = 8005,
    trap_ports: tuple[int, ...] = (),
) -> WindowsFacts:
    """Run host_facts.ps1 once on the host and return its typed facts."""
    script = build_script(sphere_root, shutdown_port, trap_ports)
    return run_collector(session, script, host_name, SOURCE, _facts)


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


# -- reading the output -------------------------------------------------------


class Malformed(Exception):
    """A collector document that does not have the expected shape."""


def read_document(result: PsResult, host: str, source: str = SOURCE) -> dict[str, Any]:
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


def _need(data: dict[str, Any], key: str, kind: Any, where: str) -> Any:
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


def _strings(value: list[Any], where: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise Malformed(f"'{where}' should hold only strings")
    return tuple(value)


def _facts(doc: dict[str, Any], host: str) -> WindowsFacts:
    schema = _need(doc, "schema", int, "")
    if schema != SCHEMA:
        raise Malformed(f"schema {schema}, this suite reads schema {SCHEMA}")
    files = _need(doc, "files", dict, "")
    webapps = _need(doc, "webapps", dict, "")
    acl = _need(doc, "server_xml_acl", (list, type(None)), "")
    service = _need(doc, "tomcat_service", (dict, type(None)), "")
    groups = _need(doc, "local_groups", dict, "")
    warnings = _strings(doc.get("warnings") or [], "warnings")
    return WindowsFacts(
        host=host,
        computer_name=_need(doc, "computer_name", str, ""),
        sphere_root=_need(doc, "sphere_root", str, ""),
        files={key: _file(files, key) for key in SPHERE_FILES},
        webapps=(
            _strings(_need(webapps, "entries", list, "webapps."), "webapps.entries")
            if _need(webapps, "exists", bool, "webapps.")
            else None
        ),
        server_xml_acl=None
        if acl is None
        else tuple(_acl_entry(e, i) for i, e in enumerate(acl)),
        root_store=tuple(
            _certificate(c, i) for i, c in enumerate(_need(doc, "root_store", list, ""))
        ),
        tomcat_service=None if service is None else _service(service),
        listeners=tuple(
            _listener(item, i, "listeners")
            for i, item in enumerate(_need(doc, "listeners", list, ""))
        ),
        udp_listeners=tuple(
            _listener(item, i, "udp_listeners")
            for i, item in enumerate(_need(doc, "udp_listeners", list, ""))
        ),
        sphere_version=_need(doc, "sphere_version", (str, type(None)), ""),
        local_groups={
            str(name): _members(members, f"local_groups.{name}")
            for name, members in groups.items()
        },
        warnings=warnings,
    )


def _members(value: Any, where: str) -> tuple[str, ...]:
    # Windows PowerShell can unwrap a one-element list into its element.
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise Malformed(f"'{where}' should be a list")
    return _strings(value, where)


def _file(files: dict[str, Any], key: str) -> RemoteFile:
    where = f"files.{key}."
    entry = _need(files, key, dict, "files.")
    exists = _need(entry, "exists", bool, where)
    encoded = _need(entry, "b64", (str, type(None)), where)
    error = _need(entry, "error", (str, type(None)), where)
    data = None
    if encoded is not None:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise Malformed(f"'{where}b64' is not valid base64") from None
    if exists and data is None and error is None:
        raise Malformed(
            f"'{where}' says the file exists but carries neither data nor error"
        )
    return RemoteFile(key, _need(entry, "path", str, where), exists, data, error)


def _acl_entry(item: Any, index: int) -> AclEntry:
    where = f"server_xml_acl[{index}]."
    if not isinstance(item, dict):
        raise Malformed(f"'{where[:-1]}' should be an object")
    return AclEntry(
        identity=_need(item, "identity", str, where),
        rights=_need(item, "rights", str, where),
        access=_need(item, "access", str, where),
        inherited=_need(item, "inherited", bool, where),
    )


def _certificate(item: Any, index: int) -> StoreCertificate:
    where = f"root_store[{index}]."
    if not isinstance(item, dict):
        raise Malformed(f"'{where[:-1]}' should be an object")
    return StoreCertificate(
        subject=_need(item, "subject", str, where),
        issuer=_need(item, "issuer", str, where),
        thumbprint=_need(item, "thumbprint", str, where).upper(),
        not_after=_need(item, "not_after", str, where),
    )


def _service(item: dict[str, Any]) -> TomcatService:
    where = "tomcat_service."
    options = _need(item, "java_options", list, where)
    return TomcatService(
        name=_need(item, "name", str, where),
        display_name=_need(item, "display_name", str, where),
        path=_need(item, "path", str, where),
        state=_need(item, "state", str, where),
        registry_key=_need(item, "registry_key", str, where),
        java_options=_strings(options, f"{where}java_options"),
    )


def _listener(item: Any, index: int, key: str) -> Listener:
    where = f"{key}[{index}]."
    if not isinstance(item, dict):
        raise Malformed(f"'{where[:-1]}' should be an object")
    return Listener(
        address=_need(item, "address", str, where),
        port=_need(item, "port", int, where),
        process=_need(item, "process", str, where),
    )
