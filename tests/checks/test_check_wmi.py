"""AGENT-01..03: the remote WMI agent's groups and root/cimv2 permission."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sphere_stig.checks import REGISTRY, Facts, Inputs
from sphere_stig.collectors.wmi import (
    GROUP_SIDS,
    LocalGroup,
    NamespaceSecurity,
    Principal,
    WmiFacts,
)
from sphere_stig.outcome import CheckError, Status

HOST = "win01"
ACCOUNT = "LAB\\svc-sphere-wmi"
SID = "S-1-5-21-2286413741-3962487311-1130587624-1131"
OTHER = "S-1-5-21-2286413741-3962487311-1130587624-1105"
DEFAULTS = "(A;CI;CCDCLCSWRPWPRCWD;;;BA)(A;CI;CCDCRP;;;NS)(A;CI;CCDCRP;;;AU)"
INHERITED_DEFAULTS = DEFAULTS.replace(";CI;", ";CIID;")
INPUTS = Inputs(values={"wmi_agent_account": ACCOUNT})


def wmi_facts(
    cimv2: str | None = None,
    *,
    children: dict[str, str | None] | None = None,
    dcom: tuple[Principal, ...] = (Principal(ACCOUNT, SID),),
    perfmon: tuple[Principal, ...] = (Principal(ACCOUNT, SID),),
    account_sid: str | None = SID,
    sid_names: dict[str, str | None] | None = None,
) -> WmiFacts:
    """Facts as the collector returns them for win01."""
    cimv2 = cimv2 if cimv2 is not None else f"O:BAG:BAD:(A;CI;CCWP;;;{SID}){DEFAULTS}"
    if children is None:
        children = {"root/cimv2/Security": inherited(f"(A;CIID;CCWP;;;{SID})")}
    namespaces = [NamespaceSecurity("root/cimv2", cimv2)]
    namespaces += [
        NamespaceSecurity(path, sddl, None if sddl else "Access denied ")
        for path, sddl in children.items()
    ]
    return WmiFacts(
        host=HOST,
        computer_name="WIN01",
        account=Principal(ACCOUNT, account_sid),
        account_error=None if account_sid else "could not be translated",
        groups={
            "Distributed COM Users": LocalGroup(
                GROUP_SIDS["Distributed COM Users"], dcom
            ),
            "Performance Monitor Users": LocalGroup(
                GROUP_SIDS["Performance Monitor Users"], perfmon
            ),
        },
        namespaces=tuple(namespaces),
        sid_names=sid_names if sid_names is not None else {SID: ACCOUNT},
    )


def inherited(ace: str) -> str:
    return f"O:BAG:BAD:AI{ace}{INHERITED_DEFAULTS}"


def run(check: str, facts: WmiFacts, inputs: Inputs = INPUTS):
    return REGISTRY[check].fn(Facts(host=HOST, wmi=facts), inputs)


def access(cimv2: str, **kwargs):
    return run("wmi_namespace_access", wmi_facts(cimv2, **kwargs))


def test_checks_need_the_wmi_facts_only():
    for name in (
        "wmi_agent_dcom_users",
        "wmi_agent_perfmon_users",
        "wmi_namespace_access",
    ):
        assert REGISTRY[name].needs == ("wmi",)


# -- groups --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "group", "sid"),
    [
        ("wmi_agent_dcom_users", "Distributed COM Users", "S-1-5-32-562"),
        ("wmi_agent_perfmon_users", "Performance Monitor Users", "S-1-5-32-558"),
    ],
)
def test_member_of_the_group_passes_with_the_group_observed(check, group, sid):
    verdict = run(check, wmi_facts())

    assert verdict.status is Status.PASS
    assert verdict.summary == f"{ACCOUNT} is a member of the local group {group}"
    assert [e.item for e in verdict.evidence] == [f"local group {group} ({sid})"]
    assert verdict.evidence[0].ok


def test_field_drift_fails_only_the_performance_monitor_requirement():
    # Given win01's drift: the account is missing from Performance Monitor Users
    facts = wmi_facts(perfmon=(Principal("LAB\\svc-sphere", OTHER),))

    # When each requirement's check judges it
    dcom = run("wmi_agent_dcom_users", facts)
    perfmon = run("wmi_agent_perfmon_users", facts)

    # Then AGENT-01 passes, AGENT-02 fails naming what was found
    assert dcom.status is Status.PASS
    assert perfmon.status is Status.FAIL
    assert perfmon.summary == (
        f"{ACCOUNT} is not a member of the local group Performance Monitor Users: "
        f"{ACCOUNT} is not a member (members: LAB\\svc-sphere)"
    )
    assert perfmon.evidence[0].source == (
        "win01: local group Performance Monitor Users (wmi_facts.ps1)"
    )


def test_membership_is_matched_by_sid_whatever_the_name_says():
    # ADSI may print the account by another name (renamed, or a UPN input).
    facts = wmi_facts(dcom=(Principal("LAB\\svc-wmi-renamed", SID),))

    assert run("wmi_agent_dcom_users", facts).status is Status.PASS


def test_same_name_with_another_sid_is_not_the_account():
    # A deleted and recreated account keeps its name, not its SID.
    facts = wmi_facts(dcom=(Principal(ACCOUNT, OTHER),))

    assert run("wmi_agent_dcom_users", facts).status is Status.FAIL


def test_without_a_sid_membership_is_matched_by_name_ignoring_case():
    facts = wmi_facts(account_sid=None, dcom=(Principal("lab\\SVC-SPHERE-WMI"),))

    verdict = run("wmi_agent_dcom_users", facts)

    assert verdict.status is Status.PASS
    assert verdict.evidence[-1].observed == (
        "not resolved on the host (could not be translated); matched by name only"
    )


def test_unreadable_group_is_an_error_not_a_finding():
    facts = wmi_facts()
    broken = LocalGroup("S-1-5-32-558", (), "Access is denied.")
    facts = replace(facts, groups={**facts.groups, "Performance Monitor Users": broken})

    with pytest.raises(CheckError, match="could not be listed \\(Access is denied.\\)"):
        run("wmi_agent_perfmon_users", facts)


def test_missing_input_is_not_reviewed():
    verdict = run("wmi_agent_dcom_users", wmi_facts(), Inputs())

    assert verdict.status is Status.NOT_REVIEWED
    assert "wmi_agent_account" in verdict.summary


# -- root/cimv2 ----------------------------------------------------------------


def test_remote_enable_with_container_inherit_passes():
    verdict = access(f"O:BAG:BAD:(A;CI;CCWP;;;{SID}){DEFAULTS}")

    assert verdict.status is Status.PASS
    first, inheritance, children, enable = verdict.evidence[:4]
    assert first.observed == f"granted by (A;CI;CCWP;;;{SID})"
    assert inheritance.observed == f"CI set on (A;CI;CCWP;;;{SID})"
    assert children.observed == "present in all 1 read (root/cimv2/Security)"
    assert enable.ok is None
    assert enable.observed == f"held through Authenticated Users, {ACCOUNT}"


def test_grant_to_this_namespace_only_fails_the_inheritance():
    verdict = access(
        f"O:BAG:BAD:(A;;CCWP;;;{SID}){DEFAULTS}",
        children={"root/cimv2/Security": inherited("")},
    )

    assert verdict.status is Status.FAIL
    assert [e.ok for e in verdict.evidence[:3]] == [True, False, False]
    assert verdict.evidence[1].observed == "no allow ACE for the account carries CI"
    assert verdict.evidence[2].observed == "missing in root/cimv2/Security"


def test_no_propagate_reaches_only_the_first_level():
    verdict = access(f"O:BAG:BAD:(A;CINP;CCWP;;;{SID}){DEFAULTS}")

    assert verdict.status is Status.FAIL
    assert verdict.evidence[1].observed.startswith("NP limits the grant")


def test_subnamespaces_only_grant_leaves_root_cimv2_without_it():
    verdict = access(f"O:BAG:BAD:(A;CIIO;CCWP;;;{SID}){DEFAULTS}")

    assert verdict.status is Status.FAIL
    assert verdict.evidence[0].observed == "no allow ACE for the account"
    assert verdict.evidence[1].ok


def test_two_aces_together_cover_the_namespace_and_its_children():
    verdict = access(
        f"O:BAG:BAD:(A;;WP;;;{SID})(A;CIIO;WP;;;{SID})(A;;CC;;;{SID}){DEFAULTS}"
    )

    assert verdict.status is Status.PASS


@pytest.mark.parametrize(
    "rights",
    [
        "CCDCRP",  # what Authenticated Users hold by default: no Remote Enable
        "0x1f",  # every namespace right below Remote Enable
        "RCWD",  # Read Security and Edit Security
    ],
)
def test_rights_without_remote_enable_fail(rights):
    verdict = access(f"O:BAG:BAD:(A;CI;{rights};;;{SID}){DEFAULTS}")

    assert verdict.status is Status.FAIL
    assert verdict.evidence[0].observed == "no allow ACE for the account"


def test_remote_enable_as_a_hex_mask_counts():
    assert access(f"O:BAG:BAD:(A;CI;0x21;;;{SID}){DEFAULTS}").status is Status.PASS


def test_a_deny_ace_for_the_account_wins():
    verdict = access(f"O:BAG:BAD:(D;CI;WP;;;{SID})(A;CI;CCWP;;;{SID}){DEFAULTS}")

    assert verdict.status is Status.FAIL
    assert verdict.evidence[0].observed == (
        f"granted by (A;CI;CCWP;;;{SID}); denied by (D;CI;WP;;;{SID})"
    )
    assert verdict.evidence[1].observed.endswith(
        f"subnamespaces inherit the deny (D;CI;WP;;;{SID})"
    )


def test_a_deny_for_everyone_on_the_network_stops_the_account():
    verdict = access(f"O:BAG:BAD:(D;;WP;;;NU)(A;CI;CCWP;;;{SID}){DEFAULTS}")

    assert verdict.status is Status.FAIL
    assert verdict.evidence[0].ok is False


def test_a_deny_for_another_account_does_not_matter():
    verdict = access(f"O:BAG:BAD:(D;CI;WP;;;{OTHER})(A;CI;CCWP;;;{SID}){DEFAULTS}")

    assert verdict.status is Status.PASS


def test_a_grant_to_another_sid_is_not_the_account():
    verdict = access(
        f"O:BAG:BAD:(A;CI;CCWP;;;{OTHER}){DEFAULTS}",
        sid_names={OTHER: "LAB\\svc-sphere"},
    )

    assert verdict.status is Status.FAIL


def test_without_the_accounts_sid_the_grant_is_matched_by_name():
    # Given a host that could not translate the input name but could name
    # the SIDs of the descriptor
    facts_kwargs = {"account_sid": None, "sid_names": {SID: "lab\\Svc-Sphere-WMI"}}

    verdict = access(f"O:BAG:BAD:(A;CI;CCWP;;;{SID}){DEFAULTS}", **facts_kwargs)

    assert verdict.status is Status.PASS
    assert (
        verdict.evidence[0].item == f"Remote Enable (0x20) for {ACCOUNT} on root/cimv2"
    )


def test_without_any_sid_or_name_the_check_cannot_guess():
    with pytest.raises(CheckError, match="neither can be matched"):
        access(
            f"O:BAG:BAD:(A;CI;CCWP;;;{SID}){DEFAULTS}",
            account_sid=None,
            sid_names={SID: None},
        )


def test_a_sid_given_as_the_input_is_matched_directly():
    facts = wmi_facts(account_sid=None, sid_names={})

    verdict = run(
        "wmi_namespace_access", facts, Inputs(values={"wmi_agent_account": SID.lower()})
    )

    assert verdict.status is Status.PASS


def test_a_protected_subnamespace_without_the_grant_fails():
    # Given a namespace below that blocks inheritance (D:P) and lists
    # only the administrators
    children = {
        "root/cimv2/power": inherited(f"(A;CIID;CCWP;;;{SID})"),
        "root/cimv2/Security/MicrosoftVolumeEncryption": (
            "O:BAG:BAD:P(A;CI;CCDCLCSWRPWPRCWD;;;BA)"
        ),
    }

    verdict = access(f"O:BAG:BAD:(A;CI;CCWP;;;{SID}){DEFAULTS}", children=children)

    assert verdict.status is Status.FAIL
    assert verdict.evidence[2].observed == (
        "missing in root/cimv2/Security/MicrosoftVolumeEncryption"
    )


def test_unreadable_subnamespaces_are_recorded_not_judged():
    children = {
        "root/cimv2/power": inherited(f"(A;CIID;CCWP;;;{SID})"),
        "root/cimv2/Security/MicrosoftVolumeEncryption": None,
    }

    verdict = access(f"O:BAG:BAD:(A;CI;CCWP;;;{SID}){DEFAULTS}", children=children)

    assert verdict.status is Status.PASS
    assert verdict.evidence[2].observed == (
        "present in all 1 read (root/cimv2/power); not readable: "
        "root/cimv2/Security/MicrosoftVolumeEncryption"
    )


def test_unreadable_root_cimv2_is_an_error():
    unread = NamespaceSecurity("root/cimv2", None, "Access denied ")
    broken = replace(wmi_facts(), namespaces=(unread,))

    with pytest.raises(CheckError, match="could not be read \\(Access denied \\)"):
        run("wmi_namespace_access", broken)


def test_broken_sddl_is_an_error_naming_the_namespace():
    with pytest.raises(CheckError, match="win01: WMI namespace root/cimv2"):
        access("O:BAG:BAD:(A;CI;CCWP;;")
