"""Every rule of the ISEC7 Sphere STIG V3R1 on every Sphere server of the inventory."""

from sphere_stig.assertions import assert_compliant


def test_stig(stig_verdict):
    assert_compliant(stig_verdict)
