"""The STIG overview's authentication, certificate and remote-agent requirements."""

from sphere_stig.assertions import assert_compliant


def test_requirement(requirement_verdict):
    assert_compliant(requirement_verdict)
