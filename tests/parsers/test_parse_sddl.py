"""parsers/sddl.py: security descriptors as Windows prints them."""

import pytest

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.sddl import (
    CONTAINER_INHERIT,
    INHERIT_ONLY,
    INHERITED,
    parse_sddl,
)

SOURCE = "win01: WMI namespace root/cimv2"
AGENT = "S-1-5-21-2286413741-3962487311-1130587624-1131"
# root/cimv2 of a Windows Server 2019 host after wmimgmt.msc granted the
# agent Execute Methods, Enable Account and Remote Enable for "This namespace
# and subnamespaces".
CIMV2 = (
    f"O:BAG:BAD:AR(A;CI;CCDCWP;;;{AGENT})(A;CI;CCDCLCSWRPWPRCWD;;;BA)"
    "(A;CI;CCDCRP;;;NS)(A;CI;CCDCRP;;;LS)(A;CI;CCDCRP;;;AU)"
)


def test_reads_owner_group_and_every_ace():
    # Given the SDDL of root/cimv2, when it is parsed
    descriptor = parse_sddl(CIMV2, SOURCE)

    # Then aliases become SIDs and the rights become one mask
    assert descriptor.owner == descriptor.group == "S-1-5-32-544"
    assert descriptor.dacl_flags == "AR"
    assert not descriptor.protected
    assert [a.trustee for a in descriptor.dacl] == [
        AGENT,
        "S-1-5-32-544",
        "S-1-5-20",
        "S-1-5-19",
        "S-1-5-11",
    ]
    agent = descriptor.dacl[0]
    assert agent.allows and not agent.denies
    assert agent.mask == 0x1 | 0x2 | 0x20
    assert agent.flags == CONTAINER_INHERIT
    assert agent.text == f"(A;CI;CCDCWP;;;{AGENT})"
    assert descriptor.dacl[1].mask == 0x6003F


def test_hex_masks_inherited_deny_and_protected_dacl():
    text = f"O:SYG:SYD:PAI(D;CIIOID;0x20;;;{AGENT.lower()})(A;;0x21;;;WD)"

    descriptor = parse_sddl(text, SOURCE)

    deny, allow = descriptor.dacl
    assert descriptor.protected and descriptor.owner == "S-1-5-18"
    assert deny.denies and deny.mask == 0x20 and deny.trustee == AGENT
    assert deny.has(INHERITED) and deny.has(INHERIT_ONLY)
    assert allow.trustee == "S-1-1-0" and allow.flags == 0


def test_domain_relative_aliases_stay_as_written():
    descriptor = parse_sddl("D:(A;;WP;;;DA)", SOURCE)

    assert descriptor.owner is None
    assert descriptor.dacl[0].trustee == "DA"


def test_sacl_and_conditional_aces_do_not_confuse_the_reader():
    text = (
        'O:BAG:BAD:(XA;;WP;;;AU;(@User.Project Any_of {"D:x"}))'
        "(A;;CC;;;BA)S:(AU;SA;WP;;;WD)"
    )

    descriptor = parse_sddl(text, SOURCE)

    assert [a.kind for a in descriptor.dacl] == ["XA", "A"]
    assert not descriptor.dacl[0].allows


@pytest.mark.parametrize(
    "text, message",
    [
        ("O:BAG:BA", "has no DACL"),
        ("D:NO_ACCESS_CONTROL", "NO_ACCESS_CONTROL"),
        ("D:(A;CI;WP;;;BA", "unbalanced '('"),
        ("D:(A;CI;WP;;;BA))", "unbalanced ')'"),
        ("D:(A;CI;WP;;BA)", "has 5 fields"),
        ("D:(Q;CI;WP;;;BA)", "unknown type 'Q'"),
        ("D:(A;XX;WP;;;BA)", "unknown code 'XX'"),
        ("D:(A;CI;ZZ;;;BA)", "unknown code 'ZZ'"),
        ("D:(A;CI;WP;;;LAB\\svc)", "neither a SID nor an SDDL alias"),
        ("hello", "is not SDDL"),
    ],
)
def test_malformed_sddl_is_a_check_error_naming_the_source(text, message):
    with pytest.raises(CheckError) as raised:
        parse_sddl(text, SOURCE)

    assert str(raised.value).startswith(f"{SOURCE}: ")
    assert message in str(raised.value)
