"""dod_certificate (V-224770, V-224777, V-224778, V-224779)."""

import pytest
from check_facts import SCAN_SOURCE, by_item, certificate, facts, tls_scan

from sphere_stig.checks import REGISTRY, Inputs
from sphere_stig.checks.certificate import dod_certificate, parse_dn
from sphere_stig.outcome import CheckError, Status

ROOT = "CN=DoD Root CA 3,OU=PKI,OU=DoD,O=U.S. Government,C=US"


@pytest.fixture
def with_anchors(inputs):
    return Inputs(
        sphere_root=inputs.sphere_root,
        https_port=443,
        values={"dod_trust_anchors": "/etc/sphere-stig/dod-roots.pem"},
    )


def test_registered_with_tls_only():
    assert REGISTRY["dod_certificate"].needs == ("tls",)


def test_dod_issued_certificate_passes(with_anchors):
    # Given a DoD-issued leaf whose chain validated against the anchors
    chain = [
        certificate(),
        certificate(
            subject="CN=DOD ID CA-72,OU=PKI,OU=DoD,O=U.S. Government,C=US", issuer=ROOT
        ),
    ]
    given = facts(tls=tls_scan("TLSv1.2", chain=chain, trusted=True))

    # When the check runs
    verdict = dod_certificate(given, with_anchors)

    # Then it passes and records what an auditor needs
    assert verdict.status is Status.PASS
    assert by_item(verdict, "certificate chain").observed == (
        "the chain validates to a configured DoD trust anchor "
        "(/etc/sphere-stig/dod-roots.pem)"
    )
    assert by_item(verdict, "issuer distinguished name").observed == (
        "issuer CN=DOD ID CA-72,OU=PKI,OU=DoD,O=U.S. Government,C=US"
    )
    assert by_item(verdict, "validity period").observed.startswith(
        "valid until 2099-01-01"
    )
    key = by_item(verdict, "key and signature")
    assert (key.observed, key.ok) == (
        "RSA 2048-bit key, signed with sha256WithRSA",
        None,
    )
    fips = by_item(verdict, "FIPS mode")
    assert (fips.observed, fips.ok) == ("not examined by this check", None)
    assert by_item(verdict, "chain sent by the server").observed == (
        "CN=sphere01.lab.example,OU=USA,OU=PKI,OU=DoD,O=U.S. Government,C=US <- "
        "CN=DOD ID CA-72,OU=PKI,OU=DoD,O=U.S. Government,C=US"
    )
    assert all(e.source == SCAN_SOURCE for e in verdict.evidence)


def test_self_signed_installer_certificate_fails(with_anchors):
    # Given the self-signed certificate an installation creates
    leaf = certificate(subject="CN=SPHERE01", issuer="CN=SPHERE01", self_signed=True)
    given = facts(
        tls=tls_scan(
            "TLSv1.2", chain=[leaf], trusted=False, error="self-signed certificate"
        )
    )

    # When the check runs
    verdict = dod_certificate(given, with_anchors)

    # Then chain, self-signature and issuer all fail
    assert verdict.status is Status.FAIL
    assert [(e.item, e.ok) for e in verdict.evidence if e.ok is not None] == [
        ("certificate chain", False),
        ("leaf certificate self-signed", False),
        ("issuer distinguished name", False),
        ("validity period", True),
    ]
    assert by_item(verdict, "certificate chain").observed.endswith(
        ": self-signed certificate"
    )
    assert by_item(verdict, "issuer distinguished name").observed == (
        "issuer CN=SPHERE01 lacks OU=DoD and O=U.S. Government"
    )


def test_expired_certificate_fails(with_anchors):
    # Given a DoD certificate past its end date
    leaf = certificate(not_after="2024-06-30T12:00:00+00:00")
    given = facts(tls=tls_scan("TLSv1.2", chain=[leaf], trusted=True))

    # When the check runs, then only the validity fails
    verdict = dod_certificate(given, with_anchors)
    assert verdict.status is Status.FAIL
    assert (
        by_item(verdict, "validity period").observed
        == "expired on 2024-06-30 12:00 UTC"
    )
    assert verdict.summary == (
        "The server certificate is not an acceptable DoD-issued certificate: "
        "expired on 2024-06-30 12:00 UTC"
    )


def test_lookalike_issuer_fails(with_anchors):
    # Given a chain some other trusted CA issued, with a DoD-like name
    leaf = certificate(issuer="CN=DOD ID CA-72,OU=PKI,O=DoD Contractor,C=US")
    given = facts(tls=tls_scan("TLSv1.2", chain=[leaf], trusted=True))

    # Then the issuer name check catches it
    verdict = dod_certificate(given, with_anchors)
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "issuer").observed.endswith(
        "lacks OU=DoD and O=U.S. Government"
    )


def test_no_trust_anchors_is_not_reviewed(inputs):
    # Given no dod_trust_anchors input
    given = facts(tls=tls_scan("TLSv1.2", chain=[certificate()]))

    # When the check runs
    verdict = dod_certificate(given, inputs)

    # Then the result is not reviewed and names the input
    assert verdict.status is Status.NOT_REVIEWED
    assert "dod_trust_anchors" in verdict.summary
    (line,) = verdict.evidence
    assert (line.item, line.observed, line.ok) == (
        "input dod_trust_anchors",
        "not set",
        None,
    )


def test_no_chain_is_an_error(with_anchors):
    # Given a scan that captured no certificate
    given = facts(tls=tls_scan(trusted=None, error="connection reset"))

    # Then the check cannot judge and says so
    with pytest.raises(
        CheckError, match=r"no certificate chain was captured \(connection reset\)"
    ):
        dod_certificate(given, with_anchors)


def test_unvalidated_chain_is_an_error(with_anchors):
    # Given a chain that was never validated against the anchors
    given = facts(tls=tls_scan("TLSv1.2", chain=[certificate()], trusted=None))

    with pytest.raises(
        CheckError, match="captured but not validated against dod_trust_anchors"
    ):
        dod_certificate(given, with_anchors)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "CN=DOD ID CA-72,OU=PKI,OU=DoD,O=U.S. Government,C=US",
            [
                ("CN", "DOD ID CA-72"),
                ("OU", "PKI"),
                ("OU", "DoD"),
                ("O", "U.S. Government"),
                ("C", "US"),
            ],
        ),
        (
            r"CN=Smith\, John+UID=42,o=Example",
            [("CN", "Smith, John"), ("UID", "42"), ("O", "Example")],
        ),
        (r"CN=Caf\C3\A9", [("CN", "Café")]),
    ],
)
def test_parse_dn(text, expected):
    assert parse_dn(text) == expected
