"""collectors/directory.py against an in-memory directory (ldap3 MOCK_SYNC).

ldap3's mock server evaluates the collector's real filters and scopes, but
it has no root DSE and rejects the SD-flags control. ``MockDc`` answers the
root DSE itself and records the controls before passing each search on
without them. Security descriptors are built with winacl from SDDL, as a
DC stores them. The live Samba DC is read in tests/lab/test_samba_lab.py.
"""

from __future__ import annotations

import ldap3
import pytest
from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
from winacl.dtyp.sid import SID

from sphere_stig.collectors import directory as collector
from sphere_stig.collectors.cache import GATHERERS, FactCache, WinRMPool
from sphere_stig.collectors.directory import Ace, read_directory
from sphere_stig.inventory import AssetInfo, Connections, Host, LdapSettings
from sphere_stig.outcome import CollectionError

BASE = "DC=lab,DC=example"
CONFIG = f"CN=Configuration,{BASE}"
GROUP = "View-Only Organization Management"
GROUP_DN = f"CN={GROUP},OU=Microsoft Exchange Security Groups,{BASE}"
GROUP_SID = "S-1-5-21-1-2-3-1107"
AGENT_DN = f"CN=svc-sphere-eas,CN=Users,{BASE}"
NESTED_DN = f"CN=EAS Agents,OU=Groups,{BASE}"
HQ = f"OU=Users,OU=HQ,{BASE}"
FIELD = f"OU=Users,OU=Field,{BASE}"
SD_FLAGS_OID = "1.2.840.113556.1.4.801"
OTHER_SID = "S-1-5-21-1-2-3-513"


def descriptor(*aces: str) -> bytes:
    dacl = "".join(aces)
    sddl = f"O:S-1-5-32-544G:S-1-5-32-544D:(A;;0xf01ff;;;S-1-5-32-544){dacl}"
    return SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()


class MockDc:
    """The collector's view of a DC, backed by ldap3's MOCK_SYNC strategy."""

    def __init__(self) -> None:
        self._conn = ldap3.Connection(
            ldap3.Server("dc-test", get_info=ldap3.NONE),
            client_strategy=ldap3.MOCK_SYNC,
            raise_exceptions=False,
            auto_referrals=False,
        )
        self._conn.bind()
        self.server = self._conn.server
        self.result: dict = {}
        self.response: list = []
        self.searches: list[tuple[str, str, str, list | None]] = []
        self.root = {
            "defaultNamingContext": [BASE.encode()],
            "configurationNamingContext": [CONFIG.encode()],
        }

    def add(self, dn: str, **attributes) -> None:
        self._conn.strategy.add_entry(dn, attributes)

    def search(self, base, ldap_filter, scope, attributes=None, controls=None):
        self.searches.append((base, ldap_filter, scope, controls))
        if base == "":
            self.result = {"description": "success"}
            self.response = [
                {"type": "searchResEntry", "dn": "", "raw_attributes": self.root}
            ]
            return True
        found = self._conn.search(base, ldap_filter, scope, attributes=attributes)
        self.result, self.response = self._conn.result, self._conn.response
        return found


@pytest.fixture
def dc() -> MockDc:
    """A small domain like the lab's: HQ inherits the grant, Field does not."""
    dc = MockDc()
    dc.add(
        f"CN=LAB,CN=Partitions,{CONFIG}",
        objectClass=["top", "crossRef"],
        nCName=BASE,
        nETBIOSName="LAB",
    )
    dc.add(
        GROUP_DN,
        objectClass=["top", "group"],
        cn=GROUP,
        sAMAccountName=GROUP,
        objectSid=SID.from_string(GROUP_SID).to_bytes(),
        member=[NESTED_DN, f"CN=Auditor,CN=Users,{BASE}"],
    )
    dc.add(
        NESTED_DN,
        objectClass=["top", "group"],
        sAMAccountName="EAS Agents",
        member=[AGENT_DN, GROUP_DN],
    )
    dc.add(
        AGENT_DN,
        objectClass=["top", "person", "user"],
        sAMAccountName="svc-sphere-eas",
        userPrincipalName="svc-sphere-eas@lab.example",
    )
    dc.add(
        f"CN=Auditor,CN=Users,{BASE}", objectClass=["user"], sAMAccountName="auditor"
    )
    dc.add(
        HQ,
        objectClass=["organizationalUnit"],
        nTSecurityDescriptor=descriptor(
            f"(A;CI;0x20094;;;{GROUP_SID})", f"(A;CI;0x20094;;;{OTHER_SID})"
        ),
    )
    dc.add(
        FIELD,
        objectClass=["organizationalUnit"],
        nTSecurityDescriptor=descriptor(f"(A;;0x20094;;;{GROUP_SID})"),
    )
    return dc


def read(dc, account="LAB\\svc-sphere-eas", ous=(HQ, FIELD), base_dn=BASE):
    return read_directory(dc, "dc1", base_dn=base_dn, account=account, ous=ous)


# -- the group and its members ----------------------------------------------


def test_the_group_is_found_by_name_wherever_it_sits(dc):
    facts = read(dc)

    assert (facts.group_dn, facts.group_sid) == (GROUP_DN, GROUP_SID)
    assert facts.netbios_domain == "LAB"
    assert facts.source == "LDAP ldap://dc-test:389"


def test_nested_members_are_resolved_with_the_path_to_them(dc):
    facts = read(dc)

    members = {m.name: m for m in facts.members}
    assert set(members) == {"EAS Agents", "auditor", "svc-sphere-eas"}
    assert members["EAS Agents"].is_group and members["EAS Agents"].via == ()
    assert members["svc-sphere-eas"].via == ("EAS Agents",)
    assert facts.member(AGENT_DN.lower()) == members["svc-sphere-eas"]
    assert facts.members_complete


def test_a_membership_loop_ends_at_the_outer_group(dc):
    # EAS Agents lists the outer group as a member again.
    facts = read(dc)

    assert GROUP_DN not in [m.dn for m in facts.members]
    assert len(facts.members) == 3


def test_a_missing_group_leaves_no_members_and_no_sid(dc):
    facts = read_directory(
        dc, "dc1", base_dn=BASE, account=None, ous=(HQ,), group_name="No Such Group"
    )

    assert (facts.group_dn, facts.group_sid, facts.members) == (None, None, ())
    assert facts.ous[0].aces == ()


def test_the_member_walk_stops_at_its_limit(dc, monkeypatch):
    monkeypatch.setattr(collector, "MAX_MEMBERS", 1)

    facts = read(dc)

    assert len(facts.members) == 1
    assert not facts.members_complete


# -- the account --------------------------------------------------------------


@pytest.mark.parametrize(
    "account",
    ["LAB\\svc-sphere-eas", "lab\\svc-sphere-eas", "svc-sphere-eas@lab.example"],
)
def test_the_account_is_found_by_domain_name_or_upn(dc, account):
    facts = read(dc, account=account)

    assert (facts.account, facts.account_dn, facts.account_note) == (
        account,
        AGENT_DN,
        None,
    )


def test_an_unknown_account_says_what_was_searched(dc):
    facts = read(dc, account="LAB\\svc-nobody")

    assert facts.account_dn is None
    assert (
        facts.account_note
        == f"no account matches (sAMAccountName=svc-nobody) under {BASE}"
    )


def test_an_account_of_another_domain_is_not_looked_up(dc):
    facts = read(dc, account="CORP\\svc-sphere-eas")

    assert facts.account_dn is None
    assert facts.account_note == (
        "CORP\\svc-sphere-eas belongs to domain CORP; this domain controller serves LAB"
    )
    assert not any("svc-sphere-eas" in s[1] for s in dc.searches)


def test_filter_characters_in_the_account_are_escaped(dc):
    read(dc, account="LAB\\svc*(x)")

    filters = [s[1] for s in dc.searches if "sAMAccountName=svc" in s[1]]
    assert filters == ["(sAMAccountName=svc\\2a\\28x\\29)"]


# -- the OUs ----------------------------------------------------------------


def test_only_the_groups_entries_are_kept_with_their_flags(dc):
    facts = read(dc)

    hq, field = facts.ous
    assert hq.aces == (Ace(allow=True, mask=0x20094, flags=0x02),)
    assert field.aces == (Ace(allow=True, mask=0x20094, flags=0),)
    assert hq.dacl_size == 3


def test_the_descriptor_is_asked_for_owner_group_and_dacl_only(dc):
    read(dc, ous=(HQ,))

    [(base, _, scope, controls)] = [s for s in dc.searches if s[0] == HQ]
    assert scope == "BASE"
    [control] = controls
    assert str(control["controlType"]) == SD_FLAGS_OID
    assert not control["criticality"]
    # BER: SEQUENCE { INTEGER 7 }
    assert bytes(control["controlValue"]) == b"\x30\x03\x02\x01\x07"


def test_object_and_deny_entries_keep_their_guids(dc):
    dc.add(
        f"OU=Odd,{BASE}",
        objectClass=["organizationalUnit"],
        nTSecurityDescriptor=descriptor(
            f"(OA;CI;0x10;77b5b886-944a-11d1-aebd-0000f80367c1;"
            f"bf967aba-0de6-11d0-a285-00aa003049e2;{GROUP_SID})",
            f"(D;;0x20;;;{GROUP_SID})",
        ),
    )

    [odd] = read(dc, ous=(f"OU=Odd,{BASE}",)).ous

    assert odd.aces == (
        Ace(
            True,
            0x10,
            0x02,
            object_type="77b5b886-944a-11d1-aebd-0000f80367c1",
            inherited_object_type="bf967aba-0de6-11d0-a285-00aa003049e2",
        ),
        Ace(False, 0x20, 0),
    )


def test_a_missing_ou_is_reported_not_raised(dc):
    [gone] = read(dc, ous=(f"OU=Gone,{BASE}",)).ous

    assert (gone.exists, gone.aces) == (False, ())


def test_an_ou_returned_without_its_descriptor_is_marked_unreadable(dc):
    dc.add(f"OU=Hidden,{BASE}", objectClass=["organizationalUnit"])

    [hidden] = read(dc, ous=(f"OU=Hidden,{BASE}",)).ous

    assert (hidden.exists, hidden.readable) == (True, False)


def test_a_descriptor_without_a_dacl_is_a_collection_error(dc):
    dc.add(
        f"OU=Broken,{BASE}",
        objectClass=["organizationalUnit"],
        nTSecurityDescriptor=b"\x01",
    )

    with pytest.raises(CollectionError, match="OU=Broken.* cannot be parsed .*no DACL"):
        read(dc, ous=(f"OU=Broken,{BASE}",))


def test_the_base_dn_comes_from_the_root_dse_when_not_configured(dc):
    facts = read(dc, base_dn=None)

    assert facts.base_dn == BASE


def test_a_refused_search_is_a_collection_error(dc, monkeypatch):
    def refuse(*args, **kwargs):
        dc.result = {
            "description": "operationsError",
            "message": "000004DC: need a bind",
        }
        dc.response = []
        return False

    monkeypatch.setattr(dc, "search", refuse)

    with pytest.raises(CollectionError) as caught:
        read(dc, base_dn=BASE)

    assert caught.value.source == "LDAP ldap://dc-test:389"
    assert "failed: operationsError (000004DC: need a bind)" in caught.value.reason


# -- the fact source ------------------------------------------------------------


def test_the_fact_source_uses_the_runs_ldap_pool(dc):
    class Pool:
        def session(self, host):
            return dc

    host = Host(
        name="dc1",
        address="127.0.0.3",
        fqdn="dc1.lab.example",
        roles=("domain_controller",),
        groups=(),
        connections=Connections(
            ldap=LdapSettings(user="svc-stig-scan@lab.example", base_dn=BASE)
        ),
        inputs={
            "activesync_agent_account": "LAB\\svc-sphere-eas",
            "user_account_ous": [HQ],
        },
        sphere_root="C:\\",
        https_port=443,
        asset=AssetInfo(),
    )
    cache = FactCache(WinRMPool(), ldap=Pool())

    facts = cache.get("directory", host)

    assert GATHERERS["directory"] is collector.gather_directory
    assert facts.account_dn == AGENT_DN
    assert [o.dn for o in facts.ous] == [HQ]
    assert facts.source == "LDAP ldap://dc-test:389 as svc-stig-scan@lab.example"
