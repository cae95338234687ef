"""``smtp_port`` rows: the SMTP gateway speaks SMTP, protected by TLS.

Port 25 must greet, offer STARTTLS and complete it; port 465 must complete
a TLS handshake at once and greet inside it. Both insist on TLS 1.2 or
later. The STIG overview writes the row as "25 / 465": a site uses one of
them, so the row passes when either port does.
"""

from __future__ import annotations

from sphere_stig import catalog
from sphere_stig.collectors.netprobe import PortProbe
from sphere_stig.collectors.smtpprobe import Mode, SmtpProbe, probe_smtp
from sphere_stig.inventory import Host
from sphere_stig.outcome import Verdict
from sphere_stig.ports import judge_ports, port_check

IMPLICIT_TLS_PORTS = frozenset({465})
EXPECTATION = (
    "SMTP protected by TLS 1.2 or later (STARTTLS offered and completed on 25, "
    "TLS from the first byte on 465)"
)
# Probe states that are about the TCP connection itself keep their name.
_CONNECTION_STATES = frozenset({"refused", "timeout", "unreachable"})


def mode_for(port: int) -> Mode:
    return "implicit" if port in IMPLICIT_TLS_PORTS else "starttls"


def describe(probe: SmtpProbe) -> str:
    """The probe in one line: greeting, TLS version and cipher, certificate."""
    parts = [probe.detail]
    if probe.banner:
        parts.append(f"greeting 220 {probe.banner!r}")
    if probe.tls_version:
        parts.append(f"{probe.tls_version} ({probe.cipher})")
    if probe.cert_subject:
        parts.append(
            f"certificate subject {probe.cert_subject}, issuer {probe.cert_issuer}"
        )
    return "; ".join(parts)


def as_port_probe(probe: SmtpProbe) -> PortProbe:
    if probe.ok:
        state = "open"
    elif probe.state in _CONNECTION_STATES:
        state = probe.state
    elif probe.state == "no_smtp":
        state = "not SMTP"
    else:
        state = "no TLS"
    return PortProbe(probe.address, probe.port, state, describe(probe))


@port_check("smtp_port")
def smtp_port(row: catalog.PortRow, host: Host) -> Verdict:
    timeout = host.connections.tls.connect_timeout
    name = host.connections.tls.server_name or host.fqdn
    probes = [
        as_port_probe(probe_smtp(host.address, port, timeout, name, mode_for(port)))
        for port in row.ports
    ]
    return judge_ports(row, host, probes, EXPECTATION)
