"""server.xml read with Tomcat's semantics.

The expected protocol sets were confirmed by calling SSLHostConfig.setProtocols
of Tomcat 10.1.60 (Debian's libtomcat10-java) with the same strings.
"""

from pathlib import Path

import pytest

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.properties import parse_properties
from sphere_stig.parsers.tomcat import (
    ALL_PROTOCOLS,
    LOCKOUT_REALM,
    connectors_on_port,
    effective_protocols,
    find_https_connector,
    parse_server_xml,
)
from sphere_stig.redact import MASK

DATA = Path(__file__).resolve().parents[1] / "data"
SOURCE = r"sphere01: C:\Program Files\ISEC7 SPHERE\Tomcat\conf\server.xml"


def parse(name, **kwargs):
    return parse_server_xml((DATA / "server-xml" / name).read_bytes(), SOURCE, **kwargs)


# -- protocols ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # The STIG's spelling, with the space after the comma.
        ("+TLSv1.2, +TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("+TLSv1.2,+TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("TLSv1.2,TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("TLSv1.2+TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("TLSv1.2 +TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("TLSv1.2+ TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("-all+TLSv1.2+TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("TLSv1.2", {"TLSv1.2"}),
        ("TLSv1.3 , -TLSv1.2", {"TLSv1.3"}),
        # "all" in any case, with and without prefix.
        ("all", set(ALL_PROTOCOLS)),
        ("All", set(ALL_PROTOCOLS)),
        ("+  all", set(ALL_PROTOCOLS)),
        ("+all,-SSLv2Hello", {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}),
        ("ALL -TLSv1 -TLSv1.1", {"SSLv2Hello", "TLSv1.2", "TLSv1.3"}),
        ("TLSv1+TLSv1.1,TLSv1.2", {"TLSv1", "TLSv1.1", "TLSv1.2"}),
        # White space alone does not separate: one unknown name.
        ("TLSv1.2 TLSv1.3", {"TLSv1.2 TLSv1.3"}),
        # Names other than "all" keep their case.
        ("tlsv1.2", {"tlsv1.2"}),
        ("+TLSv1.2-TLSv1.2", set()),
        ("- TLSv1.2", set()),
        ("", set()),
        (",", set()),
    ],
)
def test_protocols_follow_tomcats_token_rules(value, expected):
    # Given a protocols value, when Tomcat's rules are applied, then the set matches
    assert effective_protocols(value) == frozenset(expected)


def test_absent_protocols_mean_all():
    # Given no protocols attribute, then Tomcat's default "all" applies
    assert effective_protocols(None) == frozenset(
        {"SSLv2Hello", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    )


# -- the real Debian file ----------------------------------------------------


def test_debian_server_xml():
    # Given Debian's stock server.xml
    data = (DATA / "tomcat10-debian" / "server.xml").read_bytes()

    # When it is parsed
    config = parse_server_xml(data, SOURCE)

    # Then only the 8080 connector is active and the shutdown port is off
    assert [c.port for c in config.connectors()] == [8080]
    assert config.port.raw == "-1"
    assert config.shutdown_port is None
    assert config.shutdown == "SHUTDOWN"
    assert find_https_connector(config, 8443) is None
    http = find_https_connector(config, 8080)
    assert http.ssl_enabled is False
    assert http.scheme == "http"
    assert http.max_threads.value == 200 and http.max_threads.is_default
    assert http.max_connections.value == 8192 and http.max_connections.is_default
    # and the stock LockOutRealm without attributes wraps the UserDatabaseRealm
    (lockout,) = [r for r in config.realms() if r.class_name == LOCKOUT_REALM]
    assert lockout.active
    assert lockout.container == 'Engine "Catalina"'
    assert [r.short_name for r in lockout.realms] == ["UserDatabaseRealm"]
    assert lockout.int_setting("failureCount", 5).describe() == (
        "failureCount absent (Tomcat default 5)"
    )
    assert config.problems == ()
    assert config.placeholders == ()


# -- variants ----------------------------------------------------------------


def test_hardened_connector_and_realm():
    # Given the hardened Sphere server.xml
    config = parse("hardened.xml")

    # When the HTTPS connector is looked up
    connector = find_https_connector(config)

    # Then every setting is read as written
    assert connector.port == connector.effective_port == 443
    assert connector.ssl_enabled and connector.secure and connector.scheme == "https"
    assert connector.max_threads.value == 150 and not connector.max_threads.is_default
    assert connector.max_connections.value == 1000
    (host,) = connector.ssl_host_configs
    assert host.host_name == "_default_" and not host.implicit
    assert host.protocols == {"TLSv1.2", "TLSv1.3"}
    assert host.protocols_origin == 'SSLHostConfig protocols="+TLSv1.2,+TLSv1.3"'
    assert host.certificate_verification == "required"
    (certificate,) = host.certificates
    assert certificate.keystore_type == "Windows-MY"
    assert certificate.key_alias == "https"
    assert certificate.keystore_file == ""
    # and the keystore password is not kept
    assert certificate.attributes["certificateKeystorePassword"] == MASK
    assert "not-a-real-secret" not in repr(config)
    # and the realm tree carries the credential handler
    lockout = next(config.realms())
    assert lockout.int_setting("failureCount", 5).value == 3
    assert lockout.int_setting("lockOutTime", 300).value == 900
    handler = lockout.realms[0].credential_handler
    assert handler.class_name == "org.apache.catalina.realm.SecretKeyCredentialHandler"
    assert handler.attributes["algorithm"] == "PBKDF2WithHmacSHA512"


def test_legacy_connector_attributes_build_the_default_ssl_host_config():
    # Given Tomcat 9 style TLS attributes on the Connector
    config = parse("legacy-attributes.xml")

    # When the HTTPS connector is read with Tomcat 9 semantics
    connector = find_https_connector(config)
    host = connector.default_ssl_host_config

    # Then an implicit SSLHostConfig and Certificate carry the values
    assert host.implicit
    assert host.protocols == {"TLSv1.2", "TLSv1.3"}
    assert host.protocols_origin == 'Connector sslEnabledProtocols="TLSv1.2,TLSv1.3"'
    assert host.certificate_verification == "required"
    assert host.certificate_verification_origin == 'Connector clientAuth="true"'
    # sslProtocol is the SSLContext algorithm, not a protocol list
    assert host.ssl_protocol == "TLS"
    (certificate,) = host.certificates
    assert certificate.implicit
    assert certificate.keystore_type == "Windows-MY"
    assert certificate.key_alias == "https"
    assert connector.legacy_ssl_attributes["keystorePass"] == MASK
    assert connector.problems == ()


def test_legacy_attributes_are_ignored_with_tomcat_10_semantics():
    # Given the same file, when read as Tomcat 10.1 would (legacy attributes removed)
    connector = find_https_connector(
        parse("legacy-attributes.xml", legacy_connector_ssl=False)
    )

    # Then there is no SSLHostConfig, and Tomcat would refuse to start the connector
    assert connector.ssl_host_configs == ()
    assert connector.problems == (
        'SSLEnabled="true" but no SSLHostConfig is named "_default_" '
        "(defaultSSLHostConfigName); Tomcat refuses to start this connector",
    )


def test_later_legacy_alias_wins():
    # Given both protocol aliases on one connector, SSLProtocol written last
    data = (
        b'<Server><Service name="S"><Connector port="443" SSLEnabled="true" '
        b'sslEnabledProtocols="TLSv1.2" SSLProtocol="TLSv1+TLSv1.2"/>'
        b"</Service></Server>"
    )

    # When it is parsed
    host = find_https_connector(parse_server_xml(data, SOURCE)).default_ssl_host_config

    # Then the attribute applied last (document order) sets the protocols
    assert host.protocols == {"TLSv1", "TLSv1.2"}
    assert host.protocols_origin == 'Connector SSLProtocol="TLSv1+TLSv1.2"'


def test_missing_attributes_take_tomcat_defaults():
    # Given a server.xml that leaves everything to Tomcat
    config = parse("missing-attributes.xml")
    connector = find_https_connector(config)
    host = connector.default_ssl_host_config

    # Then the defaults are the ones Tomcat applies
    assert config.port.raw is None and config.port.value == 8005
    assert config.shutdown_raw is None and config.shutdown == "SHUTDOWN"
    assert config.address == "localhost"
    assert config.shutdown_port == 8005
    assert connector.scheme == "http" and connector.secure is False
    assert host.protocols_raw is None
    assert host.protocols == ALL_PROTOCOLS
    assert host.protocols_origin == 'protocols absent: Tomcat default "all"'
    assert host.certificate_verification == "none"


def test_commented_out_connector_and_realm_are_absent():
    # Given the 443 connector and LockOutRealm only inside comments
    config = parse("commented-connector.xml")

    # Then neither exists for Tomcat
    assert find_https_connector(config) is None
    assert [c.port for c in config.connectors()] == [80]
    assert [r.short_name for r in config.realms()] == ["UserDatabaseRealm"]


def test_replaced_realm_is_not_active():
    # Given a LockOutRealm followed by another Realm in the same Engine
    config = parse("drifted.xml")

    # Then the digester's "last one wins" makes the LockOutRealm inactive
    realms = [(r.short_name, r.active) for r in config.realms()]
    assert realms == [
        ("LockOutRealm", False),
        ("UserDatabaseRealm", False),
        ("UserDatabaseRealm", True),
    ]
    assert config.problems == (
        'Engine "Catalina" has 2 Realm elements; Tomcat keeps only the last one, '
        "so the earlier ones are not in effect",
    )
    # and the shutdown attribute does not close the port
    assert config.shutdown_raw == "-1"
    assert config.shutdown_port == 8005


def test_duplicate_default_ssl_host_config_is_a_problem():
    # Given deprecated attributes and an explicit default SSLHostConfig
    connector = find_https_connector(parse("duplicate-default.xml"))

    # Then both configurations are kept and the conflict is reported
    assert [h.implicit for h in connector.ssl_host_configs] == [True, False]
    assert connector.problems == (
        "deprecated SSL attributes on the Connector (sslEnabledProtocols) and an "
        'SSLHostConfig for "_default_" are both present; Tomcat 9 rejects this as '
        "a duplicate SSLHostConfig",
    )


def test_placeholders_resolve_from_catalina_properties():
    # Given catalina.properties defining some of the placeholders
    properties = parse_properties(
        b"shutdown.port=-1\ntls.protocols=+TLSv1.2,+TLSv1.3\ncatalina.base=C:/Tomcat\n"
    )

    # When server.xml is parsed with them
    config = parse("placeholders.xml", properties=properties)
    connector = find_https_connector(config)

    # Then defined names and ${name:-default} resolve, the others are reported
    assert config.port.value == -1
    assert connector.port == 443
    assert connector.default_ssl_host_config.protocols == {"TLSv1.2", "TLSv1.3"}
    certificate = connector.default_ssl_host_config.certificates[0]
    assert certificate.keystore_file == "C:/Tomcat/conf/https.pfx"
    lockout = next(config.realms())
    assert lockout.int_setting("failureCount", 5).value == 3
    assert [(p.attribute, p.expression) for p in config.unresolved] == [
        ("certificateKeystorePassword", "keystore.password"),
        ("lockOutTime", "lockout.seconds"),
    ]
    # An unresolved value stays as written and is not guessed.
    setting = lockout.int_setting("lockOutTime", 300)
    assert setting.raw == "${lockout.seconds}"
    assert setting.value == 300 and setting.is_default
    assert [p.expression for p in lockout.placeholders] == [
        "lockout.failures:-3",
        "lockout.seconds",
    ]


def test_placeholders_without_properties_stay_unresolved():
    # Given no property source at all
    config = parse("placeholders.xml")

    # Then every placeholder except the one with a default is unresolved
    assert [p.expression for p in config.unresolved] == [
        "shutdown.port",
        "tls.protocols",
        "catalina.base",
        "keystore.password",
        "lockout.seconds",
    ]
    assert config.port.raw == "${shutdown.port}"
    assert find_https_connector(config).default_ssl_host_config.protocols == {
        "${tls.protocols}"
    }


def test_attribute_names_follow_tomcats_setter_matching():
    # Given attributes spelled in different cases
    data = (
        b'<Server Port="8015"><Service name="S">'
        b'<Connector port="8443" sSLEnabled="true" maxthreads="50" Secure="TRUE"/>'
        b'<Connector port="9443" sslEnabled="true"/>'
        b"</Service></Server>"
    )

    # When parsed
    config = parse_server_xml(data, SOURCE)
    first, second = config.connectors()

    # Then only the first letter is case-insensitive, as in IntrospectionUtils
    assert config.port.value == 8015
    assert first.ssl_enabled is True
    assert first.secure is True
    assert first.max_threads.is_default
    assert second.ssl_enabled is False


def test_port_offset_shifts_positive_ports_only():
    # Given a portOffset on the Server
    data = (
        b'<Server port="8005" portOffset="100"><Service name="S">'
        b'<Connector port="443" SSLEnabled="true"><SSLHostConfig/></Connector>'
        b"</Service></Server>"
    )

    # When parsed
    config = parse_server_xml(data, SOURCE)

    # Then both the shutdown listener and the connector move by the offset
    assert config.shutdown_port == 8105
    assert find_https_connector(config, 543).port == 443
    assert connectors_on_port(config, 443) == []


def test_non_numeric_values_leave_the_default():
    # Given numbers Tomcat cannot parse
    data = (
        b'<Server port="80 05"><Service name="S">'
        b'<Connector port="443" maxThreads="1_000" maxConnections="+500"/>'
        b"</Service></Server>"
    )

    # When parsed
    config = parse_server_xml(data, SOURCE)
    connector = find_https_connector(config)

    # Then Java's Integer.valueOf rules apply
    assert config.port.value == 8005 and not config.port.valid
    assert config.problems == (
        'Server port="80 05" is not an integer, so Tomcat ignores it and uses its '
        "default 8005",
    )
    assert connector.max_threads.value == 200 and connector.max_threads.is_default
    assert connector.max_connections.value == 500


def test_unknown_certificate_verification_falls_back_to_required():
    # Given a value Tomcat does not recognise
    data = (
        b'<Server><Service name="S"><Connector port="443" SSLEnabled="true">'
        b'<SSLHostConfig certificateVerification=" required"/></Connector>'
        b"</Service></Server>"
    )

    # Then, like SSLHostConfig.setCertificateVerification, it means "required"
    host = find_https_connector(parse_server_xml(data, SOURCE)).default_ssl_host_config
    assert host.certificate_verification == "required"


def test_root_element_must_be_server():
    # Given a web.xml handed to the server.xml parser
    data = (DATA / "tomcat10-debian" / "web.xml").read_bytes()

    # Then the mistake is named
    with pytest.raises(CheckError, match="the root element is <web-app>, not <Server>"):
        parse_server_xml(data, SOURCE)
