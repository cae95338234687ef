"""Judging a row of the port and protocol tables on one host.

A row says which source talks to which target on which port. The suite probes
the target from the runner, or, where a probe proves nothing (a UDP port that
only receives), asks the target host itself through its Windows facts. Rows
whose target is outside the inventory (Apple push, the ISEC7 licence server)
and rows with no fixed port can only be confirmed on the source host's
firewall and are reported as not reviewed. Rows with a legend condition
apply only when the inventory says the condition holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sphere_stig import catalog
from sphere_stig.collectors.netprobe import probe_tcp
from sphere_stig.inventory import Host
from sphere_stig.outcome import (
    CollectionError,
    Evidence,
    Verdict,
    judge,
    not_applicable,
    not_reviewed,
)

if TYPE_CHECKING:
    from sphere_stig.collectors.cache import FactCache

PortCheck = Callable[..., Verdict]

# Port check name (ports.yml ``check``) -> the function that probes and
# judges a row on a host. Protocol modules add theirs with @port_check.
PORT_CHECKS: dict[str, PortCheck] = {}
# The fact sources (as in the rule checks' ``needs``) a port check reads
# from the target itself; such a check is called with the run's FactCache
# as a third argument.
PORT_NEEDS: dict[str, tuple[str, ...]] = {}


def port_check(
    name: str, *, needs: tuple[str, ...] = ()
) -> Callable[[PortCheck], PortCheck]:
    if name not in catalog.PORT_CHECKS:
        raise ValueError(f"port check {name!r} is not a check name of ports.yml")

    def wrap(fn: PortCheck) -> PortCheck:
        if name in PORT_CHECKS:
            raise ValueError(f"port check {name} registered twice")
        PORT_CHECKS[name] = fn
        if needs:
            PORT_NEEDS[name] = needs
        return fn

    return wrap


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


def evaluate_port(
    row: catalog.PortRow, host: Host, facts: FactCache | None = None
) -> Verdict:
    """The row's verdict on ``host``; ``facts`` serves checks that read the host.

    A collection failure raises ``CollectionError``, as for the rules.
    """
    unmet = _condition_unmet(row, host)
    if unmet is not None:
        return unmet
    check = PORT_CHECKS.get(row.check)
    if check is None:
        return not_reviewed(
            f"{row.check} rows are not probed from the runner: confirm "
            f"{row.source} -> {row.target} {row.protocols} {row.port_text} on the "
            "firewall of the source host"
        )
    if row.check in PORT_NEEDS:
        if facts is None:
            raise TypeError(f"port check {row.check} needs the run's FactCache")
        return check(row, host, facts)
    return check(row, host)


# Probe states that mean the host said nothing at all (no reset either).
SILENT = ("timeout", "unreachable")


def judge_ports(row: catalog.PortRow, host: Host, probes, expectation: str) -> Verdict:
    """Pass when the row's ports answer: all of them, or one for "80 / 443" rows.

    In a row that offers alternatives, the ports that do not answer are
    recorded as context, not as failures. When no port answers anything,
    not even a refusal, the row is not judged: ``CollectionError``.
    """
    any_open = any(p.open for p in probes)
    silent = [p for p in probes if p.state in SILENT]
    if probes and len(silent) == len(probes):
        # No SYN-ACK and no reset: a host that is down and a firewall that
        # drops the traffic look the same from here. Neither is a verdict.
        seen = "; ".join(f"{p.port}: {p.detail}" for p in silent)
        raise CollectionError(
            host.name,
            f"probe from the suite runner to {host.address}",
            f"no answer on {row.port_text} ({seen}): the host is down or the "
            "traffic is filtered, and a probe cannot tell which; check that the "
            "host is up and reachable from the runner, then run again",
        )
    evidence = [
        Evidence(
            item=f"{row.protocols} {row.transport}/{p.port} on {host.name}",
            observed=f"{p.state}: {p.detail}",
            expected=(f"one of {row.port_text}: " if row.match == "any" else "")
            + expectation,
            source=f"probe from the suite runner to {host.address}:{p.port}",
            ok=p.open
            if row.match == "all" or not any_open
            else (True if p.open else None),
        )
        for p in probes
    ]
    return judge(
        f"{host.name} answers on {row.port_text} ({row.protocols})",
        f"{host.name} does not answer as {row.port_text} ({row.protocols}) requires",
        *evidence,
    )


@port_check("tcp_port")
def tcp_port(row: catalog.PortRow, host: Host) -> Verdict:
    timeout = host.connections.tls.connect_timeout
    probes = [probe_tcp(host.address, port, timeout) for port in row.ports]
    return judge_ports(row, host, probes, "accepting TCP connections")


@port_check("tls_port")
def tls_port(row: catalog.PortRow, host: Host) -> Verdict:
    timeout = host.connections.tls.connect_timeout
    name = host.connections.tls.server_name or host.fqdn
    probes = [probe_tcp(host.address, port, timeout, name) for port in row.ports]
    return judge_ports(row, host, probes, "completing a TLS handshake")


# Protocol-specific port checks register themselves on import.
import sphere_stig.portchecks  # noqa: E402,F401
