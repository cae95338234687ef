"""AGENT-04 to AGENT-06: what the remote ActiveSync agent may read in AD.

The STIG overview (2.1.2.2) asks three things of the service account a
remote agent uses to parse Exchange ActiveSync logs: it belongs to "View-Only
Organization Management" (AGENT-04), that group holds Read on every OU that
holds user accounts (AGENT-05), and the grant applies to "This object and
all descendant objects" (AGENT-06).

Read is judged by the bits of the access mask, not by names: Read Property,
List Contents and Read Permissions at least (what the Security dialog's
"Read" box sets, plus List Object), or Generic Read / Generic All. Masks are
compared as numbers because tools print them differently (samba-tool writes
``RPLCLORC``, winacl ``0x20094``).

AGENT-05 and AGENT-06 look at the same entries, so both checks report the
grant and its inheritance for every OU; each judges only its own question.
"""

from __future__ import annotations

from collections.abc import Iterable

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import and_list, conclude
from sphere_stig.collectors.directory import Ace, DirectoryFacts, OuAcl, rights
from sphere_stig.outcome import CheckError, Evidence, Verdict, not_reviewed

READ_PROPERTY = 0x10
LIST_CONTENTS = 0x04
LIST_OBJECT = 0x80
READ_CONTROL = 0x20000
# The least a grant must hold to count as Read.
READ = READ_PROPERTY | LIST_CONTENTS | READ_CONTROL
GENERIC_READ = 0x80000000
GENERIC_ALL = 0x10000000
# What the generic bits stand for on a directory object.
_GENERIC = {
    GENERIC_READ: READ | LIST_OBJECT,
    GENERIC_ALL: 0xF01FF,
}
CONTAINER_INHERIT = 0x02
NO_PROPAGATE_INHERIT = 0x04
INHERIT_ONLY = 0x08
INHERITED = 0x10

EXPECTED_READ = (
    f"an allow entry for the group with Read ({READ:#x} = {rights(READ)} at least, "
    "or Generic Read / Generic All) on the whole object"
)
EXPECTED_SCOPE = (
    "Read on the OU itself and inherited by every descendant object: "
    "CI set, NP not set, not limited to one class of descendants"
)
MEMBERS_SHOWN = 10


@register("activesync_agent_group", needs=("directory",))
def activesync_agent_group(facts: Facts, inputs: Inputs) -> Verdict:
    """AGENT-04: the agent account is a member of the group, directly or nested."""
    directory = _directory(facts)
    group = _group_evidence(directory)
    foreign = _foreign_domain(directory)
    if foreign is not None:
        # This DC cannot tell which account of the other domain is meant.
        return not_reviewed(
            f"{directory.host}: {directory.account} belongs to domain {foreign}, "
            f"this domain controller serves {directory.netbios_domain}; check the "
            "membership on a domain controller of that domain",
            group,
        )
    evidence = [group, _account_evidence(directory)]
    if directory.group_dn is not None and directory.account_dn is not None:
        membership = _membership(directory)
        if membership is None:
            return not_reviewed(
                f"{directory.host}: {directory.group_name} has more than "
                f"{len(directory.members)} members; the walk stopped before "
                f"finding {directory.account}",
                *evidence,
            )
        evidence.append(membership)
    return conclude(
        f"{directory.account} is a member of {directory.group_name}",
        f"{directory.account} is not a member of {directory.group_name}",
        evidence,
    )


@register("activesync_ou_read", needs=("directory",))
def activesync_ou_read(facts: Facts, inputs: Inputs) -> Verdict:
    """AGENT-05: the group holds Read on every OU that holds user accounts."""
    directory = _directory(facts)
    evidence = [_group_evidence(directory)]
    for ou in directory.ous:
        grant = _grant(directory, ou)
        evidence.append(grant.read_evidence(directory.source))
        evidence.append(grant.scope_evidence(directory.source, judged=False))
    return conclude(
        f"{directory.group_name} can read {_ou_count(directory)}",
        f"{directory.group_name} cannot read every OU that holds user accounts",
        evidence,
    )


@register("activesync_ou_inheritance", needs=("directory",))
def activesync_ou_inheritance(facts: Facts, inputs: Inputs) -> Verdict:
    """AGENT-06: those grants reach the OU and every object below it."""
    directory = _directory(facts)
    evidence = [_group_evidence(directory)]
    for ou in directory.ous:
        grant = _grant(directory, ou)
        evidence.append(grant.read_evidence(directory.source, judged=False))
        evidence.append(grant.scope_evidence(directory.source))
    return conclude(
        f"{directory.group_name}'s Read covers {_ou_count(directory)} and every "
        "object below",
        f"{directory.group_name}'s Read does not reach every object below the OUs",
        evidence,
    )


# -- the pieces -------------------------------------------------------------


def _directory(facts: Facts) -> DirectoryFacts:
    if not isinstance(facts.directory, DirectoryFacts):
        raise CheckError(f"{facts.host}: no directory facts were gathered")
    return facts.directory


def _ou_count(directory: DirectoryFacts) -> str:
    count = len(directory.ous)
    return f"all {count} OUs that hold user accounts" if count != 1 else "the OU"


def _group_evidence(directory: DirectoryFacts) -> Evidence:
    if directory.group_dn is None:
        observed = f"no group named {directory.group_name} under {directory.base_dn}"
    else:
        observed = f"{directory.group_dn} (SID {directory.group_sid})"
    return Evidence(
        item=f"group {directory.group_name}",
        observed=observed,
        expected=f"the Exchange role group {directory.group_name} exists",
        source=directory.source,
        ok=directory.group_dn is not None,
    )


def _account_evidence(directory: DirectoryFacts) -> Evidence:
    return Evidence(
        item=f"agent account {directory.account}",
        observed=directory.account_dn or f"not found: {directory.account_note}",
        expected="the account named by input activesync_agent_account exists",
        source=directory.source,
        ok=directory.account_dn is not None,
    )


def _membership(directory: DirectoryFacts) -> Evidence | None:
    """The membership observation, or None when the member walk was cut short."""
    member = directory.member(directory.account_dn)
    item = f"{directory.account} in {directory.group_name}"
    expected = "a member, directly or through nested groups"
    if member is not None:
        how = (
            f"member through nested group {' > '.join(member.via)}"
            if member.via
            else "direct member"
        )
        return Evidence(item, how, expected, directory.source, ok=True)
    if not directory.members_complete:
        return None
    names = [m.name for m in directory.members]
    shown = and_list(names[:MEMBERS_SHOWN])
    more = (
        f" and {len(names) - MEMBERS_SHOWN} more" if len(names) > MEMBERS_SHOWN else ""
    )
    observed = (
        f"not a member; the group's members are {shown}{more}"
        if names
        else "not a member; the group has no members"
    )
    return Evidence(item, observed, expected, directory.source, ok=False)


class _Grant:
    """What an OU's entries for the group add up to."""

    def __init__(self, directory: DirectoryFacts, ou: OuAcl) -> None:
        self.ou = ou
        self.group_missing = directory.group_dn is None
        whole = [a for a in ou.aces if a.object_type is None]
        on_object = [a for a in whole if not a.flags & INHERIT_ONLY]
        inherited = [a for a in whole if _reaches_all_descendants(a)]
        self.object_mask = _effective(on_object)
        self.descendant_mask = _effective(inherited)

    @property
    def reads_object(self) -> bool:
        return _holds_read(self.object_mask)

    @property
    def reads_descendants(self) -> bool:
        return _holds_read(self.descendant_mask)

    def _missing(self) -> str | None:
        if self.group_missing:
            return "the group does not exist, so nothing can be granted to it"
        if not self.ou.exists:
            return "the OU does not exist"
        return None

    def _entries(self) -> str:
        if not self.ou.aces:
            return f"no entry for the group among the {self.ou.dacl_size} of the DACL"
        return "; ".join(a.describe() for a in self.ou.aces)

    def read_evidence(self, source: str, judged: bool = True) -> Evidence:
        missing = self._missing()
        if missing:
            observed, ok = missing, False
        else:
            verdict = "grants Read" if self.reads_object else "grants no Read"
            observed, ok = f"{verdict} on the OU: {self._entries()}", self.reads_object
        return Evidence(
            item=f"Read on {self.ou.dn}",
            observed=observed,
            expected=EXPECTED_READ,
            source=source,
            ok=ok if judged else None,
        )

    def scope_evidence(self, source: str, judged: bool = True) -> Evidence:
        missing = self._missing()
        if missing:
            observed, ok = missing, False
        else:
            ok = self.reads_object and self.reads_descendants
            observed = (
                f"applies to {_scope(self.reads_object, self.reads_descendants)}: "
                f"{self._entries()}"
            )
        return Evidence(
            item=f"scope of the Read on {self.ou.dn}",
            observed=observed,
            expected=EXPECTED_SCOPE,
            source=source,
            ok=ok if judged else None,
        )


def _grant(directory: DirectoryFacts, ou: OuAcl) -> _Grant:
    if ou.exists and not ou.readable:
        raise CheckError(
            f"{directory.host}: {directory.source} returned {ou.dn} without its "
            "security descriptor; give the audit account Read Permissions on it"
        )
    return _Grant(directory, ou)


def _reaches_all_descendants(ace: Ace) -> bool:
    return (
        bool(ace.flags & CONTAINER_INHERIT)
        and not ace.flags & NO_PROPAGATE_INHERIT
        and ace.inherited_object_type is None
    )


def _expand(mask: int) -> int:
    for bit, meaning in _GENERIC.items():
        if mask & bit:
            mask |= meaning
    return mask


def _effective(aces: Iterable[Ace]) -> int:
    """Rights the entries allow and no deny among them takes away.

    Windows reads a DACL in order: explicit entries, denies first, then the
    inherited ones. So an explicit deny beats every allow, while an
    inherited deny only beats inherited allows.
    """
    allowed = {True: 0, False: 0}
    denied = {True: 0, False: 0}
    for ace in aces:
        inherited = bool(ace.flags & INHERITED)
        if ace.allow:
            allowed[inherited] |= _expand(ace.mask)
        else:
            denied[inherited] |= _expand(ace.mask)
    explicit = allowed[False] & ~denied[False]
    return explicit | (allowed[True] & ~denied[False] & ~denied[True])


def _foreign_domain(directory: DirectoryFacts) -> str | None:
    """The account's domain when it is not the one this DC serves."""
    domain, sep, _ = (directory.account or "").partition("\\")
    ours = directory.netbios_domain
    if sep and ours and domain.upper() != ours.upper():
        return domain
    return None


def _holds_read(mask: int) -> bool:
    return mask & READ == READ


def _scope(on_object: bool, below: bool) -> str:
    if on_object and below:
        return "this object and all descendant objects"
    if on_object:
        return "this object only (not inherited by the objects below)"
    if below:
        return "descendant objects only (not the OU itself)"
    return "neither the OU nor the objects below"
