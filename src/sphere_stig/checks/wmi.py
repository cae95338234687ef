"""Remote-agent WMI permissions on a monitored Windows host (AGENT-01..03).

A remote Sphere agent reads monitored hosts over WMI with one service account
(input ``wmi_agent_account``). On each such host the account must belong to
the local groups Distributed COM Users (AGENT-01) and Performance Monitor
Users (AGENT-02), and hold Remote Enable on root/cimv2 in a way that its
subnamespaces inherit (AGENT-03).

The account is matched by SID whenever the host could resolve its name, so
that a group list or an ACE naming it differently still counts; otherwise by
its DOMAIN\\name, ignoring case.

Membership counts only when direct, and a namespace grant only when it names
the account itself.
TODO(nested-groups): grants through a domain group the account belongs to are
not followed, because the facts hold no domain group memberships; lift this
when the directory collector can expand the account's groups.
"""

from __future__ import annotations

from collections.abc import Iterable

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import conclude, input_not_set
from sphere_stig.collectors.wmi import (
    DCOM_USERS,
    PERFORMANCE_MONITOR_USERS,
    NamespaceSecurity,
    Principal,
    WmiFacts,
)
from sphere_stig.outcome import CheckError, Evidence, Verdict
from sphere_stig.parsers.sddl import (
    CONTAINER_INHERIT,
    INHERIT_ONLY,
    NO_PROPAGATE_INHERIT,
    Ace,
    parse_sddl,
)

ACCOUNT_INPUT = "wmi_agent_account"
COLLECTOR = "wmi_facts.ps1"

# WMI namespace rights (wbemcli.h): WBEM_ENABLE and WBEM_REMOTE_ACCESS.
ENABLE_ACCOUNT = 0x1
REMOTE_ENABLE = 0x20
# GENERIC_ALL maps to every namespace right.
GENERIC_ALL = 0x10000000

# Groups that hold every account signing in over the network, so a deny
# naming one of them also stops the agent's account.
EVERYONE_SIDS = {
    "S-1-1-0": "Everyone",
    "S-1-5-2": "NETWORK",
    "S-1-5-11": "Authenticated Users",
}


# -- AGENT-01 / AGENT-02 ------------------------------------------------------


@register("wmi_agent_dcom_users", needs=("wmi",))
def wmi_agent_dcom_users(facts: Facts, inputs: Inputs) -> Verdict:
    return _membership(facts, inputs, DCOM_USERS)


@register("wmi_agent_perfmon_users", needs=("wmi",))
def wmi_agent_perfmon_users(facts: Facts, inputs: Inputs) -> Verdict:
    return _membership(facts, inputs, PERFORMANCE_MONITOR_USERS)


def _membership(facts: Facts, inputs: Inputs, label: str) -> Verdict:
    wmi = require_wmi(facts)
    name = inputs.get(ACCOUNT_INPUT)
    if not name:
        return input_not_set(ACCOUNT_INPUT, facts.host, "the agent's DOMAIN\\name")
    account = _account(wmi, str(name))
    return conclude(
        f"{account.name} is a member of the local group {label}",
        f"{account.name} is not a member of the local group {label}",
        [_member_evidence(wmi, label, account), *_account_note(wmi, account)],
    )


def _member_evidence(wmi: WmiFacts, label: str, account: Principal) -> Evidence:
    group = wmi.groups.get(label)
    source = f"{wmi.host}: local group {label} ({COLLECTOR})"
    if group is None:
        raise CheckError(
            f"{source}: the collector returned nothing for the group; report this"
        )
    if group.error:
        raise CheckError(
            f"{source}: the members could not be listed ({group.error}); give the "
            "audit account the right to read local groups and run again"
        )
    found = any(_same_principal(member, account) for member in group.members)
    listed = ", ".join(m.name for m in group.members) or "none"
    return Evidence(
        item=f"local group {label} ({group.sid})",
        observed=(
            f"{account.name} is a member (members: {listed})"
            if found
            else f"{account.name} is not a member (members: {listed})"
        ),
        expected=f"{account.name} among the direct members",
        source=source,
        ok=found,
    )


# -- AGENT-03 -----------------------------------------------------------------


@register("wmi_namespace_access", needs=("wmi",))
def wmi_namespace_access(facts: Facts, inputs: Inputs) -> Verdict:
    wmi = require_wmi(facts)
    name = inputs.get(ACCOUNT_INPUT)
    if not name:
        return input_not_set(ACCOUNT_INPUT, facts.host, "the agent's DOMAIN\\name")
    account = _account(wmi, str(name))
    cimv2 = wmi.cimv2
    source = f"{wmi.host}: WMI namespace root/cimv2 ({COLLECTOR})"
    if cimv2 is None or cimv2.sddl is None:
        reason = cimv2.error if cimv2 is not None else "not reported"
        raise CheckError(
            f"{source}: the security descriptor could not be read ({reason}); the "
            "audit account needs Read Security on the namespace; run again"
        )
    descriptor = parse_sddl(cimv2.sddl, source)
    matcher = _Matcher(wmi, account, source)
    aces = [a for a in descriptor.dacl if a.mask & (REMOTE_ENABLE | GENERIC_ALL)]

    grants = [a for a in aces if a.allows and matcher.is_account(a.trustee)]
    denies = [a for a in aces if a.denies and matcher.stops_account(a.trustee)]
    here = [a for a in grants if not a.has(INHERIT_ONLY)]
    inherited = [a for a in grants if a.has(CONTAINER_INHERIT)]
    everywhere = [a for a in inherited if not a.has(NO_PROPAGATE_INHERIT)]
    denied_here = [a for a in denies if not a.has(INHERIT_ONLY)]
    denied_below = [a for a in denies if a.has(CONTAINER_INHERIT)]

    who = matcher.label
    evidence = [
        Evidence(
            item=f"Remote Enable (0x20) for {who} on root/cimv2",
            observed=_observed(here, denied_here, "no allow ACE for the account"),
            expected="an allow ACE naming the account with Remote Enable, no deny",
            source=source,
            ok=bool(here) and not denied_here,
        ),
        Evidence(
            item=f"Remote Enable for {who} inherited by subnamespaces",
            observed=_inheritance(inherited, everywhere, denied_below),
            expected="that allow ACE with CONTAINER_INHERIT (CI), without NP",
            source=source,
            ok=bool(everywhere) and not denied_below,
        ),
        _subnamespace_evidence(wmi, matcher),
        _enable_account_note(descriptor.dacl, matcher, source),
        *_account_note(wmi, account),
    ]
    return conclude(
        f"{account.name} holds Remote Enable on root/cimv2 and its subnamespaces",
        f"{account.name} lacks Remote Enable on root/cimv2 or its subnamespaces",
        evidence,
    )


def _observed(allows: list[Ace], denies: list[Ace], none: str) -> str:
    parts = []
    if allows:
        parts.append("granted by " + " ".join(a.text for a in allows))
    else:
        parts.append(none)
    if denies:
        parts.append("denied by " + " ".join(a.text for a in denies))
    return "; ".join(parts)


def _inheritance(inherited: list[Ace], everywhere: list[Ace], denied: list[Ace]) -> str:
    if everywhere:
        observed = "CI set on " + " ".join(a.text for a in everywhere)
    elif inherited:
        observed = "NP limits the grant to the namespaces directly below: " + " ".join(
            a.text for a in inherited
        )
    else:
        observed = "no allow ACE for the account carries CI"
    if denied:
        observed += "; subnamespaces inherit the deny " + " ".join(
            a.text for a in denied
        )
    return observed


def _subnamespace_evidence(wmi: WmiFacts, matcher: _Matcher) -> Evidence:
    """What the namespaces below root/cimv2 actually hold (a sample).

    Inheritance can be blocked below (a protected DACL), so the grant is
    looked for in each namespace the collector read.
    """
    source = f"{wmi.host}: WMI namespaces below root/cimv2 ({COLLECTOR})"
    children = wmi.subnamespaces
    readable = [n for n in children if n.sddl is not None]
    unread = [n.path for n in children if n.sddl is None]
    lacking = [n.path for n in readable if not _effective(n, matcher, source)]
    if not readable:
        observed = "none read" + (
            f" (unreadable: {', '.join(unread)})" if unread else ""
        )
        return Evidence(
            item="Remote Enable in the subnamespaces",
            observed=observed,
            expected="recorded for the reviewer",
            source=source,
        )
    paths = ", ".join(n.path for n in readable)
    observed = (
        f"missing in {', '.join(lacking)}"
        if lacking
        else f"present in all {len(readable)} read ({paths})"
    )
    if unread:
        observed += f"; not readable: {', '.join(unread)}"
    return Evidence(
        item=f"Remote Enable for {matcher.label} in the subnamespaces",
        observed=observed,
        expected="an allow ACE (explicit or inherited) in every one, no deny",
        source=source,
        ok=not lacking,
    )


def _effective(namespace: NamespaceSecurity, matcher: _Matcher, source: str) -> bool:
    assert namespace.sddl is not None
    descriptor = parse_sddl(namespace.sddl, f"{source} {namespace.path}")
    applies = [
        a
        for a in descriptor.dacl
        if a.mask & (REMOTE_ENABLE | GENERIC_ALL) and not a.has(INHERIT_ONLY)
    ]
    allowed = any(a.allows and matcher.is_account(a.trustee) for a in applies)
    denied = any(a.denies and matcher.stops_account(a.trustee) for a in applies)
    return allowed and not denied


def _enable_account_note(
    aces: Iterable[Ace], matcher: _Matcher, source: str
) -> Evidence:
    # Remote Enable is useless without Enable Account, which hosts give to
    # Authenticated Users by default; the requirement names only the former.
    holders = sorted(
        {
            matcher.name_of(a.trustee)
            for a in aces
            if a.allows
            and a.mask & (ENABLE_ACCOUNT | GENERIC_ALL)
            and not a.has(INHERIT_ONLY)
            and (matcher.is_account(a.trustee) or a.trustee in EVERYONE_SIDS)
        }
    )
    return Evidence(
        item="Enable Account (0x1) on root/cimv2",
        observed=f"held through {', '.join(holders)}" if holders else "not held",
        expected="recorded for the reviewer (WMI refuses an account without it)",
        source=source,
    )


# -- matching the account -----------------------------------------------------


def require_wmi(facts: Facts) -> WmiFacts:
    if facts.wmi is None:
        raise CheckError(
            f"{facts.host}: the WMI facts this check needs were not gathered; "
            "the check must declare needs=('wmi',) in the registry"
        )
    return facts.wmi


def _account(wmi: WmiFacts, name: str) -> Principal:
    """The account from the input, with the SID the host resolved for it."""
    if name.upper().startswith("S-1-"):
        return Principal(name, name.upper())
    if wmi.account is not None and _same_name(wmi.account.name, name):
        return Principal(name, wmi.account.sid)
    return Principal(name)


def _account_note(wmi: WmiFacts, account: Principal) -> list[Evidence]:
    if account.sid is not None:
        return []
    reason = f" ({wmi.account_error})" if wmi.account_error else ""
    return [
        Evidence(
            item=f"SID of {account.name}",
            observed=f"not resolved on the host{reason}; matched by name only",
            expected="recorded for the reviewer",
            source=f"{wmi.host}: {COLLECTOR}",
        )
    ]


def _same_name(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _same_principal(member: Principal, account: Principal) -> bool:
    if account.sid is not None and member.sid is not None:
        return member.sid.upper() == account.sid.upper()
    return _same_name(member.name, account.name)


class _Matcher:
    """Decides whether an ACE's trustee (a SID) is the agent's account."""

    def __init__(self, wmi: WmiFacts, account: Principal, source: str) -> None:
        self.wmi = wmi
        self.account = account
        self.source = source
        self.label = f"{account.name} ({account.sid})" if account.sid else account.name

    def name_of(self, trustee: str) -> str:
        return self.wmi.sid_names.get(trustee) or EVERYONE_SIDS.get(trustee) or trustee

    def is_account(self, trustee: str) -> bool:
        if self.account.sid is not None:
            return trustee == self.account.sid.upper()
        name = self.wmi.sid_names.get(trustee)
        if name is None and trustee.startswith("S-1-5-21-"):
            # An unresolved domain SID may be the account: matching by name
            # cannot tell, so the verdict would be a guess.
            raise CheckError(
                f"{self.source}: {self.account.name} has no SID on the host and the "
                f"ACE trustee {trustee} has no name, so neither can be matched; "
                "check that the host can resolve the domain account, then run again"
            )
        return name is not None and _same_name(name, self.account.name)

    def stops_account(self, trustee: str) -> bool:
        return trustee in EVERYONE_SIDS or self.is_account(trustee)
