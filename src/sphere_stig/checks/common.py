"""What the Tomcat and TLS checks share: reading collected files, parsing
``server.xml`` with the property sources Tomcat would use, naming sources.

Nothing here registers a check. Every function either returns facts ready to
judge or raises ``CheckError`` with the host, the path or key, and what to
do next.
"""

from __future__ import annotations

import ntpath
from collections.abc import Iterable, Sequence

from sphere_stig.checks.base import Facts, Inputs
from sphere_stig.facts import SPHERE_FILES, TlsScan, WindowsFacts
from sphere_stig.outcome import (
    CheckError,
    Evidence,
    Verdict,
    failed,
    not_reviewed,
    passed,
)
from sphere_stig.parsers.properties import Properties, parse_properties
from sphere_stig.parsers.tomcat import (
    Connector,
    Placeholder,
    ServerConfig,
    find_https_connector,
    parse_server_xml,
)
from sphere_stig.parsers.users import TomcatUsers, parse_tomcat_users
from sphere_stig.parsers.webxml import WebXml, parse_web_xml
from sphere_stig.transports.http import HttpPage

MODERN_PROTOCOLS = frozenset({"TLSv1.2", "TLSv1.3"})


def remote_path(inputs: Inputs, key: str) -> str:
    """The Windows path of a Sphere file, built from the inventory's install root."""
    return ntpath.join(inputs.sphere_root, SPHERE_FILES[key])


def file_source(host: str, path: str) -> str:
    return f"{host}: {path}"


def scan_source(scan: TlsScan) -> str:
    return f"{scan.host}: live TLS scan of {scan.address}:{scan.port}"


def require_windows(facts: Facts) -> WindowsFacts:
    if facts.windows is None:
        raise CheckError(
            f"{facts.host}: the Windows facts this check needs were not gathered; "
            "the rule's check must declare needs=('windows', ...) in the registry"
        )
    return facts.windows


def require_tls(facts: Facts) -> TlsScan:
    if facts.tls is None:
        raise CheckError(
            f"{facts.host}: the live TLS scan this check needs was not gathered; "
            "the rule's check must declare needs=(..., 'tls') in the registry"
        )
    return facts.tls


def require_http(facts: Facts) -> HttpPage:
    if facts.http is None:
        raise CheckError(
            f"{facts.host}: the console logon page this check needs was not fetched; "
            "the rule's check must declare needs=('http',) in the registry"
        )
    return facts.http


def read_remote(
    facts: Facts, inputs: Inputs, key: str, *, required: bool = True
) -> bytes | None:
    """The raw bytes of a collected Sphere file (None if absent and optional)."""
    windows = require_windows(facts)
    path = remote_path(inputs, key)
    where = file_source(facts.host, path)
    remote = windows.files.get(key)
    if remote is None:
        raise CheckError(
            f"{where}: the collector returned nothing for the file key {key!r}; "
            "the host facts script and facts.SPHERE_FILES disagree, report this"
        )
    if remote.error:
        raise CheckError(
            f"{where}: the file could not be read ({remote.error}); give the "
            "audit account read access to it and run again"
        )
    if not remote.exists:
        if not required:
            return None
        raise CheckError(
            f"{where} does not exist. WinRM answered, so the Sphere install root "
            f"is probably wrong: set site.sphere_root in the inventory "
            f'(it is now "{inputs.sphere_root}")'
        )
    if remote.data is None:
        raise CheckError(
            f"{where}: the collector reported the file but sent no content; "
            "run again, and report it if it persists"
        )
    return remote.data


def system_properties(facts: Facts, inputs: Inputs) -> dict[str, str]:
    """The system properties Tomcat resolves ``${...}`` in server.xml against.

    In the order Tomcat applies them: catalina.home/base (set by the
    bootstrap), then ``-D`` options of the service, then catalina.properties,
    which CatalinaProperties copies over the system properties at start-up.
    """
    windows = require_windows(facts)
    tomcat = ntpath.join(inputs.sphere_root, "Tomcat")
    values = {"catalina.home": tomcat, "catalina.base": tomcat}
    if windows.tomcat_service is not None:
        for option in windows.tomcat_service.java_options:
            if option.startswith("-D"):
                name, _, value = option[2:].partition("=")
                values[name] = value
    catalina = read_remote(facts, inputs, "catalina_properties", required=False)
    if catalina is not None:
        source = file_source(facts.host, remote_path(inputs, "catalina_properties"))
        values.update(parse_properties(catalina, source).as_dict())
    return values


def load_server_config(facts: Facts, inputs: Inputs) -> tuple[ServerConfig, str]:
    """server.xml parsed with Tomcat 9 semantics, and its evidence source."""
    data = read_remote(facts, inputs, "server_xml")
    assert data is not None
    source = file_source(facts.host, remote_path(inputs, "server_xml"))
    config = parse_server_xml(data, source, properties=system_properties(facts, inputs))
    return config, source


def load_web_xml(facts: Facts, inputs: Inputs, key: str) -> tuple[WebXml, str]:
    """A deployment descriptor (``tomcat_web_xml`` or ``sphere_web_xml``)."""
    data = read_remote(facts, inputs, key)
    assert data is not None
    source = file_source(facts.host, remote_path(inputs, key))
    return parse_web_xml(data, source), source


def load_tomcat_users(facts: Facts, inputs: Inputs) -> tuple[TomcatUsers, str]:
    """tomcat-users.xml with every password already reduced to its form."""
    data = read_remote(facts, inputs, "tomcat_users_xml")
    assert data is not None
    source = file_source(facts.host, remote_path(inputs, "tomcat_users_xml"))
    return parse_tomcat_users(data, source), source


def load_config_properties(facts: Facts, inputs: Inputs) -> tuple[Properties, str]:
    """Sphere's conf/config.properties as Java loads it, raw lines kept."""
    data = read_remote(facts, inputs, "config_properties")
    assert data is not None
    source = file_source(facts.host, remote_path(inputs, "config_properties"))
    return parse_properties(data, source), source


def https_connector_of(
    config: ServerConfig, source: str, port: int, attributes: Iterable[str]
) -> Connector | None:
    """The connector on the HTTPS port, refusing placeholders that hide it.

    ``attributes`` are those the caller's verdict depends on: an unresolved
    ``${...}`` in one of them is an error, not a guess.
    """
    connector = find_https_connector(config, port)
    if connector is None:
        # A connector whose port is an unresolved ${...} might be the one.
        refuse_unresolved(
            (p for c in config.connectors() for p in c.placeholders), ("port",), source
        )
        return None
    refuse_unresolved(connector.placeholders, ("port", *attributes), source)
    return connector


def missing_connector(config: ServerConfig, source: str, port: int) -> Evidence:
    """The failing observation for a server.xml without a connector on ``port``."""
    ports = sorted(
        {p for c in config.connectors() if (p := c.effective_port) is not None}
    )
    listed = ", ".join(str(p) for p in ports)
    others = f" (active connectors: port {listed})" if ports else ""
    return Evidence(
        item=f"Connector on port {port}",
        observed=f"no active Connector on port {port}{others}",
        expected=f'an active Connector on port {port} with SSLEnabled="true"',
        source=source,
        ok=False,
    )


def input_not_set(name: str, host: str, wanted: str) -> Verdict:
    """Not reviewed: the organisation has not supplied a value the rule needs."""
    return not_reviewed(
        f"The organisation input {name} is not set, so the rule cannot be judged: "
        "add it under site.inputs (or the host's inputs) in the inventory",
        Evidence(
            item=f"input {name}",
            observed="not set",
            expected=wanted,
            source=f"inventory, host {host}",
        ),
    )


def refuse_unresolved(
    placeholders: Iterable[Placeholder], attributes: Iterable[str], source: str
) -> None:
    """Raise when a setting the verdict depends on is an unresolved ``${...}``."""
    wanted = {a.lower() for a in attributes}
    missing = [
        p for p in placeholders if not p.resolved and p.attribute.lower() in wanted
    ]
    if not missing:
        return
    listed = "; ".join(
        f"{p.element} {p.attribute} uses ${{{p.expression}}}" for p in missing
    )
    raise CheckError(
        f"{source}: {listed}, and no catalina.properties entry or -D option of the "
        "Tomcat service defines it, so the value Tomcat runs with is unknown. "
        "Define the property in catalina.properties or write the value into "
        "server.xml, then run again"
    )


def conclude(
    summary_pass: str, summary_fail: str, evidence: Sequence[Evidence]
) -> Verdict:
    """Pass when every judged observation holds; the failure summary lists the rest."""
    judged = [e for e in evidence if e.ok is not None]
    if not judged:
        raise ValueError("a verdict needs at least one judged observation")
    failing = [e for e in judged if not e.ok]
    if not failing:
        return passed(summary_pass, *evidence)
    details = "; ".join(e.observed for e in failing)
    return failed(f"{summary_fail}: {details}", *evidence)


def and_list(names: Iterable[str]) -> str:
    """['a'] -> 'a'; ['a', 'b'] -> 'a and b'; ['a', 'b', 'c'] -> 'a, b and c'."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
