"""DNS rows of ``udp_service``: the server answers a query on port 53.

The question is the SOA record of the host's own domain (its fqdn without
the first label): a DNS server of that domain must know it, and the answer
says who is authoritative. UDP decides the row, as ordinary lookups use it;
the same question over TCP is recorded as context, because resolvers fall
back to TCP for answers too large for one datagram.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sphere_stig import catalog
from sphere_stig.inventory import Host
from sphere_stig.outcome import Evidence, Verdict, judge, not_reviewed

log = logging.getLogger(__name__)

# One UDP datagram is lost now and then; a second try settles it.
UDP_ATTEMPTS = 2
# Cap per attempt: a DNS server answers in milliseconds or not at all.
MAX_WAIT = 3.0
# Answers that show a DNS service willing to serve the runner.
ANSWERING = frozenset({"NOERROR", "NXDOMAIN"})


def probe_dns(row: catalog.PortRow, host: Host) -> Verdict:
    zone = zone_of(host.fqdn)
    if zone is None:
        return not_reviewed(
            f"{host.name}: the fqdn {host.fqdn!r} has no domain part to ask the SOA "
            "of; set the host's fqdn in the inventory"
        )
    wait = min(host.connections.tls.connect_timeout, MAX_WAIT)
    evidence = []
    for port in row.ports:
        udp = _ask("udp", host.address, port, zone, wait, UDP_ATTEMPTS)
        tcp = _ask("tcp", host.address, port, zone, wait, 1)
        evidence.append(_evidence(host, "udp", port, zone, udp, judged=True))
        evidence.append(_evidence(host, "tcp", port, zone, tcp, judged=False))
    return judge(
        f"{host.name} answers DNS queries on {row.port_text}/udp",
        f"{host.name} does not answer DNS queries on {row.port_text}/udp",
        *evidence,
    )


def zone_of(fqdn: str) -> str | None:
    """``dc1.lab.example`` -> ``lab.example``; None for a bare host name."""
    labels = [label for label in fqdn.rstrip(".").split(".") if label]
    return ".".join(labels[1:]) if len(labels) > 1 else None


def _ask(
    transport: str, address: str, port: int, zone: str, wait: float, attempts: int
) -> tuple[bool, str]:
    """(answered, what was seen) for one SOA question."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rdatatype

    send: Callable[..., Any] = dns.query.udp if transport == "udp" else dns.query.tcp
    query = dns.message.make_query(zone, dns.rdatatype.SOA)
    log.debug("RUN dns SOA %s @%s:%d/%s", zone, address, port, transport)
    for attempt in range(1, attempts + 1):
        try:
            response = send(query, address, port=port, timeout=wait)
        except dns.exception.Timeout:
            if attempt < attempts:
                continue
            tries = f" ({attempts} tries)" if attempts > 1 else ""
            return False, f"no answer within {wait:g} s{tries}"
        except ConnectionRefusedError:
            return False, "connection refused"
        except (OSError, dns.exception.DNSException) as exc:
            return False, f"query failed: {exc}"
        return _read(response, zone)
    raise AssertionError("unreachable")  # pragma: no cover


def _read(response: Any, zone: str) -> tuple[bool, str]:
    import dns.flags
    import dns.rcode
    import dns.rdatatype

    rcode = dns.rcode.to_text(response.rcode())
    authoritative = bool(response.flags & dns.flags.AA)
    soa = next(
        (r for r in response.answer if r.rdtype == dns.rdatatype.SOA and len(r)), None
    )
    if soa is not None:
        record = soa[0]
        seen = (
            f"SOA of {zone}: primary {record.mname}, contact {record.rname}, "
            f"serial {record.serial}"
        )
    else:
        seen = f"no SOA record for {zone} in the answer"
    kind = "authoritative" if authoritative else "not authoritative"
    return rcode in ANSWERING, f"{rcode}, {kind}; {seen}"


def _evidence(
    host: Host,
    transport: str,
    port: int,
    zone: str,
    outcome: tuple[bool, str],
    judged: bool,
) -> Evidence:
    answered, seen = outcome
    return Evidence(
        item=f"DNS {transport}/{port} on {host.name}",
        observed=seen,
        expected=f"an answer to a SOA query for {zone} (NOERROR or NXDOMAIN)",
        source=f"query from the suite runner to {host.address}:{port}/{transport}",
        ok=answered if judged else None,
    )
