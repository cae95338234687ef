"""tls_protocols (V-224762, V-224772, V-224776): server.xml and the live port."""

import pytest
from check_facts import (
    SCAN_SOURCE,
    SERVER_XML_PATH,
    SERVER_XML_SOURCE,
    by_item,
    facts,
    server_xml,
    tls_scan,
    windows_facts,
)

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.tls import tls_protocols
from sphere_stig.outcome import CheckError, Status


def test_registered_with_both_fact_sources():
    assert REGISTRY["tls_protocols"].needs == ("windows", "tls")
    assert REGISTRY["tls_protocols"].fn is tls_protocols


def test_hardened_server_passes(inputs):
    # Given TLS 1.2/1.3 in server.xml and on the wire
    given = facts(
        windows_facts(server_xml("hardened.xml")), tls_scan("TLSv1.2", "TLSv1.3")
    )

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then it passes, with one line for the file and one for the scan
    assert verdict.status is Status.PASS
    assert verdict.summary == (
        "Port 443 enables only TLS 1.2/1.3 in server.xml and accepts nothing older "
        "on the wire"
    )
    file_line = by_item(verdict, 'protocols of SSLHostConfig "_default_" on port 443')
    assert file_line.observed == (
        "only TLSv1.2 and TLSv1.3 are enabled; "
        'SSLHostConfig protocols="+TLSv1.2,+TLSv1.3"'
    )
    assert file_line.expected == "only TLSv1.2 and/or TLSv1.3 enabled"
    assert file_line.source == SERVER_XML_SOURCE
    assert file_line.ok is True
    scan_line = by_item(verdict, "protocol versions accepted on 127.0.0.2:443")
    assert scan_line.observed == (
        "only TLSv1.2 and TLSv1.3 accepted; refused: SSLv2, SSLv3, TLSv1, TLSv1.1"
    )
    assert scan_line.source == SCAN_SOURCE
    assert scan_line.ok is True
    assert len(verdict.evidence) == 2


def test_protocols_all_fails_in_file_and_on_wire(inputs):
    # Given protocols="all" and a JVM that still accepts TLS 1.0 and 1.1
    given = facts(
        windows_facts(server_xml("drifted.xml")),
        tls_scan("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
    )

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then both sides fail, phrased as observed versus expected
    assert verdict.status is Status.FAIL
    file_line = by_item(verdict, "protocols of SSLHostConfig")
    assert file_line.observed == (
        "SSLv2Hello, TLSv1 and TLSv1.1 are enabled (older than TLS 1.2) besides "
        'TLSv1.2 and TLSv1.3; SSLHostConfig protocols="all"'
    )
    assert file_line.ok is False
    scan_line = by_item(verdict, "protocol versions accepted")
    assert scan_line.observed == (
        "TLSv1 and TLSv1.1 accepted besides TLSv1.2 and TLSv1.3; refused: SSLv2, SSLv3"
    )
    assert scan_line.ok is False
    assert verdict.summary.startswith(
        "Port 443 does not limit TLS to versions 1.2 and 1.3: "
    )


def test_missing_protocols_is_tomcats_default_and_disagreement_is_explained(inputs):
    # Given no protocols attribute (Tomcat default "all") and a JVM that refuses
    # TLS 1.0/1.1 on its own
    given = facts(
        windows_facts(server_xml("missing-attributes.xml")),
        tls_scan("TLSv1.2", "TLSv1.3"),
    )

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then the file side fails on Tomcat's default, the scan passes, and the
    # disagreement is spelled out
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "protocols of SSLHostConfig").observed == (
        "SSLv2Hello, TLSv1 and TLSv1.1 are enabled (older than TLS 1.2) besides "
        'TLSv1.2 and TLSv1.3; protocols absent: Tomcat default "all"'
    )
    assert by_item(verdict, "protocol versions accepted").ok is True
    disagreement = by_item(verdict, "server.xml compared with the live port")
    assert disagreement.ok is None
    assert disagreement.observed.startswith(
        "server.xml and the live scan disagree: server.xml enables TLSv1 and TLSv1.1 "
        "but the live port refuses them"
    )
    assert disagreement.source == f"{SERVER_XML_SOURCE} and {SCAN_SOURCE}"


def test_wire_accepting_more_than_the_file_is_a_disagreement(inputs):
    # Given a clean server.xml but a port that still answers TLS 1.0
    given = facts(
        windows_facts(server_xml("hardened.xml")),
        tls_scan("TLSv1", "TLSv1.2", "TLSv1.3"),
    )

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then the scan fails and the evidence says the file is not what runs
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "protocols of SSLHostConfig").ok is True
    assert by_item(verdict, "protocol versions accepted").ok is False
    assert "the live port accepts TLSv1 although server.xml does not enable it" in (
        by_item(verdict, "compared with the live port").observed
    )


def test_legacy_connector_attributes_are_judged(inputs):
    # Given Tomcat 9 style sslEnabledProtocols on the Connector
    given = facts(
        windows_facts(server_xml("legacy-attributes.xml")),
        tls_scan("TLSv1.2", "TLSv1.3"),
    )

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then the implicit SSLHostConfig is judged and named as such
    assert verdict.status is Status.PASS
    line = by_item(verdict, "built from deprecated Connector attributes")
    assert line.observed == (
        "only TLSv1.2 and TLSv1.3 are enabled; "
        'Connector sslEnabledProtocols="TLSv1.2,TLSv1.3"'
    )


def test_commented_out_connector_fails(inputs):
    # Given the 443 connector only inside a comment (and nothing answering TLS)
    given = facts(windows_facts(server_xml("commented-connector.xml")), tls_scan())

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then the missing connector and the failed handshakes are both findings
    assert verdict.status is Status.FAIL
    missing = by_item(verdict, "Connector on port 443")
    assert (
        missing.observed
        == "no active Connector on port 443 (active connectors: port 80)"
    )
    assert missing.ok is False
    assert by_item(verdict, "protocol versions accepted").observed == (
        "no TLS 1.2 or TLS 1.3 handshake succeeded; refused: SSLv2, SSLv3, TLSv1, "
        "TLSv1.1, TLSv1.2, TLSv1.3"
    )


def test_space_separated_protocols_leave_nothing_enabled(inputs):
    # Given protocols written with a space only, which Tomcat reads as one name
    data = server_xml("hardened.xml").replace(
        b'protocols="+TLSv1.2,+TLSv1.3"', b'protocols="TLSv1.2 TLSv1.3"'
    )
    given = facts(windows_facts(data), tls_scan())

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then the evidence explains why the connector cannot start
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "protocols of SSLHostConfig").observed == (
        "no protocol Tomcat can enable is left, so the connector does not start; "
        'SSLHostConfig protocols="TLSv1.2 TLSv1.3"; Tomcat knows no protocol named '
        '"TLSv1.2 TLSv1.3" and drops it'
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("+TLSv1.2, +TLSv1.3", True),
        ("TLSv1.2,TLSv1.3", True),
        ("-all+TLSv1.2+TLSv1.3", True),
        ("TLSv1.3", True),
        ("TLSv1.2", True),
        ("all -TLSv1 -TLSv1.1", False),  # SSLv2Hello stays
        ("all -SSLv2Hello -TLSv1 -TLSv1.1", True),
        ("+TLSv1.1,+TLSv1.2", False),
        ("SSLv3,TLSv1.2", False),
        ("tlsv1.2", False),
    ],
)
def test_each_protocols_spelling_is_judged_on_tomcats_reading(value, ok, inputs):
    # Given hardened.xml with another protocols value
    data = server_xml("hardened.xml").replace(
        b'protocols="+TLSv1.2,+TLSv1.3"', f'protocols="{value}"'.encode()
    )

    # When the check runs against a clean live port
    verdict = tls_protocols(facts(windows_facts(data), tls_scan("TLSv1.2")), inputs)

    # Then only the file line decides
    assert by_item(verdict, "protocols of SSLHostConfig").ok is ok
    assert verdict.status is (Status.PASS if ok else Status.FAIL)


def test_plain_http_on_the_https_port_fails(inputs):
    # Given port 443 without SSLEnabled
    data = b'<Server><Service name="S"><Connector port="443"/></Service></Server>'

    # When the check runs
    verdict = tls_protocols(facts(windows_facts(data), tls_scan()), inputs)

    # Then the evidence says it is plain HTTP
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "TLS on the connector on port 443").observed == (
        'Connector port="443" in Service "S" has SSLEnabled absent, so it speaks '
        "plain HTTP"
    )


def test_unresolved_protocols_placeholder_is_an_error(inputs):
    # Given protocols="${tls.protocols}" with no definition anywhere
    given = facts(windows_facts(server_xml("placeholders.xml")), tls_scan("TLSv1.2"))

    # When the check runs, then it cannot judge and says what to define
    with pytest.raises(CheckError) as raised:
        tls_protocols(given, inputs)
    assert str(raised.value).startswith(
        f"{SERVER_XML_SOURCE}: "
        'Service "Catalina" / Connector port="${https.port:-443}" '
        "/ SSLHostConfig protocols uses ${tls.protocols}"
    )
    assert "Define the property in catalina.properties" in str(raised.value)


def test_placeholders_resolve_from_catalina_properties_and_service_options(inputs):
    # Given the property in catalina.properties, overriding a -D option
    given = facts(
        windows_facts(
            server_xml("placeholders.xml"),
            catalina_properties=b"tls.protocols=+TLSv1.2,+TLSv1.3\n",
            java_options=("-Dtls.protocols=all", "-Xmx2g"),
        ),
        tls_scan("TLSv1.2", "TLSv1.3"),
    )

    # When the check runs
    verdict = tls_protocols(given, inputs)

    # Then catalina.properties wins, as CatalinaProperties sets it last
    assert verdict.status is Status.PASS


def test_missing_server_xml_names_the_inventory_key(inputs):
    # Given WinRM worked but server.xml is not under the configured root
    given = facts(windows_facts(None), tls_scan("TLSv1.2"))

    # When the check runs, then the error names the path and sphere_root
    with pytest.raises(CheckError) as raised:
        tls_protocols(given, inputs)
    assert str(raised.value) == (
        f"sphere01: {SERVER_XML_PATH} does not exist. WinRM answered, so the Sphere "
        "install root is probably wrong: set site.sphere_root in the inventory "
        '(it is now "C:\\Program Files\\ISEC7 SPHERE")'
    )


def test_broken_server_xml_is_an_error_not_a_finding(inputs):
    # Given a truncated server.xml
    given = facts(windows_facts(server_xml("truncated.xml")), tls_scan("TLSv1.2"))

    # Then the check raises instead of judging
    with pytest.raises(CheckError, match="the XML ends before its root element"):
        tls_protocols(given, inputs)


def test_other_https_port_from_inputs(inputs):
    # Given a site that serves the console on 8443
    data = server_xml("hardened.xml").replace(
        b'port="443" protocol=', b'port="8443" protocol='
    )
    given = facts(windows_facts(data), tls_scan("TLSv1.2"))

    # When the check runs with https_port 8443
    verdict = tls_protocols(
        given, type(inputs)(sphere_root=inputs.sphere_root, https_port=8443)
    )

    # Then the 8443 connector is the one judged
    assert by_item(verdict, "protocols of SSLHostConfig").item.endswith("on port 8443")
    assert verdict.status is Status.PASS
