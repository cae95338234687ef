"""The HTTPS connector: its TLS protocol versions and that it serves TLS at all.

Both checks read the same two sources and report both: the connector in
``server.xml`` as Tomcat 9 would configure it, and what a live scan of the
HTTPS port saw. A rule passes only when the file and the wire both satisfy
it, and when they disagree the evidence says so, because a disagreement
means either the JVM overrides the file or the file is not what runs.
"""

from __future__ import annotations

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import (
    MODERN_PROTOCOLS,
    and_list,
    conclude,
    https_connector_of,
    load_server_config,
    missing_connector,
    refuse_unresolved,
    require_tls,
    scan_source,
)
from sphere_stig.facts import TlsScan
from sphere_stig.outcome import CheckError, Evidence, Verdict
from sphere_stig.parsers.tomcat import (
    Connector,
    ServerConfig,
    SSLHostConfig,
    attribute_value,
    find_https_connector,
    sort_protocols,
)

# Protocol versions a scan can test and Tomcat can enable, oldest first.
_LEGACY_PROTOCOLS = frozenset({"SSLv2", "SSLv2Hello", "SSLv3", "TLSv1", "TLSv1.1"})
_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Attributes whose unresolved ${...} would hide what the connector does.
_PROTOCOL_ATTRIBUTES = ("port", "SSLEnabled", "protocols", "sslEnabledProtocols")
_CONNECTOR_ATTRIBUTES = ("port", "SSLEnabled", "scheme", "secure")


@register("tls_protocols", needs=("windows", "tls"))
def tls_protocols(facts: Facts, inputs: Inputs) -> Verdict:
    """V-224762, V-224772, V-224776: TLS 1.2/1.3 only, in server.xml and live."""
    config, source = load_server_config(facts, inputs)
    scan = require_tls(facts)
    port = inputs.https_port

    evidence = _file_protocols(config, source, port)
    evidence.append(_scan_protocols(scan))
    connector = find_https_connector(config, port)
    if connector is not None and connector.ssl_enabled:
        disagreement = _disagreement(connector, scan, source)
        if disagreement is not None:
            evidence.append(disagreement)
    return conclude(
        f"Port {port} enables only TLS 1.2/1.3 in server.xml and accepts nothing "
        "older on the wire",
        f"Port {port} does not limit TLS to versions 1.2 and 1.3",
        evidence,
    )


@register("https_connector", needs=("windows", "tls"))
def https_connector(facts: Facts, inputs: Inputs) -> Verdict:
    """V-224786, V-224792: an active, SSL-enabled connector on the HTTPS port."""
    config, source = load_server_config(facts, inputs)
    scan = require_tls(facts)
    port = inputs.https_port

    connector = https_connector_of(config, source, port, _CONNECTOR_ATTRIBUTES)
    if connector is None:
        evidence = [missing_connector(config, source, port)]
    else:
        evidence = _connector_settings(connector, source, port)
    evidence.append(_handshake(scan))
    return conclude(
        f"Tomcat serves HTTPS on port {port}: the connector is active, SSL-enabled "
        "and has key material, and a TLS handshake succeeds",
        f"Port {port} is not a working HTTPS connector",
        evidence,
    )


# -- server.xml -------------------------------------------------------------


def _file_protocols(config: ServerConfig, source: str, port: int) -> list[Evidence]:
    connector = https_connector_of(config, source, port, _PROTOCOL_ATTRIBUTES)
    if connector is None:
        return [missing_connector(config, source, port)]
    if not connector.ssl_enabled:
        return [_plain_http(connector, source, port)]
    refuse_unresolved(
        connector.placeholders,
        ("protocols", "sslEnabledProtocols", "SSLProtocol"),
        source,
    )
    if not connector.ssl_host_configs:
        return [
            Evidence(
                item=f"SSLHostConfig of the connector on port {port}",
                observed=(
                    "no SSLHostConfig and no SSL attributes on the connector, so "
                    "Tomcat refuses to start it"
                ),
                expected='an SSLHostConfig with protocols="+TLSv1.2,+TLSv1.3"',
                source=source,
                ok=False,
            )
        ]
    return [_host_protocols(host, port, source) for host in connector.ssl_host_configs]


def _plain_http(connector: Connector, source: str, port: int) -> Evidence:
    raw = attribute_value(connector.attributes, "SSLEnabled")
    written = f'SSLEnabled="{raw}"' if raw is not None else "SSLEnabled absent"
    return Evidence(
        item=f"TLS on the connector on port {port}",
        observed=f"{connector.describe()} has {written}, so it speaks plain HTTP",
        expected='SSLEnabled="true"',
        source=source,
        ok=False,
    )


def _host_protocols(config: SSLHostConfig, port: int, source: str) -> Evidence:
    enabled = config.enabled_protocols
    legacy = sort_protocols(enabled & _LEGACY_PROTOCOLS)
    modern = sort_protocols(enabled & MODERN_PROTOCOLS)
    unknown = sorted(config.unknown_protocols)
    notes = []
    if unknown:
        names = ", ".join(f'"{n}"' for n in unknown)
        notes.append(f"Tomcat knows no protocol named {names} and drops it")
    if not enabled:
        observed = (
            "no protocol Tomcat can enable is left, so the connector does not start"
        )
    elif legacy:
        verb = "is" if len(legacy) == 1 else "are"
        observed = f"{and_list(legacy)} {verb} enabled (older than TLS 1.2)"
        if modern:
            observed += f" besides {and_list(modern)}"
    else:
        verb = "is" if len(modern) == 1 else "are"
        observed = f"only {and_list(modern)} {verb} enabled"
    observed = f"{observed}; {config.protocols_origin}"
    if notes:
        observed += "; " + "; ".join(notes)
    origin = " (built from deprecated Connector attributes)" if config.implicit else ""
    return Evidence(
        item=f'protocols of SSLHostConfig "{config.host_name}" on port {port}{origin}',
        observed=observed,
        expected="only TLSv1.2 and/or TLSv1.3 enabled",
        source=source,
        ok=bool(enabled) and not legacy,
    )


def _connector_settings(connector: Connector, source: str, port: int) -> list[Evidence]:
    evidence = [
        Evidence(
            item=f"Connector on port {port}",
            observed=f"{connector.describe()} is present and not commented out",
            expected=f"an active Connector on port {port}",
            source=source,
            ok=True,
        ),
        _flag(connector, "SSLEnabled", "true", connector.ssl_enabled, source),
        _flag(
            connector, "scheme", "https", connector.scheme.lower() == "https", source
        ),
        _flag(connector, "secure", "true", connector.secure, source),
    ]
    if connector.ssl_enabled:
        evidence.append(_key_material(connector, source))
        evidence.extend(
            Evidence(
                item="connector configuration",
                observed=problem,
                expected="a configuration Tomcat accepts",
                source=source,
                ok=False,
            )
            for problem in connector.problems
        )
    return evidence


def _flag(
    connector: Connector, name: str, wanted: str, ok: bool, source: str
) -> Evidence:
    raw = attribute_value(connector.attributes, name)
    defaults = {"SSLEnabled": "false", "scheme": "http", "secure": "false"}
    if raw is None:
        observed = f"{name} absent (Tomcat default {defaults[name]})"
    else:
        observed = f'{name}="{raw}"'
    return Evidence(
        item=f"{name} of the connector on port {connector.effective_port}",
        observed=observed,
        expected=f'{name}="{wanted}"',
        source=source,
        ok=ok,
    )


def _key_material(connector: Connector, source: str) -> Evidence:
    config = connector.default_ssl_host_config
    item = f"certificate of the connector on port {connector.effective_port}"
    expected = "an SSLHostConfig with a Certificate (or keystore attributes)"
    if config is None:
        observed = (
            f'no SSLHostConfig named "{connector.default_ssl_host_config_name}" '
            "(defaultSSLHostConfigName)"
        )
        return Evidence(item, observed, expected, source, ok=False)
    if not config.certificates:
        observed = (
            f'SSLHostConfig "{config.host_name}" names no Certificate and no keystore, '
            "so Tomcat looks for .keystore in the service account's home folder"
        )
        return Evidence(item, observed, expected, source, ok=False)
    observed = "; ".join(c.describe() for c in config.certificates)
    return Evidence(item, observed, expected, source, ok=True)


# -- the live scan ----------------------------------------------------------


def _scan_protocols(scan: TlsScan) -> Evidence:
    tested = set(scan.accepted)
    accepted = set(scan.accepted_protocols)
    if not tested:
        raise CheckError(
            f"{scan_source(scan)}: the scan tested no protocol version; run the "
            "scan again and check the TLS collector if this repeats"
        )
    legacy = sort_protocols(accepted & _LEGACY_PROTOCOLS)
    modern = sort_protocols(accepted & MODERN_PROTOCOLS)
    refused = sort_protocols(tested - accepted)
    if legacy:
        observed = f"{and_list(legacy)} accepted"
        if modern:
            observed += f" besides {and_list(modern)}"
    elif modern:
        observed = f"only {and_list(modern)} accepted"
    else:
        observed = "no TLS 1.2 or TLS 1.3 handshake succeeded"
    if refused:
        observed += f"; refused: {', '.join(refused)}"
    return Evidence(
        item=f"protocol versions accepted on {scan.address}:{scan.port}",
        observed=observed,
        expected="TLSv1.2 and/or TLSv1.3 accepted, everything older refused",
        source=scan_source(scan),
        ok=bool(modern) and not legacy,
    )


def _handshake(scan: TlsScan) -> Evidence:
    accepted = sort_protocols(set(scan.accepted_protocols))
    observed = (
        f"TLS handshakes succeed ({', '.join(accepted)})"
        if accepted
        else "no TLS handshake succeeded with any protocol version"
    )
    return Evidence(
        item=f"TLS handshake on {scan.address}:{scan.port}",
        observed=observed,
        expected="a successful TLS handshake",
        source=scan_source(scan),
        ok=bool(accepted),
    )


def _disagreement(connector: Connector, scan: TlsScan, source: str) -> Evidence | None:
    """Name the versions where server.xml and the live port differ, if any."""
    config = connector.default_ssl_host_config
    if config is None:
        return None
    versions = set(_VERSIONS) & set(scan.accepted)
    in_file = config.enabled_protocols & versions
    on_wire = set(scan.accepted_protocols) & versions
    if in_file == on_wire:
        return None
    parts = []
    refused = sort_protocols(in_file - on_wire)
    if refused:
        parts.append(
            f"server.xml enables {and_list(refused)} but the live port refuses "
            f"{'it' if len(refused) == 1 else 'them'} (the JVM can refuse what "
            "Tomcat enables: current Java releases disable TLS 1.0 and 1.1 in "
            "jdk.tls.disabledAlgorithms), so the file is judged on its own"
        )
    extra = sort_protocols(on_wire - in_file)
    if extra:
        parts.append(
            f"the live port accepts {and_list(extra)} although server.xml does not "
            "enable it, so whatever answers on the port is not configured by this "
            "file (another instance, a proxy, or a change since Tomcat started)"
        )
    return Evidence(
        item="server.xml compared with the live port",
        observed="server.xml and the live scan disagree: " + "; ".join(parts),
        expected="the live port to behave as server.xml says",
        source=f"{source} and {scan_source(scan)}",
        ok=None,
    )
