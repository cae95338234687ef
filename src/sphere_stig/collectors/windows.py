"""Windows facts of a Sphere server, gathered by one PowerShell script.

``scripts/host_facts.ps1`` reads the Sphere files, the server.xml ACL, the
machine root store, the Tomcat service and its Procrun Java options, the
shutdown-port listeners, the UDP listeners on the SNMP trap ports, the
installed Sphere version and two local groups, and prints one JSON document.
This module sends it once (through :mod:`sphere_stig.collectors.powershell`),
checks the document against schema 1 and turns it into
:class:`~sphere_stig.facts.WindowsFacts`. It never parses the files
themselves: they stay raw bytes for the parsers.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sphere_stig.collectors.powershell import (
    Malformed,
    PsRunner,
    compose_script,
    need,
    ps_single_quoted,
    run_collector,
    strings,
)
from sphere_stig.facts import (
    SPHERE_FILES,
    AclEntry,
    Listener,
    RemoteFile,
    StoreCertificate,
    TomcatService,
    WindowsFacts,
)

SCHEMA = 1
SCRIPT = "host_facts.ps1"
HEADER = "# sphere-stig collector: host_facts schema 1"
SOURCE = "host_facts.ps1"


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


# -- reading the output -------------------------------------------------------


def _facts(doc: dict[str, Any], host: str) -> WindowsFacts:
    schema = need(doc, "schema", int, "")
    if schema != SCHEMA:
        raise Malformed(f"schema {schema}, this suite reads schema {SCHEMA}")
    files = need(doc, "files", dict, "")
    webapps = need(doc, "webapps", dict, "")
    acl = need(doc, "server_xml_acl", (list, type(None)), "")
    service = need(doc, "tomcat_service", (dict, type(None)), "")
    groups = need(doc, "local_groups", dict, "")
    warnings = strings(doc.get("warnings") or [], "warnings")
    return WindowsFacts(
        host=host,
        computer_name=need(doc, "computer_name", str, ""),
        sphere_root=need(doc, "sphere_root", str, ""),
        files={key: _file(files, key) for key in SPHERE_FILES},
        webapps=(
            strings(need(webapps, "entries", list, "webapps."), "webapps.entries")
            if need(webapps, "exists", bool, "webapps.")
            else None
        ),
        server_xml_acl=None
        if acl is None
        else tuple(_acl_entry(e, i) for i, e in enumerate(acl)),
        root_store=tuple(
            _certificate(c, i) for i, c in enumerate(need(doc, "root_store", list, ""))
        ),
        tomcat_service=None if service is None else _service(service),
        listeners=tuple(
            _listener(item, i, "listeners")
            for i, item in enumerate(need(doc, "listeners", list, ""))
        ),
        udp_listeners=tuple(
            _listener(item, i, "udp_listeners")
            for i, item in enumerate(need(doc, "udp_listeners", list, ""))
        ),
        sphere_version=need(doc, "sphere_version", (str, type(None)), ""),
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
    return strings(value, where)


def _file(files: dict[str, Any], key: str) -> RemoteFile:
    where = f"files.{key}."
    entry = need(files, key, dict, "files.")
    exists = need(entry, "exists", bool, where)
    encoded = need(entry, "b64", (str, type(None)), where)
    error = need(entry, "error", (str, type(None)), where)
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
    return RemoteFile(key, need(entry, "path", str, where), exists, data, error)


def _acl_entry(item: Any, index: int) -> AclEntry:
    where = f"server_xml_acl[{index}]."
    if not isinstance(item, dict):
        raise Malformed(f"'{where[:-1]}' should be an object")
    return AclEntry(
        identity=need(item, "identity", str, where),
        rights=need(item, "rights", str, where),
        access=need(item, "access", str, where),
        inherited=need(item, "inherited", bool, where),
    )


def _certificate(item: Any, index: int) -> StoreCertificate:
    where = f"root_store[{index}]."
    if not isinstance(item, dict):
        raise Malformed(f"'{where[:-1]}' should be an object")
    return StoreCertificate(
        subject=need(item, "subject", str, where),
        issuer=need(item, "issuer", str, where),
        thumbprint=need(item, "thumbprint", str, where).upper(),
        not_after=need(item, "not_after", str, where),
    )


def _service(item: dict[str, Any]) -> TomcatService:
    where = "tomcat_service."
    options = need(item, "java_options", list, where)
    return TomcatService(
        name=need(item, "name", str, where),
        display_name=need(item, "display_name", str, where),
        path=need(item, "path", str, where),
        state=need(item, "state", str, where),
        registry_key=need(item, "registry_key", str, where),
        java_options=strings(options, f"{where}java_options"),
    )


def _listener(item: Any, index: int, key: str) -> Listener:
    where = f"{key}[{index}]."
    if not isinstance(item, dict):
        raise Malformed(f"'{where[:-1]}' should be an object")
    return Listener(
        address=need(item, "address", str, where),
        port=need(item, "port", int, where),
        process=need(item, "process", str, where),
    )
