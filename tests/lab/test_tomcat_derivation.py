"""lab/tomcat.py: the Windows image server.xml becomes a runnable Linux one.

The inputs are the committed host images (lab/images/<host>/fs/...), so
these tests also pin the behaviour of the real files lab/up runs with.
"""

from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from lab import tomcat
from lab.hosts import host

BASE = Path("/lab/base/sphere")
KEYSTORE = tomcat.Keystore(Path("/lab/pki/host.p12"), "keystore-secret-1")
TRUSTSTORE = tomcat.Keystore(Path("/lab/pki/truststore.p12"), "trust-secret-2")
LOCKOUT = ".//Realm[@className='org.apache.catalina.realm.LockOutRealm']"

# Attributes the derivation is allowed to touch; everything else must come
# through unchanged.
TRANSLATED = {
    ("Server", "address"),
    ("Connector", "address"),
    ("SSLHostConfig", "certificateVerification"),
    ("SSLHostConfig", "truststoreFile"),
    ("SSLHostConfig", "truststoreType"),
    ("SSLHostConfig", "truststorePassword"),
    ("Certificate", "certificateKeystoreType"),
    ("Certificate", "certificateKeystoreFile"),
    ("Certificate", "certificateKeystorePassword"),
}


def image_server_xml(name: str) -> bytes:
    path = host(name).sphere_root() / "Tomcat" / "conf" / "server.xml"
    return path.read_bytes()


def derive(name: str) -> tomcat.Derived:
    target = tomcat.Target(host(name).address, BASE, KEYSTORE, TRUSTSTORE)
    return tomcat.derive_server_xml(image_server_xml(name), target)


def parse(data: bytes):
    return fromstring(data, forbid_dtd=True)


def only(root, path: str):
    found = root.findall(path)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


def https_connector(root):
    return only(root, ".//Connector[@port='443']")


@pytest.mark.parametrize("name", ["sphere01", "sphere02"])
def test_every_connector_is_bound_to_the_host_address(name):
    # Given the image of a host whose connectors listen on every interface
    root = parse(derive(name).xml)

    # Then every connector listens on that host's loopback address only
    addresses = {c.get("address") for c in root.iter("Connector")}
    assert addresses == {host(name).address}
    assert len(root.findall(".//Connector")) == 2


@pytest.mark.parametrize("name", ["sphere01", "sphere02"])
def test_nothing_else_changes(name):
    # Given the image and its derivation, element by element
    before = list(parse(image_server_xml(name)).iter())
    after = list(parse(derive(name).xml).iter())
    assert [e.tag for e in before] == [e.tag for e in after]

    # Then an attribute differs only where the translation table allows it
    # or where the image held a Windows path
    for old, new in zip(before, after, strict=True):
        for attribute in set(old.attrib) | set(new.attrib):
            if old.get(attribute) == new.get(attribute):
                continue
            windows_path = (old.get(attribute) or "").startswith("C:\\")
            allowed = (old.tag, attribute) in TRANSLATED or windows_path
            assert allowed, f"{old.tag}@{attribute} changed"


def test_sphere01_security_settings_survive():
    root = parse(derive("sphere01").xml)

    server = root
    assert (server.get("port"), server.get("shutdown")) == ("-1", "SHUTDOWN")
    # No shutdown listener, so nothing to bind.
    assert server.get("address") is None

    connector = https_connector(root)
    assert connector.get("SSLEnabled") == "true"
    assert (connector.get("scheme"), connector.get("secure")) == ("https", "true")
    # The lab inventory documents 150 threads and 1000 connections.
    assert (connector.get("maxThreads"), connector.get("maxConnections")) == (
        "150",
        "1000",
    )
    ssl_config = only(connector, "SSLHostConfig")
    assert ssl_config.get("protocols") == "+TLSv1.2,+TLSv1.3"
    assert ssl_config.get("ciphers").startswith("ECDHE-ECDSA-AES256-GCM-SHA384:")

    lockout = only(root, LOCKOUT)
    assert (lockout.get("failureCount"), lockout.get("lockOutTime")) == ("3", "900")
    handler = only(lockout, ".//CredentialHandler")
    assert handler.get("algorithm") == "PBKDF2WithHmacSHA512"
    assert handler.get("keyLength") == "256"


def test_windows_my_becomes_the_hosts_pkcs12_with_the_same_alias():
    derived = derive("sphere01")
    certificate = only(parse(derived.xml), ".//Certificate")

    assert certificate.get("certificateKeystoreType") == "PKCS12"
    assert certificate.get("certificateKeystoreFile") == str(KEYSTORE.path)
    assert certificate.get("certificateKeystorePassword") == KEYSTORE.password
    assert certificate.get("certificateKeyAlias") == "https"
    # The keystore is read in place from the PKI: nothing to copy.
    assert derived.keystore_copies == ()


def test_required_client_certificates_become_optional_with_the_lab_root():
    ssl_config = only(parse(derive("sphere01").xml), ".//SSLHostConfig")

    assert ssl_config.get("certificateVerification") == "optional"
    assert ssl_config.get("truststoreFile") == str(TRUSTSTORE.path)
    assert ssl_config.get("truststoreType") == "PKCS12"
    assert ssl_config.get("truststorePassword") == TRUSTSTORE.password


def test_sphere02_drift_survives():
    derived = derive("sphere02")
    root = parse(derived.xml)

    # The shutdown port keeps listening, now on the host's own address.
    assert (root.get("port"), root.get("shutdown")) == ("8005", "-1")
    assert root.get("address") == "127.0.0.12"

    connector = https_connector(root)
    assert connector.get("maxThreads") == "200"
    assert connector.get("maxConnections") is None
    ssl_config = only(connector, "SSLHostConfig")
    assert ssl_config.get("protocols") == "TLSv1,TLSv1.1,TLSv1.2"
    assert ssl_config.get("certificateVerification") == "none"
    assert ssl_config.get("truststoreFile") is None

    assert root.findall(LOCKOUT) == []
    assert root.findall(".//CredentialHandler") == []
    assert derived.legacy_tls is True


def test_a_keystore_file_keeps_its_path_and_gets_the_lab_password():
    derived = derive("sphere02")
    certificate = only(parse(derived.xml), ".//Certificate")

    assert certificate.get("certificateKeystoreFile") == "conf/https.pfx"
    assert certificate.get("certificateKeystoreType") == "PKCS12"
    assert certificate.get("certificateKeystorePassword") == KEYSTORE.password
    assert derived.keystore_copies == (BASE / "conf" / "https.pfx",)


def test_windows_paths_land_in_the_base():
    root = parse(derive("sphere01").xml)

    context = only(root, ".//Context")
    assert context.get("docBase") == str(BASE / "sphere" / "web")
    valve = only(root, ".//Valve")
    assert valve.get("directory") == str(BASE / "logs")


def test_the_change_list_names_each_translation_and_hides_secrets():
    changes = derive("sphere01").changes
    text = "\n".join(str(c) for c in changes)

    assert KEYSTORE.password not in text
    assert TRUSTSTORE.password not in text
    assert {(c.where.rsplit("/", 1)[-1], c.attribute) for c in changes} >= {
        ("Connector[port=8080]", "address"),
        ("Connector[port=443]", "address"),
        ("Certificate", "certificateKeystoreType"),
        ("SSLHostConfig", "certificateVerification"),
        ("Context[path=]", "docBase"),
    }
    verification = next(c for c in changes if c.attribute == "certificateVerification")
    assert (verification.before, verification.after) == ("required", "optional")


def test_listeners_report_what_opens_a_port():
    assert derive("sphere01").listeners == (
        tomcat.Listener(8080, "http"),
        tomcat.Listener(443, "https"),
    )
    assert derive("sphere02").listeners[-1] == tomcat.Listener(8005, "shutdown")
    assert tomcat.listeners_of(derive("sphere02").xml) == derive("sphere02").listeners


def test_the_byte_order_mark_of_a_notepad_edit_is_accepted():
    # Given the sphere02 image, saved by Notepad as UTF-8 with a BOM
    assert image_server_xml("sphere02").startswith(b"\xef\xbb\xbf")

    # Then the derived file is plain UTF-8 that still parses
    xml = derive("sphere02").xml
    assert xml.startswith(b"<?xml")
    assert parse(xml).tag == "Server"


def test_tomcat_9_connector_ssl_attributes_are_refused():
    data = (
        b'<Server port="-1"><Service>'
        b'<Connector port="443" clientAuth="true"/>'
        b"</Service></Server>"
    )
    target = tomcat.Target("127.0.0.2", BASE, KEYSTORE)

    with pytest.raises(ValueError, match="clientAuth"):
        tomcat.derive_server_xml(data, target)


def test_a_certificate_without_any_keystore_is_refused():
    data = (
        b'<Server port="-1"><Service><Connector port="443" SSLEnabled="true">'
        b'<SSLHostConfig><Certificate certificateFile="conf/x.pem"/></SSLHostConfig>'
        b"</Connector></Service></Server>"
    )
    target = tomcat.Target("127.0.0.2", BASE, KEYSTORE)

    with pytest.raises(ValueError, match="not supported"):
        tomcat.derive_server_xml(data, target)


def test_a_server_without_port_attribute_still_gets_bound():
    # Tomcat's default shutdown port is 8005 when the attribute is absent.
    data = b"<Server><Service/></Server>"
    target = tomcat.Target("127.0.0.2", BASE, KEYSTORE)

    derived = tomcat.derive_server_xml(data, target)

    assert parse(derived.xml).get("address") == "127.0.0.2"
    assert derived.listeners == (tomcat.Listener(8005, "shutdown"),)


@pytest.mark.parametrize(
    ("windows", "linux"),
    [
        (r"C:\Program Files\ISEC7 SPHERE\Tomcat\logs", BASE / "logs"),
        (
            r"C:\Program Files\ISEC7 SPHERE\Tomcat\conf\https.pfx",
            BASE / "conf/https.pfx",
        ),
        (r"c:\program files\isec7 sphere\tomcat", BASE),
        (r"C:\Program Files\ISEC7 SPHERE\web", BASE / "sphere/web"),
        (
            "C:/Program Files/ISEC7 SPHERE/conf/config.properties",
            BASE / "sphere/conf/config.properties",
        ),
    ],
)
def test_linux_path(windows, linux):
    assert tomcat.linux_path(windows, BASE) == linux


@pytest.mark.parametrize("outside", [r"C:\Windows\Temp", r"D:\ISEC7 SPHERE\web"])
def test_paths_outside_the_sphere_root_are_refused(outside):
    with pytest.raises(ValueError, match="outside"):
        tomcat.linux_path(outside, BASE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+TLSv1.2,+TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("TLSv1.2+TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("-all+TLSv1.2+TLSv1.3", {"TLSv1.2", "TLSv1.3"}),
        ("TLSv1,TLSv1.1,TLSv1.2", {"TLSv1", "TLSv1.1", "TLSv1.2"}),
        ("+all -SSLv2Hello", {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}),
        ("all", {"SSLv2Hello", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}),
        (None, {"TLSv1.2", "TLSv1.3"}),
    ],
)
def test_enabled_protocols_follow_tomcat_syntax(value, expected):
    assert tomcat.enabled_protocols(value) == expected


JAVA_SECURITY_SAMPLE = """\
# comment
jdk.certpath.disabledAlgorithms=MD2, MD5
jdk.tls.disabledAlgorithms=SSLv3, TLSv1, TLSv1.1, DTLSv1.0, RC4, DES, \\
    MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL, \\
    ECDH

jdk.tls.legacyAlgorithms=NULL
"""


def test_legacy_tls_override_removes_only_tls_1_0_and_1_1():
    text = tomcat.allow_legacy_tls(JAVA_SECURITY_SAMPLE)

    line = next(x for x in text.splitlines() if not x.startswith("#"))
    key, _, value = line.partition("=")
    assert key == "jdk.tls.disabledAlgorithms"
    assert value.split(", ") == [
        "SSLv3",
        "DTLSv1.0",
        "RC4",
        "DES",
        "MD5withRSA",
        "DH keySize < 1024",
        "EC keySize < 224",
        "3DES_EDE_CBC",
        "anon",
        "NULL",
        "ECDH",
    ]


def test_legacy_tls_override_needs_the_property():
    with pytest.raises(ValueError, match="disabledAlgorithms"):
        tomcat.allow_legacy_tls("jdk.certpath.disabledAlgorithms=MD2\n")
