"""``ldap_port`` rows: the DC speaks LDAP on its four directory ports.

A bare TCP connect would pass for anything listening on 389. So each port
is asked a real LDAP question, the root DSE, anonymously (every directory
server answers it before a bind, which is how clients find the naming
contexts). On the plain ports, 389 (domain) and 3268 (global catalog), the
probe then asks for StartTLS, since the monitor must not bind in clear
text; on 636 and 3269 the read happens inside an LDAPS handshake.

Like the TLS port probe, this does not validate the certificate: it proves
that TLS is spoken. Whether the monitor trusts the DC is a matter for its
LDAP connection settings.
"""

from __future__ import annotations

import logging
import math
import ssl
from typing import Any

from sphere_stig import catalog
from sphere_stig.collectors.netprobe import PortProbe
from sphere_stig.inventory import Host
from sphere_stig.outcome import Verdict
from sphere_stig.ports import judge_ports, port_check
from sphere_stig.transports.ldap import reason

log = logging.getLogger(__name__)

# Ports on which TLS starts with the first byte; the others are plain LDAP.
LDAPS_PORTS = frozenset({636, 3269})
STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
EXPECTATION = (
    "an anonymous read of the root DSE, with StartTLS on 389/3268 and inside "
    "an LDAPS handshake on 636/3269"
)


@port_check("ldap_port")
def ldap_port(row: catalog.PortRow, host: Host) -> Verdict:
    timeout = host.connections.ldap.connect_timeout
    probes = [probe_ldap(host.address, port, host.fqdn, timeout) for port in row.ports]
    return judge_ports(row, host, probes, EXPECTATION)


def probe_ldap(address: str, port: int, server_name: str, timeout: float) -> PortProbe:
    """Read the root DSE on ``port``, over LDAPS or followed by StartTLS."""
    import ldap3

    use_ssl = port in LDAPS_PORTS
    log.debug(
        "RUN ldap root DSE %s:%d %s",
        address,
        port,
        "LDAPS" if use_ssl else "+ StartTLS",
    )
    tls = ldap3.Tls(validate=ssl.CERT_NONE, sni=server_name)
    server = ldap3.Server(
        address,
        port,
        use_ssl=use_ssl,
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=timeout,
    )
    conn = ldap3.Connection(
        server,
        receive_timeout=max(1, math.ceil(timeout)),
        auto_referrals=False,
        raise_exceptions=False,
    )
    try:
        conn.open()
        handshake = _tls_detail(conn) if use_ssl else None
        root = _root_dse(conn)
        if root is None:
            return PortProbe(
                address,
                port,
                "not LDAP",
                f"the root DSE read failed ({_result(conn)})",
            )
        read = f"root DSE read anonymously ({_describe(root)})"
        if use_ssl:
            return PortProbe(
                address, port, "open", f"LDAPS handshake ({handshake}); {read}"
            )
        return _start_tls(conn, address, port, read, root)
    except Exception as exc:  # ldap3 raises its own types and socket errors
        why = reason(exc, timeout)
        return PortProbe(address, port, _state(why), why)
    finally:
        try:
            conn.unbind()
        except Exception:  # the socket may already be gone
            pass


def _start_tls(
    conn: Any, address: str, port: int, read: str, root: dict[str, list[str]]
) -> PortProbe:
    offered = STARTTLS_OID in root.get("supportedExtension", [])
    try:
        conn.start_tls()
    except Exception as exc:
        note = "" if offered else " (the root DSE does not list the StartTLS extension)"
        return PortProbe(address, port, "no StartTLS", f"{read}; {reason(exc)}{note}")
    return PortProbe(address, port, "open", f"{read}; StartTLS ({_tls_detail(conn)})")


def _root_dse(conn: Any) -> dict[str, list[str]] | None:
    conn.search(
        "",
        "(objectClass=*)",
        "BASE",
        attributes=["dnsHostName", "defaultNamingContext", "supportedExtension"],
    )
    entries = [e for e in conn.response or () if e.get("type") == "searchResEntry"]
    if not entries:
        return None
    raw = entries[0].get("raw_attributes") or {}
    return {
        name: [v.decode("utf-8", "replace") for v in values]
        for name, values in raw.items()
    }


def _describe(root: dict[str, list[str]]) -> str:
    parts = []
    for name in ("dnsHostName", "defaultNamingContext"):
        if root.get(name):
            parts.append(f"{name} {root[name][0]}")
    return ", ".join(parts) or "no naming attributes returned"


def _tls_detail(conn: Any) -> str:
    sock = conn.socket
    if not isinstance(sock, ssl.SSLSocket):
        return "TLS"
    cipher = sock.cipher()
    return f"{sock.version()}, {cipher[0] if cipher else 'unknown cipher'}"


def _result(conn: Any) -> str:
    result = conn.result or {}
    text = result.get("description") or "no answer"
    message = (result.get("message") or "").strip()
    return f"{text}: {message}" if message else text


def _state(why: str) -> str:
    if why.startswith("connection refused"):
        return "refused"
    if why.startswith("no answer"):
        return "timeout"
    if why.startswith("host unreachable"):
        return "unreachable"
    return "failed"
