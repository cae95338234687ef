"""https_connector (V-224786, V-224792): an active, SSL-enabled 443 connector."""

import pytest
from check_facts import by_item, facts, server_xml, tls_scan, windows_facts

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.tls import https_connector
from sphere_stig.outcome import CheckError, Status


def test_registered_with_both_fact_sources():
    assert REGISTRY["https_connector"].needs == ("windows", "tls")


def test_hardened_connector_passes(inputs):
    # Given the hardened connector and a port that completes handshakes
    given = facts(
        windows_facts(server_xml("hardened.xml")), tls_scan("TLSv1.2", "TLSv1.3")
    )

    # When the check runs
    verdict = https_connector(given, inputs)

    # Then every attribute and the handshake are evidence
    assert verdict.status is Status.PASS
    assert [(e.item, e.observed, e.ok) for e in verdict.evidence] == [
        (
            "Connector on port 443",
            'Connector port="443" in Service "Catalina" is present and not '
            "commented out",
            True,
        ),
        ("SSLEnabled of the connector on port 443", 'SSLEnabled="true"', True),
        ("scheme of the connector on port 443", 'scheme="https"', True),
        ("secure of the connector on port 443", 'secure="true"', True),
        (
            "certificate of the connector on port 443",
            "Certificate element: keystore type Windows-MY, alias https",
            True,
        ),
        (
            "TLS handshake on 127.0.0.2:443",
            "TLS handshakes succeed (TLSv1.2, TLSv1.3)",
            True,
        ),
    ]


def test_legacy_keystore_attributes_count_as_key_material(inputs):
    # Given keystoreType/keyAlias on the Connector (Tomcat 9)
    given = facts(
        windows_facts(server_xml("legacy-attributes.xml")), tls_scan("TLSv1.2")
    )

    # When the check runs
    verdict = https_connector(given, inputs)

    # Then the implicit certificate is accepted and named as such
    assert verdict.status is Status.PASS
    assert by_item(verdict, "certificate of the connector").observed == (
        "from Connector attributes: keystore type Windows-MY, alias https"
    )


def test_defaults_for_scheme_and_secure_fail(inputs):
    # Given SSLEnabled but no scheme and secure attributes
    given = facts(
        windows_facts(server_xml("missing-attributes.xml")), tls_scan("TLSv1.2")
    )

    # When the check runs
    verdict = https_connector(given, inputs)

    # Then Tomcat's defaults are reported as findings
    assert verdict.status is Status.FAIL
    scheme = by_item(verdict, "scheme of the connector")
    assert (scheme.observed, scheme.expected, scheme.ok) == (
        "scheme absent (Tomcat default http)",
        'scheme="https"',
        False,
    )
    assert by_item(verdict, "secure of the connector").observed == (
        "secure absent (Tomcat default false)"
    )
    assert verdict.summary == (
        "Port 443 is not a working HTTPS connector: scheme absent (Tomcat default "
        "http); secure absent (Tomcat default false)"
    )


def test_commented_out_connector_fails(inputs):
    # Given the 443 connector only inside a comment and no TLS on the wire
    given = facts(windows_facts(server_xml("commented-connector.xml")), tls_scan())

    # When the check runs
    verdict = https_connector(given, inputs)

    # Then both the file and the handshake fail
    assert verdict.status is Status.FAIL
    assert [(e.item, e.ok) for e in verdict.evidence] == [
        ("Connector on port 443", False),
        ("TLS handshake on 127.0.0.2:443", False),
    ]
    assert by_item(verdict, "TLS handshake").observed == (
        "no TLS handshake succeeded with any protocol version"
    )


def test_duplicate_default_ssl_host_config_fails(inputs):
    # Given Connector TLS attributes plus an SSLHostConfig for the same host name
    given = facts(
        windows_facts(server_xml("duplicate-default.xml")), tls_scan("TLSv1.2")
    )

    # When the check runs
    verdict = https_connector(given, inputs)

    # Then the configuration error is a finding
    assert verdict.status is Status.FAIL
    problem = by_item(verdict, "connector configuration")
    assert "Tomcat 9 rejects this as a duplicate SSLHostConfig" in problem.observed
    assert problem.ok is False


def test_ssl_host_config_without_certificate_fails(inputs):
    # Given an SSLHostConfig with no Certificate
    data = (
        b'<Server><Service name="S"><Connector port="443" SSLEnabled="true" '
        b'scheme="https" secure="true"><SSLHostConfig protocols="TLSv1.2"/>'
        b"</Connector></Service></Server>"
    )

    # When the check runs
    verdict = https_connector(facts(windows_facts(data), tls_scan("TLSv1.2")), inputs)

    # Then the missing key material is named
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "certificate of the connector").observed == (
        'SSLHostConfig "_default_" names no Certificate and no keystore, so Tomcat '
        "looks for .keystore in the service account's home folder"
    )


def test_unresolved_port_is_an_error(inputs):
    # Given the connector's port only as ${https.port} with no definition
    data = server_xml("hardened.xml").replace(
        b'port="443" protocol', b'port="${https.port}" protocol'
    )
    given = facts(windows_facts(data), tls_scan("TLSv1.2"))

    # When the check runs, then it refuses to guess which connector serves 443
    with pytest.raises(
        CheckError, match=r"Connector port=\"\$\{https.port\}\" port uses"
    ):
        https_connector(given, inputs)
