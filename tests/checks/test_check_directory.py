"""AGENT-04..06: the ActiveSync agent's group membership and OU read grants.

The directory facts are built by hand here; tests/collectors/test_directory.py
covers how they are read, and tests/lab/test_samba_lab.py the live DC.
"""

from dataclasses import replace

import pytest

from sphere_stig.checks import REGISTRY, Facts
from sphere_stig.collectors.directory import Ace, DirectoryFacts, GroupMember, OuAcl
from sphere_stig.outcome import CheckError, Status

HOST = "dc1"
GROUP = "View-Only Organization Management"
GROUP_DN = f"CN={GROUP},OU=Microsoft Exchange Security Groups,DC=lab,DC=example"
GROUP_SID = "S-1-5-21-1-2-3-1107"
AGENT_DN = "CN=svc-sphere-eas,CN=Users,DC=lab,DC=example"
HQ = "OU=Users,OU=HQ,DC=lab,DC=example"
FIELD = "OU=Users,OU=Field,DC=lab,DC=example"
SOURCE = "LDAP ldaps://127.0.0.3:636 as svc-stig-scan@lab.example"

# What samba-tool stores for RPLCLORC, and the flags of the lab's two OUs.
READ = 0x20094
CI, NP, IO, ID = 0x02, 0x04, 0x08, 0x10
USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"
PERSONAL_INFO = "77b5b886-944a-11d1-aebd-0000f80367c1"

AGENT = GroupMember(AGENT_DN, "svc-sphere-eas", is_group=False)


def ou(dn=HQ, *aces, exists=True, readable=True):
    return OuAcl(dn, exists=exists, readable=readable, aces=aces, dacl_size=30)


def directory(**changes):
    facts = DirectoryFacts(
        host=HOST,
        source=SOURCE,
        base_dn="DC=lab,DC=example",
        netbios_domain="LAB",
        group_name=GROUP,
        group_dn=GROUP_DN,
        group_sid=GROUP_SID,
        members=(AGENT,),
        members_complete=True,
        account="LAB\\svc-sphere-eas",
        account_dn=AGENT_DN,
        account_note=None,
        ous=(ou(HQ, Ace(True, READ, CI)), ou(FIELD, Ace(True, READ, CI))),
    )
    return replace(facts, **changes)


def run(check, inputs, facts):
    return REGISTRY[check].fn(Facts(host=HOST, directory=facts), inputs)


def agent_group(inputs, **changes):
    return run("activesync_agent_group", inputs, directory(**changes))


def ou_read(inputs, *ous):
    return run("activesync_ou_read", inputs, directory(ous=ous))


def ou_scope(inputs, *ous):
    return run("activesync_ou_inheritance", inputs, directory(ous=ous))


def judged(verdict):
    return [e for e in verdict.evidence if e.ok is not None]


# -- registration -----------------------------------------------------------


def test_the_three_checks_read_the_directory_only():
    for name in (
        "activesync_agent_group",
        "activesync_ou_read",
        "activesync_ou_inheritance",
    ):
        assert REGISTRY[name].needs == ("directory",)


def test_without_directory_facts_the_check_cannot_judge(inputs):
    with pytest.raises(CheckError, match="no directory facts"):
        REGISTRY["activesync_agent_group"].fn(Facts(host=HOST), inputs)


# -- AGENT-04: membership ---------------------------------------------------


def test_a_direct_member_passes(inputs):
    verdict = agent_group(inputs)

    assert verdict.status is Status.PASS
    assert verdict.summary == f"LAB\\svc-sphere-eas is a member of {GROUP}"
    assert verdict.evidence[-1].observed == "direct member"
    assert all(e.ok for e in verdict.evidence)


def test_a_member_through_nested_groups_passes_and_names_the_path(inputs):
    nested = GroupMember(AGENT_DN, "svc-sphere-eas", False, via=("EAS Agents", "Svc"))
    members = (
        GroupMember("CN=EAS Agents,DC=lab,DC=example", "EAS Agents", True),
        nested,
    )

    verdict = agent_group(inputs, members=members)

    assert verdict.status is Status.PASS
    assert (
        verdict.evidence[-1].observed == "member through nested group EAS Agents > Svc"
    )


def test_the_member_match_ignores_the_case_of_the_dn(inputs):
    verdict = agent_group(inputs, account_dn=AGENT_DN.upper())

    assert verdict.status is Status.PASS


def test_an_account_outside_the_group_fails_and_lists_the_members(inputs):
    others = tuple(
        GroupMember(f"CN=user{n},CN=Users,DC=lab,DC=example", f"user{n}", False)
        for n in range(12)
    )

    verdict = agent_group(inputs, members=others)

    assert verdict.status is Status.FAIL
    observed = verdict.evidence[-1].observed
    assert observed.startswith("not a member; the group's members are user0, user1")
    assert observed.endswith("user9 and 2 more")
    assert verdict.summary.startswith(f"LAB\\svc-sphere-eas is not a member of {GROUP}")


def test_an_empty_group_fails(inputs):
    verdict = agent_group(inputs, members=())

    assert verdict.status is Status.FAIL
    assert verdict.evidence[-1].observed == "not a member; the group has no members"


def test_a_missing_group_fails(inputs):
    verdict = agent_group(inputs, group_dn=None, group_sid=None, members=())

    assert verdict.status is Status.FAIL
    group = verdict.evidence[0]
    assert group.ok is False
    assert group.observed == f"no group named {GROUP} under DC=lab,DC=example"


def test_a_missing_account_fails_with_the_search_that_found_nothing(inputs):
    note = "no account matches (sAMAccountName=svc-sphere-eas) under DC=lab,DC=example"

    verdict = agent_group(inputs, account_dn=None, account_note=note, members=())

    assert verdict.status is Status.FAIL
    account = verdict.evidence[1]
    assert (account.ok, account.observed) == (False, f"not found: {note}")


def test_an_account_of_another_domain_is_left_to_that_domain(inputs):
    verdict = agent_group(inputs, account="CORP\\svc-sphere-eas", account_dn=None)

    assert verdict.status is Status.NOT_REVIEWED
    assert (
        "belongs to domain CORP, this domain controller serves LAB" in verdict.summary
    )


def test_a_member_walk_cut_short_is_not_a_finding(inputs):
    verdict = agent_group(inputs, members=(), members_complete=False)

    assert verdict.status is Status.NOT_REVIEWED
    assert "the walk stopped before finding LAB\\svc-sphere-eas" in verdict.summary


# -- AGENT-05: Read on each OU ----------------------------------------------


def test_read_on_every_ou_passes(inputs):
    verdict = ou_read(
        inputs, ou(HQ, Ace(True, READ, CI)), ou(FIELD, Ace(True, READ, 0))
    )

    assert verdict.status is Status.PASS
    assert verdict.summary == f"{GROUP} can read all 2 OUs that hold user accounts"
    assert [e.item for e in judged(verdict)] == [
        f"group {GROUP}",
        f"Read on {HQ}",
        f"Read on {FIELD}",
    ]


def test_the_read_evidence_gives_the_mask_its_rights_and_flags(inputs):
    verdict = ou_read(inputs, ou(HQ, Ace(True, READ, CI)))

    read, scope = verdict.evidence[1], verdict.evidence[2]
    assert (
        read.observed == "grants Read on the OU: allow 0x20094 (RC|LO|RP|LC), flags CI"
    )
    assert read.source == SOURCE
    assert "0x20014 = RC|RP|LC at least" in read.expected
    # AGENT-05 reports the scope too, as context.
    assert scope.ok is None
    assert scope.observed.startswith(
        "applies to this object and all descendant objects"
    )


def test_read_on_the_ou_alone_still_satisfies_agent_05(inputs):
    verdict = ou_read(inputs, ou(FIELD, Ace(True, READ, 0)))

    assert verdict.status is Status.PASS
    assert verdict.evidence[2].observed.startswith(
        "applies to this object only (not inherited by the objects below)"
    )


@pytest.mark.parametrize(
    "mask",
    [0x20014, READ, 0x80000000, 0x10000000, 0xF01FF],
    ids=["RP-LC-RC", "RPLCLORC", "GenericRead", "GenericAll", "FullControl"],
)
def test_these_masks_count_as_read(inputs, mask):
    assert ou_read(inputs, ou(HQ, Ace(True, mask, CI))).status is Status.PASS


@pytest.mark.parametrize(
    "mask",
    [0x10, 0x20010, 0x20004, 0x14, 0x40000000],
    ids=["RP", "RP-RC", "LC-RC", "RP-LC", "GenericWrite"],
)
def test_these_masks_fall_short_of_read(inputs, mask):
    verdict = ou_read(inputs, ou(HQ, Ace(True, mask, CI)))

    assert verdict.status is Status.FAIL
    assert verdict.evidence[1].observed.startswith("grants no Read on the OU")


def test_read_split_over_two_entries_adds_up(inputs):
    verdict = ou_read(inputs, ou(HQ, Ace(True, 0x20000, CI), Ace(True, 0x14, CI)))

    assert verdict.status is Status.PASS


def test_an_ou_without_an_entry_for_the_group_fails(inputs):
    verdict = ou_read(inputs, ou(HQ, Ace(True, READ, CI)), ou(FIELD))

    assert verdict.status is Status.FAIL
    failing = [e for e in judged(verdict) if not e.ok]
    assert [e.item for e in failing] == [f"Read on {FIELD}"]
    assert failing[0].observed == (
        "grants no Read on the OU: no entry for the group among the 30 of the DACL"
    )
    assert verdict.summary.startswith(f"{GROUP} cannot read every OU")


def test_read_on_one_property_set_only_is_not_read_on_the_ou(inputs):
    partial = Ace(True, READ, CI, object_type=PERSONAL_INFO)

    verdict = ou_read(inputs, ou(HQ, partial))

    assert verdict.status is Status.FAIL
    assert f"only object type {PERSONAL_INFO}" in verdict.evidence[1].observed


def test_an_explicit_deny_takes_read_away(inputs):
    verdict = ou_read(inputs, ou(HQ, Ace(True, READ, CI), Ace(False, 0x10, 0)))

    assert verdict.status is Status.FAIL
    assert "deny 0x10 (RP), flags none" in verdict.evidence[1].observed


def test_an_inherited_deny_does_not_beat_an_explicit_allow(inputs):
    verdict = ou_read(inputs, ou(HQ, Ace(True, READ, CI), Ace(False, 0x10, CI | ID)))

    assert verdict.status is Status.PASS


def test_an_inherited_deny_beats_an_inherited_allow(inputs):
    verdict = ou_read(
        inputs, ou(HQ, Ace(True, READ, CI | ID), Ace(False, 0x10, CI | ID))
    )

    assert verdict.status is Status.FAIL


def test_an_inherit_only_grant_does_not_read_the_ou_itself(inputs):
    verdict = ou_read(inputs, ou(HQ, Ace(True, READ, CI | IO)))

    assert verdict.status is Status.FAIL
    assert verdict.evidence[2].observed.startswith(
        "applies to descendant objects only (not the OU itself)"
    )


def test_a_missing_ou_fails(inputs):
    verdict = ou_read(inputs, ou(HQ, exists=False))

    assert verdict.status is Status.FAIL
    assert verdict.evidence[1].observed == "the OU does not exist"


def test_a_missing_group_fails_every_ou(inputs):
    facts = directory(group_dn=None, group_sid=None, ous=(ou(HQ), ou(FIELD)))

    verdict = run("activesync_ou_read", inputs, facts)

    assert verdict.status is Status.FAIL
    assert [e.ok for e in judged(verdict)] == [False, False, False]


def test_an_ou_whose_security_the_audit_account_cannot_read_is_an_error(inputs):
    with pytest.raises(CheckError, match=f"{FIELD} without its security descriptor"):
        ou_read(inputs, ou(HQ, Ace(True, READ, CI)), ou(FIELD, readable=False))


# -- AGENT-06: this object and all descendant objects -----------------------


def test_a_container_inherit_grant_passes(inputs):
    verdict = ou_scope(inputs, ou(HQ, Ace(True, READ, CI)))

    assert verdict.status is Status.PASS
    scope = verdict.evidence[2]
    assert scope.ok is True
    assert scope.observed == (
        "applies to this object and all descendant objects: "
        "allow 0x20094 (RC|LO|RP|LC), flags CI"
    )
    # AGENT-06 reports the Read itself as context.
    assert verdict.evidence[1].ok is None


def test_a_grant_on_the_ou_only_fails_like_the_lab_field_ou(inputs):
    verdict = ou_scope(
        inputs, ou(HQ, Ace(True, READ, CI)), ou(FIELD, Ace(True, READ, 0))
    )

    assert verdict.status is Status.FAIL
    failing = [e for e in judged(verdict) if not e.ok]
    assert [e.item for e in failing] == [f"scope of the Read on {FIELD}"]
    assert failing[0].observed == (
        "applies to this object only (not inherited by the objects below): "
        "allow 0x20094 (RC|LO|RP|LC), flags none"
    )


def test_an_inherited_grant_from_a_parent_ou_passes(inputs):
    assert ou_scope(inputs, ou(HQ, Ace(True, READ, CI | ID))).status is Status.PASS


def test_a_grant_on_the_ou_plus_an_inherit_only_grant_covers_both(inputs):
    verdict = ou_scope(inputs, ou(HQ, Ace(True, READ, 0), Ace(True, READ, CI | IO)))

    assert verdict.status is Status.PASS


def test_no_propagation_stops_at_the_children(inputs):
    verdict = ou_scope(inputs, ou(HQ, Ace(True, READ, CI | NP)))

    assert verdict.status is Status.FAIL
    assert "flags CI|NP" in verdict.evidence[2].observed


def test_a_grant_inherited_only_by_user_objects_misses_the_other_descendants(inputs):
    verdict = ou_scope(
        inputs, ou(HQ, Ace(True, READ, CI, inherited_object_type=USER_CLASS))
    )

    assert verdict.status is Status.FAIL
    assert f"inherited only by class {USER_CLASS}" in verdict.evidence[2].observed


def test_an_inherit_only_grant_alone_misses_the_ou_itself(inputs):
    assert ou_scope(inputs, ou(HQ, Ace(True, READ, CI | IO))).status is Status.FAIL


def test_inheritance_without_read_fails(inputs):
    verdict = ou_scope(inputs, ou(HQ, Ace(True, 0x10, CI)))

    assert verdict.status is Status.FAIL
    assert verdict.evidence[2].observed.startswith(
        "applies to neither the OU nor the objects below"
    )


def test_a_missing_ou_fails_agent_06_too(inputs):
    verdict = ou_scope(inputs, ou(FIELD, exists=False))

    assert verdict.status is Status.FAIL
    assert verdict.evidence[2].observed == "the OU does not exist"
