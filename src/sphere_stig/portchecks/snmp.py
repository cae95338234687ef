"""SNMP rows (``udp_service`` on 161): the agent answers an SNMPv3 GET.

The probe asks for sysDescr and sysObjectID as the inventory's SNMPv3 user,
with authentication and privacy (authPriv): an answer shows that the agent
is reachable on the port and that a poller with proper credentials gets
data. At the same time it asks, once over SNMPv1 and once over v2c, with
the community "public". An answer there is recorded as a warning (those
versions send the community in clear text) but does not change the row's
verdict, which is about reachability.

A v3 request that goes unanswered fails the row. When the agent answers
but refuses the credentials (wrong key, unknown user, nothing readable),
the row ends as an error: the port is reachable, yet the probe could not
do what it was configured to do, so neither pass nor fail would be true.
"""

from __future__ import annotations

from sphere_stig import catalog
from sphere_stig.inventory import Host
from sphere_stig.outcome import (
    CollectionError,
    Evidence,
    Status,
    Verdict,
    failed,
    not_reviewed,
    passed,
)
from sphere_stig.transports import snmp

COMMUNITY = "public"
EXPECTED_V3 = "an answer to an authenticated and encrypted (authPriv) SNMPv3 GET"
EXPECTED_COMMUNITY = "no answer: SNMPv1 and v2c off, SNMPv3 with authPriv only"


def _missing_credentials(host: Host) -> Verdict:
    return not_reviewed(
        f"no SNMPv3 credentials for {host.name}: set connections.snmp (user, "
        "auth_key, priv_key) in the inventory; the suite polls with authPriv only",
        Evidence(
            item="connections.snmp",
            observed="user, auth_key or priv_key not set",
            expected="an SNMPv3 user with authentication and privacy keys",
            source=f"inventory, host {host.name}",
        ),
    )


def _v3_evidence(
    host: Host, target: snmp.SnmpTarget, credentials: snmp.UsmCredentials, answer
) -> Evidence:
    if isinstance(answer, BaseException):
        reason = answer.reason if isinstance(answer, CollectionError) else str(answer)
        observed, ok = f"no data as {credentials.describe()}: {reason}", False
    else:
        observed = (
            f"answered {credentials.describe()}: sysDescr "
            f"{answer[snmp.SYS_DESCR]!r}, sysObjectID {answer[snmp.SYS_OBJECT_ID]}"
        )
        ok = True
    return Evidence(
        item=f"SNMPv3 GET sysDescr, sysObjectID on udp/{target.port} of {host.name}",
        observed=observed,
        expected=EXPECTED_V3,
        source=f"probe from the suite runner to {target.source}",
        ok=ok,
    )


def _community_evidence(
    host: Host, target: snmp.SnmpTarget, version: str, answer
) -> Evidence:
    if isinstance(answer, BaseException):
        reason = answer.reason if isinstance(answer, CollectionError) else str(answer)
        observed = f"could not tell: {reason}"
    elif answer is None:
        observed = f"no answer within {target.timeout:g} s"
    else:
        observed = (
            f"WARNING: answers community {COMMUNITY!r} (sysDescr "
            f"{answer[snmp.SYS_DESCR]!r}); SNMP{version} sends the community in clear text"
        )
    return Evidence(
        item=f"SNMP{version} GET with community {COMMUNITY!r} on udp/{target.port} of {host.name}",
        observed=observed,
        expected=EXPECTED_COMMUNITY,
        source=f"probe from the suite runner to {target.source}",
        ok=None,
    )


def probe_snmp(row: catalog.PortRow, host: Host) -> Verdict:
    if not snmp.configured(host.connections.snmp):
        return _missing_credentials(host)
    # Every SNMP row of the port table names the one port 161.
    target = snmp.target_for(host, row.ports[0])
    credentials = snmp.credentials_for(host)
    session = snmp.SnmpSession(target, credentials)
    with snmp.SnmpPool() as pool:
        try:
            v3, v1, v2c = pool.gather(
                session.get(snmp.SYS_DESCR, snmp.SYS_OBJECT_ID),
                snmp.community_get(target, COMMUNITY, "v1"),
                snmp.community_get(target, COMMUNITY, "v2c"),
            )
        finally:
            session.close()
    evidence = (
        _v3_evidence(host, target, credentials, v3),
        _community_evidence(host, target, "v1", v1),
        _community_evidence(host, target, "v2c", v2c),
    )
    return judge_snmp(row, host, target, v3, {"v1": v1, "v2c": v2c}, evidence)


def judge_snmp(
    row: catalog.PortRow,
    host: Host,
    target: snmp.SnmpTarget,
    v3,
    community: dict[str, object],
    evidence: tuple[Evidence, ...],
) -> Verdict:
    """The row's verdict from the three answers (pure, for the unit tests)."""
    where = f"{row.port_text} ({row.protocols})"
    answering = [v for v, a in community.items() if isinstance(a, dict)]
    if not isinstance(v3, BaseException):
        warning = (
            f"; warning: also answers SNMP{'/'.join(answering)} community {COMMUNITY!r}"
            if answering
            else ""
        )
        return passed(
            f"{host.name} answers SNMPv3 authPriv on {where}{warning}", *evidence
        )
    reason = v3.reason if isinstance(v3, CollectionError) else str(v3)
    if not snmp.is_silence(v3):
        return Verdict(
            Status.ERROR,
            f"the SNMP agent on {target.source} answered, but the SNMPv3 GET failed: "
            f"{reason}; fix connections.snmp or the agent's user",
            evidence,
        )
    if answering:
        return Verdict(
            Status.ERROR,
            f"the SNMP agent on {target.source} answers SNMP{'/'.join(answering)} but "
            f"not the SNMPv3 request ({reason})",
            evidence,
        )
    return failed(f"{host.name} does not answer SNMP on {where}: {reason}", *evidence)
