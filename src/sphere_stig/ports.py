"""Judging a row of the port and protocol tables on one host.

A row says which source talks to which target on which port. The suite probes
the target from the runner. Rows whose target is outside the inventory
(Apple push, the ISEC7 licence server) and rows with no fixed port can only
be confirmed on the source host's firewall and are reported as not reviewed.
Rows with a legend condition apply only when the inventory says the condition
holds.
"""

from __future__ import annotations

from sphere_stig import catalog
from sphere_stig.collectors.netprobe import probe_tcp
from sphere_stig.inventory import Host
from sphere_stig.outcome import Evidence, Verdict, judge, not_applicable, not_reviewed

PROBED = {"tcp_port": False, "tls_port": True, "ldap_port": False, "smtp_port": False}


def _condition_unmet(row: catalog.PortRow, host: Host) -> Verdict | None:
    for name in row.inputs:
        if not host.inputs.get(name):
            return not_applicable(
                f"row applies only when: {' '.join(row.conditions)} "
                f"(inventory input {name} is not true)"
            )
    for number, text in zip(row.legend, row.conditions, strict=True):
        # Legend 5 follows from the connection settings, not from an input.
        if number == 5 and not host.connections.sql.instance:
            return not_applicable(
                f"row applies only when: {text} (no connections.sql.instance for this host)"
            )
    return None


def evaluate_port(row: catalog.PortRow, host: Host) -> Verdict:
    unmet = _condition_unmet(row, host)
    if unmet is not None:
        return unmet
    if row.check not in PROBED:
        return not_reviewed(
            f"{row.check} rows are not probed from the runner yet: confirm "
            f"{row.source} -> {row.target} {row.protocols} {row.port_text} on the "
            "firewall of the source host"
        )
    timeout = host.connections.tls.connect_timeout
    tls_name = (host.connections.tls.server_name or host.fqdn) if PROBED[row.check] else None
    probes = [probe_tcp(host.address, port, timeout, tls_name) for port in row.ports]
    # "80 / 443" in the table offers alternatives: one of them answering meets
    # the row, and the closed ones are recorded as context, not as failures.
    any_open = any(p.open for p in probes)
    evidence = [
        Evidence(
            item=f"{row.protocols} {row.transport}/{p.port} on {host.name}",
            observed=f"{p.state}: {p.detail}",
            expected=("one of " + row.port_text if row.match == "any" else "accepting connections")
            + (" with TLS" if tls_name else ""),
            source=f"probe from the suite runner to {host.address}:{p.port}",
            ok=p.open if row.match == "all" or not any_open else (True if p.open else None),
        )
        for p in probes
    ]
    return judge(
        f"{host.name} answers on {row.port_text} ({row.protocols})",
        f"{host.name} does not answer as {row.port_text} ({row.protocols}) requires",
        *evidence,
    )
