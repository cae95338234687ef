"""``udp_service`` rows: a question in the row's own protocol, over UDP.

A UDP port cannot be "open" the way a TCP port is: silence means nothing.
So each protocol is asked something it must answer: a DNS query, an SNMPv3
request, a SQL Server Browser ping. The protocol modules do the asking.
"""

from __future__ import annotations

from sphere_stig import catalog
from sphere_stig.inventory import Host
from sphere_stig.outcome import Verdict, not_reviewed
from sphere_stig.ports import port_check


def _prober(row: catalog.PortRow):
    protocols = row.protocols.upper()
    if "SNMP" in protocols:
        from sphere_stig.portchecks.snmp import probe_snmp

        return probe_snmp
    if "DNS" in protocols:
        from sphere_stig.portchecks.dns import probe_dns

        return probe_dns
    if 1434 in row.ports:
        from sphere_stig.portchecks.sql import probe_sql_browser

        return probe_sql_browser
    return None


@port_check("udp_service")
def udp_service(row: catalog.PortRow, host: Host) -> Verdict:
    try:
        probe = _prober(row)
    except ImportError:
        probe = None
    if probe is None:
        return not_reviewed(
            f"no UDP probe for {row.protocols} on {row.port_text} yet: confirm "
            f"{row.source} -> {row.target} on the source host"
        )
    return probe(row, host)
