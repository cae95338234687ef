"""keystore_windows_my (V-224775): the HTTPS key lives in the Windows store."""

import pytest
from check_facts import SERVER_XML_SOURCE, by_item, facts, server_xml, windows_facts

from sphere_stig.checks import REGISTRY
from sphere_stig.checks.connector import keystore_windows_my
from sphere_stig.outcome import CheckError, Status


def run(data, inputs, **kwargs):
    return keystore_windows_my(facts(windows_facts(data, **kwargs)), inputs)


def connector(inner: str, attributes: str = "") -> bytes:
    return (
        '<Server port="-1"><Service name="Catalina">'
        f'<Connector port="443" SSLEnabled="true" {attributes}>{inner}</Connector>'
        "</Service></Server>"
    ).encode()


def test_registered_with_windows_facts():
    assert REGISTRY["keystore_windows_my"].needs == ("windows",)


def test_windows_my_certificate_passes(inputs):
    verdict = run(server_xml("hardened.xml"), inputs)

    assert verdict.status is Status.PASS
    line = by_item(verdict, "keystore type")
    assert (line.item, line.observed, line.expected, line.source) == (
        'keystore type of SSLHostConfig "_default_" on port 443',
        'Certificate certificateKeystoreType="Windows-MY": the service account\'s '
        "Windows certificate store",
        'certificateKeystoreType="Windows-MY"',
        SERVER_XML_SOURCE,
    )
    # The hardened file has certificateKeystoreFile="", so no file note.
    assert [e.item for e in verdict.evidence if "keystore file" in e.item] == []


def test_pkcs12_file_fails(inputs):
    verdict = run(server_xml("drifted.xml"), inputs)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "keystore type").observed == (
        'Certificate certificateKeystoreType="PKCS12": a key store file '
        "(conf/https.pfx)"
    )


def test_legacy_connector_attribute_counts(inputs):
    # Given keystoreType="Windows-MY" on the Connector (Tomcat 9)
    verdict = run(server_xml("legacy-attributes.xml"), inputs)

    # Then it passes and says where the value came from
    assert verdict.status is Status.PASS
    assert by_item(verdict, "keystore type").observed.startswith(
        'Connector keystoreType="Windows-MY" (deprecated Tomcat 9 attribute)'
    )


def test_legacy_jks_fails(inputs):
    data = connector("", 'keystoreType="JKS" keystoreFile="conf/.keystore"')

    verdict = run(data, inputs)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "keystore type").observed == (
        'Connector keystoreType="JKS" (deprecated Tomcat 9 attribute): a key store '
        "file (conf/.keystore)"
    )


def test_other_case_is_the_same_store_for_java(inputs):
    data = connector(
        '<SSLHostConfig><Certificate certificateKeystoreType="windows-my" '
        'certificateKeystoreFile=""/></SSLHostConfig>'
    )

    verdict = run(data, inputs)

    assert verdict.status is Status.PASS
    assert "without regard to case" in by_item(verdict, "keystore type").observed


def test_absent_type_is_tomcat_default_jks(inputs):
    data = connector(
        '<SSLHostConfig><Certificate certificateKeystoreFile="conf/x.jks"/>'
        "</SSLHostConfig>"
    )

    verdict = run(data, inputs)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "keystore type").observed == (
        "keystore type absent, so Tomcat uses JKS (Tomcat's default): a key store "
        "file (conf/x.jks)"
    )


def test_absent_type_follows_the_system_property(inputs):
    # Given -Djavax.net.ssl.keyStoreType=Windows-MY on the service
    data = connector(
        '<SSLHostConfig><Certificate certificateKeystoreFile=""/></SSLHostConfig>'
    )

    verdict = run(
        data, inputs, java_options=("-Djavax.net.ssl.keyStoreType=Windows-MY",)
    )

    # Then Tomcat's default is that property
    assert verdict.status is Status.PASS
    assert by_item(verdict, "keystore type").observed.startswith(
        "keystore type absent, so Tomcat uses Windows-MY (the "
        "-Djavax.net.ssl.keyStoreType system property)"
    )


def test_pem_files_fail(inputs):
    data = connector(
        '<SSLHostConfig><Certificate certificateFile="conf/cert.pem" '
        'certificateKeyFile="conf/key.pem"/></SSLHostConfig>'
    )

    verdict = run(data, inputs)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "keystore type").observed == (
        "PEM files (conf/cert.pem) instead of a key store"
    )


def test_every_certificate_and_host_is_judged(inputs):
    # Given an RSA certificate from the store and an EC one from a file
    data = connector(
        '<SSLHostConfig><Certificate type="RSA" certificateKeystoreType="Windows-MY" '
        'certificateKeystoreFile=""/><Certificate type="EC" '
        'certificateKeystoreType="PKCS12" certificateKeystoreFile="ec.p12"/>'
        "</SSLHostConfig>"
    )

    verdict = run(data, inputs)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "(RSA)").ok is True
    assert by_item(verdict, "(EC)").ok is False


def test_windows_my_with_a_keystore_file_gets_a_note(inputs):
    data = connector(
        '<SSLHostConfig><Certificate certificateKeystoreType="Windows-MY"/>'
        "</SSLHostConfig>"
    )

    verdict = run(data, inputs)

    assert verdict.status is Status.PASS
    note = by_item(verdict, "keystore file")
    assert note.ok is None
    assert note.observed.startswith("certificateKeystoreFile is absent (default:")


def test_certificate_attributes_on_sslhostconfig(inputs):
    # Tomcat 9 still reads the certificate attributes on SSLHostConfig itself.
    data = connector('<SSLHostConfig certificateKeystoreType="PKCS12"/>')

    verdict = run(data, inputs)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "keystore type").observed == (
        'SSLHostConfig certificateKeystoreType="PKCS12"'
    )


def test_plain_http_connector_fails(inputs):
    data = b'<Server><Service name="S"><Connector port="443"/></Service></Server>'

    verdict = run(data, inputs)

    assert verdict.status is Status.FAIL
    assert "SSLEnabled absent, so it uses no keystore" in verdict.summary


def test_missing_connector_fails(inputs):
    verdict = run(server_xml("commented-connector.xml"), inputs)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "Connector on port 443").ok is False


def test_unresolved_keystore_type_is_an_error(inputs):
    data = connector(
        '<SSLHostConfig><Certificate certificateKeystoreType="${ks.type}"/>'
        "</SSLHostConfig>"
    )

    with pytest.raises(CheckError, match=r"certificateKeystoreType uses \$\{ks.type\}"):
        run(data, inputs)


def test_bom_file_is_read(inputs):
    assert run(server_xml("hardened-utf8-bom.xml"), inputs).status is Status.PASS
