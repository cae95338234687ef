"""``snmp_trap`` rows: the Monitor receives SNMP traps on a UDP port.

A trap is a datagram that nobody acknowledges, so sending one from the
runner proves nothing either way. The target host itself says whether a
socket is bound to the port: host_facts.ps1 lists the UDP endpoints on the
catalog's trap ports (``Get-NetUDPEndpoint``) in the same WinRM command that
gathers the rules' facts. What a firewall between the MDM server and the
Monitor does to the datagrams stays for the reviewer, and the evidence says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sphere_stig import catalog
from sphere_stig.collectors.windows import SOURCE
from sphere_stig.facts import Listener
from sphere_stig.inventory import Host
from sphere_stig.outcome import CheckError, Evidence, Verdict, judge
from sphere_stig.ports import port_check

if TYPE_CHECKING:
    from sphere_stig.collectors.cache import FactCache

SECTION = "udp_listeners"


@port_check("snmp_trap", needs=("windows",))
def snmp_trap(row: catalog.PortRow, host: Host, facts: FactCache) -> Verdict:
    windows = facts.windows(host)
    source = f"{host.name}: UDP endpoints (Get-NetUDPEndpoint, {SOURCE})"
    failed = [w for w in windows.warnings if w.startswith(f"{SECTION}:")]
    if failed:
        raise CheckError(
            f"{source}: the UDP endpoints could not be listed ({'; '.join(failed)}); "
            "give the audit account the right to run Get-NetUDPEndpoint and run again"
        )
    evidence = [
        _port_evidence(row, port, windows.udp_listeners, source) for port in row.ports
    ]
    return judge(
        f"{host.name} receives {row.protocols} on {row.port_text}",
        f"nothing on {host.name} receives {row.protocols} on {row.port_text}",
        *evidence,
        Evidence(
            item=f"path from {row.source} to {host.name}",
            observed="not examined: a listener proves the receiver, not the firewall",
            expected=f"{row.source} may send to {host.name} on {row.port_text}",
            source=source,
            ok=None,
        ),
    )


def _port_evidence(
    row: catalog.PortRow, port: int, listeners: tuple[Listener, ...], source: str
) -> Evidence:
    bound = [listener for listener in listeners if listener.port == port]
    observed = (
        "bound by "
        + ", ".join(
            f"{b.process or 'an unnamed process'} on {b.address}" for b in bound
        )
        if bound
        else f"nothing bound to UDP {port}"
    )
    return Evidence(
        item=f"{row.protocols} udp/{port} on the host",
        observed=observed,
        expected=f"a socket bound to UDP {port} (the Monitor's trap receiver)",
        source=source,
        ok=bool(bound),
    )
