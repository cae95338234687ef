"""How the TLS transport words a failed path validation for the evidence."""

from __future__ import annotations

import pytest

from sphere_stig.transports.tls import plain_validation_error

# What sslyze 6.3 passes on from cryptography 46 for sphere02's certificate.
RAW = (
    "validation failed: invalid extension: 2.5.29.35: Certificate is missing "
    "required extension (encountered processing <Certificate(subject=<Name("
    "CN=sphere02.lab.example)>, ...)>)"
)


def test_reprs_and_oids_give_way_to_names():
    assert plain_validation_error(RAW) == (
        "invalid extension: authority key identifier (2.5.29.35): Certificate is "
        "missing required extension (certificate CN=sphere02.lab.example)"
    )


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "unable to get local issuer certificate",
        "unknown OID 1.2.3.4.5 is kept as it is",
    ],
)
def test_other_reasons_pass_unchanged(text):
    assert plain_validation_error(text) == text
