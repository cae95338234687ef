"""The committed host images keep the shape the lab promises.

sphere01 is meant to pass every automated rule and sphere02 to fail each for
a field reason; these tests pin the raw file facts behind that, including the
encodings real Windows installs produce. The suite's own checks judge the
files; this only guards the images against accidental edits.
"""

import re

import pytest
from defusedxml.ElementTree import fromstring

from lab.hosts import host

UNSECURE_PATTERNS = [
    "/BNator/agent/*",
    "/app/agent/*",
    "/app/admin/agentinstaller.jnlp",
    "/app/clients/*",
    "/app/data/*",
    "/rc/*",
    "/BNator/uss/trafficinfo/*",
    "/BNator/data/mds/trafficpush",
    "/BNator/favorites/*",
    "/app/resource/*",
]


def raw(name: str, relative: str) -> bytes:
    return (host(name).sphere_root() / relative).read_bytes()


def xml(name: str, relative: str):
    return fromstring(raw(name, relative), forbid_dtd=True)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def find_all(root, name: str):
    return [e for e in root.iter() if local(e.tag) == name]


def text_of(element, name: str) -> list[str]:
    return [(e.text or "").strip() for e in find_all(element, name)]


@pytest.mark.parametrize("name", ["sphere01", "sphere02"])
def test_text_files_use_windows_line_endings(name):
    root = host(name).sphere_root()
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data.startswith(b"\xff\xfe"):
                data = data.decode("utf-16-le").encode()
            assert b"\r\n" in data, path
            assert b"\n" not in data.replace(b"\r\n", b""), path


def test_sphere02_carries_a_utf16_and_a_utf8_bom_file():
    users = raw("sphere02", "Tomcat/conf/tomcat-users.xml")
    assert users.startswith(b"\xff\xfe<\x00?\x00x\x00m\x00l\x00")
    assert raw("sphere02", "Tomcat/conf/server.xml").startswith(b"\xef\xbb\xbf<?xml")
    assert raw("sphere01", "Tomcat/conf/server.xml").startswith(b"<?xml")


def test_config_properties_hold_the_literal_stig_lines():
    lines = raw("sphere01", "conf/config.properties").decode().splitlines()
    # Two backslashes before the dot, exactly as the file must read.
    assert "cacUserUIDRegex=^CN=[^0-9]*\\\\.([0-9]+)," in lines
    assert "cacUserUIDProperty=UserPrincipalName" in lines
    assert "logPath=\\\\\\\\logs.lab.example\\\\sphere" in lines

    drifted = raw("sphere02", "conf/config.properties").decode().splitlines()
    assert "cacUserUIDRegex=^CN=[^0-9]*\\.([0-9]+)," in drifted
    assert not any(line.startswith("cacUserUIDProperty") for line in drifted)
    assert "logPath=C:\\\\Program Files\\\\ISEC7 SPHERE\\\\logs" in drifted


@pytest.mark.parametrize(
    ("name", "apps"),
    [
        ("sphere01", {"manager", "host-manager"}),
        ("sphere02", {"manager", "host-manager", "ROOT", "docs", "examples"}),
    ],
)
def test_webapps_folders(name, apps):
    webapps = host(name).sphere_root() / "Tomcat" / "webapps"
    assert {p.name for p in webapps.iterdir()} == apps


def test_sphere01_manager_user_has_a_pbkdf2_hash():
    users = find_all(xml("sphere01", "Tomcat/conf/tomcat-users.xml"), "user")

    assert len(users) == 1
    assert users[0].get("roles") == "manager-gui,manager-script"
    # salt$iterations$key as Tomcat's digest tool writes it: 16-byte salt,
    # 256-bit key.
    assert re.fullmatch(r"[0-9a-f]{32}\$100000\$[0-9a-f]{64}", users[0].get("password"))


def test_sphere02_user_has_a_cleartext_password_and_an_old_role():
    users = find_all(xml("sphere02", "Tomcat/conf/tomcat-users.xml"), "user")

    assert [(u.get("username"), u.get("roles")) for u in users] == [
        ("admin", "manager,admin")
    ]
    assert "$" not in users[0].get("password")


def test_sphere01_global_web_xml_forces_https_except_the_agent_paths():
    root = xml("sphere01", "Tomcat/conf/web.xml")
    constraints = {}
    for constraint in find_all(root, "security-constraint"):
        (name,) = text_of(constraint, "web-resource-name")
        constraints[name] = constraint

    assert set(constraints) == {"Unsecure", "Secure"}
    assert text_of(constraints["Unsecure"], "url-pattern") == UNSECURE_PATTERNS
    assert text_of(constraints["Unsecure"], "transport-guarantee") == []
    assert text_of(constraints["Secure"], "url-pattern") == ["/*"]
    assert text_of(constraints["Secure"], "transport-guarantee") == ["CONFIDENTIAL"]
    assert text_of(root, "session-timeout") == ["15"]


def test_sphere02_global_web_xml_is_the_stock_one():
    root = xml("sphere02", "Tomcat/conf/web.xml")

    assert find_all(root, "security-constraint") == []
    assert text_of(root, "session-timeout") == ["30"]


@pytest.mark.parametrize(
    ("name", "timeout", "error_pages"),
    [
        ("sphere01", "15", [["java.lang.Exception", "/exception.jsp"]]),
        ("sphere02", "30", []),
    ],
)
def test_sphere_web_xml(name, timeout, error_pages):
    root = xml(name, "web/WEB-INF/web.xml")

    assert text_of(root, "session-timeout") == [timeout]
    pages = [
        text_of(page, "exception-type") + text_of(page, "location")
        for page in find_all(root, "error-page")
    ]
    assert pages == error_pages


@pytest.mark.parametrize(("name", "banner"), [("sphere01", True), ("sphere02", False)])
def test_login_page_banner(name, banner):
    page = raw(name, "web/index.html").decode()

    assert ("U.S. Government (USG) Information System (IS)" in page) is banner
    assert ("USG-authorized use only" in page) is banner


def test_server_xml_settings_behind_the_rules():
    good = xml("sphere01", "Tomcat/conf/server.xml")
    drifted = xml("sphere02", "Tomcat/conf/server.xml")

    assert (good.get("port"), good.get("shutdown")) == ("-1", "SHUTDOWN")
    assert (drifted.get("port"), drifted.get("shutdown")) == ("8005", "-1")
    good_cert = good.find(".//Certificate")
    assert good_cert.get("certificateKeystoreType") == "Windows-MY"
    assert good.find(".//SSLHostConfig").get("certificateVerification") == "required"
    drifted_cert = drifted.find(".//Certificate")
    assert drifted_cert.get("certificateKeystoreType") == "PKCS12"
    assert drifted_cert.get("certificateKeystoreFile") == "conf/https.pfx"
    # The drifted host's LockOutRealm is commented out, so the parser drops it.
    assert b"LockOutRealm" in raw("sphere02", "Tomcat/conf/server.xml")
    lockout = "org.apache.catalina.realm.LockOutRealm"
    assert lockout not in [r.get("className") for r in drifted.iter("Realm")]
