"""SQL Server rows: ``tds_port`` (TSQL/SSL on 1433) and the Browser on UDP 1434.

A TSQL/SSL row passes when the database server answers a TDS PRELOGIN on
the inventory's port, agrees to encrypt, completes TLS 1.2 or later with a
certificate that validates against ``connections.sql.ca_bundle`` for the
host's name, and refuses TLS below 1.2. Whether the server *forces*
encryption (SQL Server's "Force Encryption") and whether a real client could
log in are recorded beside the verdict, not judged: the row is about the
port, and the overview asks for SSL on it, not for a login.

The 1434 row (legend 5: only when the database is reached by instance name)
passes when the SQL Server Browser names the configured instance and the
TCP port the inventory uses for it.

The evidence names the runner as the source of every probe: a pass shows
what the server offers to a client here, not what the Sphere Monitor's
own connection settings ask for.
"""

from __future__ import annotations

from sphere_stig import catalog
from sphere_stig.inventory import Host
from sphere_stig.outcome import (
    CollectionError,
    Evidence,
    Verdict,
    failed,
    judge,
    not_reviewed,
)
from sphere_stig.ports import port_check
from sphere_stig.transports.sql import BrowserAnswer, TdsProbe, shared_pool

MODERN_TLS = ("TLSv1.2", "TLSv1.3")


@port_check("tds_port")
def tds_port(row: catalog.PortRow, host: Host) -> Verdict:
    settings = host.connections.sql
    try:
        probe = shared_pool().probe(host)
    except CollectionError as exc:
        # Nothing answers TDS there: the row's listener is missing.
        return failed(
            f"{host.name} does not answer TDS on {settings.port} ({row.protocols})",
            Evidence(
                item=f"TDS PRELOGIN on tcp/{settings.port} of {host.name}",
                observed=exc.reason,
                expected=f"a TDS PRELOGIN answer{_moved(row, settings.port)}",
                source=f"probe from the suite runner to {exc.source}",
                ok=False,
            ),
        )
    return judge_tds(row, host, probe)


def judge_tds(row: catalog.PortRow, host: Host, probe: TdsProbe) -> Verdict:
    """The row's verdict from a probe (pure: no network)."""
    source = f"probe from the suite runner to {probe.source}"
    evidence = [
        Evidence(
            item=f"TDS PRELOGIN on tcp/{probe.port} of {host.name}",
            observed=(
                f"answered ({probe.protocol}, server version "
                f"{probe.server_version or 'not given'})"
            ),
            expected=f"a TDS PRELOGIN answer{_moved(row, probe.port)}",
            source=source,
            ok=True,
        ),
        _offered(probe, source),
        _forced(probe, source),
        _tls(probe, source),
        _legacy(probe, source),
        _certificate(host, probe, source),
        Evidence(
            item="login with connections.sql",
            observed=probe.login_detail,
            expected="context only: a client with the inventory's settings logs in",
            source=source,
        ),
    ]
    bundle = probe.ca_bundle
    if bundle is None and all(e.ok is not False for e in evidence):
        return not_reviewed(
            f"{host.name} answers TSQL/SSL on {probe.port}, but its certificate "
            "cannot be judged: set connections.sql.ca_bundle in the inventory",
            *evidence,
        )
    version = probe.tls_version or "no TLS"
    problems = [e.item for e in evidence if e.ok is False]
    return judge(
        f"{host.name} answers TDS on {probe.port} and encrypts it: {version}, "
        "certificate trusted",
        f"{host.name}: TSQL/SSL on {probe.port} falls short: " + "; ".join(problems),
        *evidence,
    )


def _moved(row: catalog.PortRow, port: int) -> str:
    if port in row.ports:
        return f" on {row.port_text}"
    return f" on connections.sql.port {port} (the table's default is {row.port_text})"


def _offered(probe: TdsProbe, source: str) -> Evidence:
    if probe.protocol == "TDS 8.0":
        ok = probe.tls_version is not None
        observed = (
            f"TDS 8: TLS from the first byte (ALPN {probe.alpn or 'none'}), "
            f"PRELOGIN inside TLS answered {probe.encryption_answer}"
            if ok
            else f"TDS 8: no TLS session ({probe.tls_error})"
        )
    else:
        ok = probe.encryption_answer in ("ENCRYPT_ON", "ENCRYPT_REQ")
        observed = f"{probe.encryption_answer} to a client asking for encryption"
    return Evidence(
        item="encryption agreed",
        observed=observed,
        expected="ENCRYPT_ON (TDS 7.x) or a TDS 8 TLS session",
        source=source,
        ok=ok,
    )


def _forced(probe: TdsProbe, source: str) -> Evidence:
    policy = probe.encryption_policy
    if policy is None:
        observed = (
            "TDS 7.x connections dropped unanswered: strict (TDS 8) encryption only"
        )
    elif policy == "ENCRYPT_REQ":
        observed = "ENCRYPT_REQ to a client offering none: Force Encryption is on"
    elif policy == "ENCRYPT_OFF":
        observed = (
            "ENCRYPT_OFF to a client offering none: Force Encryption is off, so "
            "such a client gets only its login encrypted"
        )
    else:
        observed = f"{policy} to a client offering none"
    return Evidence(
        item="Force Encryption",
        observed=observed,
        expected="context only: ENCRYPT_REQ when the server forces encryption",
        source=source,
    )


def _tls(probe: TdsProbe, source: str) -> Evidence:
    if probe.tls_version:
        observed = f"{probe.tls_version} ({probe.cipher})"
        if probe.protocol == "TDS 7.4":
            observed += ", inside TDS PRELOGIN packets"
        ok = probe.tls_version in MODERN_TLS
    else:
        observed, ok = probe.tls_error or "no TLS", False
    return Evidence(
        item="TLS version negotiated",
        observed=observed,
        expected="TLS 1.2 or later",
        source=source,
        ok=ok,
    )


def _legacy(probe: TdsProbe, source: str) -> Evidence:
    if probe.legacy_tls is not None:
        observed = f"{probe.legacy_tls} is accepted, should be refused"
        ok: bool | None = False
    else:
        observed = probe.legacy_tls_note
        ok = True if probe.legacy_tls_note.endswith("refused") else None
    return Evidence(
        item="TLS below 1.2",
        observed=observed,
        expected="TLSv1 and TLSv1.1 refused",
        source=source,
        ok=ok,
    )


def _certificate(host: Host, probe: TdsProbe, source: str) -> Evidence:
    cert = probe.certificate
    if cert is None:
        seen = "no certificate received"
    else:
        seen = f"{cert.subject}, issued by {cert.issuer}, valid until {cert.not_after}"
    if probe.ca_bundle is None:
        return Evidence(
            item="server certificate",
            observed=f"{seen}; not validated (no connections.sql.ca_bundle)",
            expected=f"issued for {probe.server_name} by a CA in connections.sql.ca_bundle",
            source=source,
        )
    if probe.certificate_valid:
        observed, ok = f"{seen}; validates", True
    elif probe.certificate_valid is False:
        observed, ok = f"{seen}; does not validate: {probe.validation_error}", False
    else:
        observed, ok = f"{seen}; not validated (no TLS session)", False
    return Evidence(
        item="server certificate",
        observed=observed,
        expected=f"issued for {probe.server_name} by a CA in {probe.ca_bundle}",
        source=source,
        ok=ok,
    )


# -- UDP 1434 -----------------------------------------------------------------------


def probe_sql_browser(row: catalog.PortRow, host: Host) -> Verdict:
    """The ``udp_service`` probe of the 1434 row (called by portchecks.udp)."""
    settings = host.connections.sql
    port = row.ports[0]
    item = f"SQL Server Browser on udp/{port} of {host.name}"
    expected = f"an answer naming instance {settings.instance} with tcp {settings.port}"
    try:
        answer = shared_pool().browser(host, port)
    except CollectionError as exc:
        return failed(
            f"{host.name}: the SQL Server Browser does not answer on udp/{port}",
            Evidence(
                item=item,
                observed=exc.reason,
                expected=expected,
                source=f"probe from the suite runner to {exc.source}",
                ok=False,
            ),
        )
    return judge_browser(host, answer, item, expected)


def judge_browser(
    host: Host, answer: BrowserAnswer, item: str, expected: str
) -> Verdict:
    """The 1434 row's verdict from a Browser answer (pure: no network)."""
    settings = host.connections.sql
    source = f"probe from the suite runner to {answer.source}"
    listed = ", ".join(
        f"{name} (tcp {values.get('tcp', 'none')})"
        for name, values in sorted(answer.instances.items())
    )
    wanted = (settings.instance or "").upper()
    values = answer.instances.get(wanted)
    if values is None:
        observed = (
            f"answered {answer.request} listing {listed or 'no instance'}; "
            f"{settings.instance} is not among them"
        )
        ok = False
    elif values.get("tcp") != str(settings.port):
        observed = (
            f"answered {answer.request}: {settings.instance} on tcp "
            f"{values.get('tcp', 'none (TCP disabled)')}"
        )
        ok = False
    else:
        observed = (
            f"answered {answer.request}: {values.get('ServerName', '?')}\\"
            f"{values.get('InstanceName')} version {values.get('Version', '?')} "
            f"on tcp {values['tcp']}"
        )
        ok = True
    return judge(
        f"{host.name}: the SQL Server Browser names {settings.instance} on tcp "
        f"{settings.port}",
        f"{host.name}: the SQL Server Browser does not point clients to "
        f"{settings.instance} on tcp {settings.port}",
        Evidence(item=item, observed=observed, expected=expected, source=source, ok=ok),
    )
