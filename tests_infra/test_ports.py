"""Every row of the STIG overview's port tables on every host it applies to."""

from sphere_stig.assertions import assert_compliant


def test_port(port_verdict):
    assert_compliant(port_verdict)
