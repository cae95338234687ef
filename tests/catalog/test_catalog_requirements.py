"""requirements.yml: authentication, certificate and remote-agent requirements."""

from sphere_stig import catalog
from sphere_stig.catalog import REQUIREMENT_CHECKS, load_requirements, load_rules


def by_id():
    return {q.id: q for q in load_requirements()}


def test_all_sections_are_present():
    assert sorted(by_id()) == sorted(
        [f"AUTH-0{n}" for n in range(1, 5)]
        + ["CERT-01", "CERT-02"]
        + [f"AGENT-0{n}" for n in range(1, 7)]
    )


def test_references_resolve():
    rule_ids = {r.vuln_id for r in load_rules()}
    for q in load_requirements():
        assert q.check in REQUIREMENT_CHECKS, q.id
        assert set(q.covered_by) <= rule_ids, q.id
        assert set(q.roles) <= set(catalog.ROLES), q.id
        assert set(q.inputs) <= set(catalog.load_inputs()), q.id


def test_authentication():
    reqs = by_id()

    assert reqs["AUTH-01"].covered_by == ("V-224773",)
    assert "Active Directory" in reqs["AUTH-01"].statement
    assert "password" in reqs["AUTH-02"].statement
    assert "FIPS" in reqs["AUTH-03"].statement
    assert "encrypted" in reqs["AUTH-04"].statement


def test_certificates_use_the_shared_certificate_check():
    reqs = by_id()

    assert reqs["CERT-01"].check == reqs["CERT-02"].check == "dod_certificate"
    assert "self-signed" in reqs["CERT-02"].statement


def test_wmi_agent_permissions():
    reqs = by_id()
    wmi = " ".join(reqs[f"AGENT-0{n}"].statement for n in (1, 2, 3))

    for phrase in (
        "Distributed COM Users",
        "Performance Monitor Users",
        "Remote Enable",
    ):
        assert phrase in wmi
    assert "Root/CIMV2" in wmi and "subnamespaces" in wmi
    assert all(reqs[f"AGENT-0{n}"].roles == ("windows_server",) for n in (1, 2, 3))


def test_activesync_agent_permissions():
    reqs = by_id()
    eas = " ".join(reqs[f"AGENT-0{n}"].statement for n in (4, 5, 6))

    assert "View-Only Organization Management" in eas
    assert "Read" in eas and "user accounts" in eas
    assert "This object and all descendant objects" in eas
    assert all(reqs[f"AGENT-0{n}"].applies_when for n in (4, 5, 6))
