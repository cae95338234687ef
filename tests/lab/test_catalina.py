"""lab/catalina.py: building a private CATALINA_BASE from a host image.

Nothing is started here; the live Tomcats are covered by test_live_lab.py.
"""

import os
import stat
import sys

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from defusedxml.ElementTree import fromstring

from lab import catalina
from lab import pki as lab_pki
from lab.hosts import HOSTS, host

pytestmark = pytest.mark.skipif(
    not catalina.DEBIAN_CONF.is_dir(), reason="Debian's tomcat10 is not installed"
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    lab_pki.create(folder / "pki", folder / "secrets", HOSTS)
    return folder


def image_file(name, relative):
    return host(name).sphere_root() / relative


@pytest.fixture(scope="module")
def bases(run_dir):
    pki = lab_pki.Pki(run_dir / "pki", run_dir / "secrets")
    images = host("sphere01").image().parent
    layouts = {}
    for lab_host in HOSTS:
        layout = catalina.Layout(lab_host, run_dir)
        layouts[lab_host.name] = (layout, catalina.prepare_base(layout, pki, images))
    return layouts


@pytest.mark.parametrize("name", ["sphere01", "sphere02"])
def test_files_the_suite_reads_are_copied_byte_for_byte(bases, name):
    layout, _ = bases[name]
    for relative in ("web.xml", "tomcat-users.xml", "catalina.properties"):
        copied = (layout.base / "conf" / relative).read_bytes()
        assert copied == image_file(name, f"Tomcat/conf/{relative}").read_bytes()
    sphere_web_xml = layout.base / "sphere" / "web" / "WEB-INF" / "web.xml"
    assert (
        sphere_web_xml.read_bytes()
        == image_file(name, "web/WEB-INF/web.xml").read_bytes()
    )


@pytest.mark.parametrize("name", ["sphere01", "sphere02"])
def test_webapps_listing_matches_the_image(bases, name):
    layout, _ = bases[name]
    image = {p.name for p in image_file(name, "Tomcat/webapps").iterdir()}
    assert {p.name for p in (layout.base / "webapps").iterdir()} == image


def test_the_derived_server_xml_is_private_and_bound(bases):
    layout, derived = bases["sphere01"]
    server_xml = layout.base / "conf" / "server.xml"

    assert stat.S_IMODE(server_xml.stat().st_mode) == 0o600
    assert server_xml.read_bytes() == derived.xml
    assert b'address="127.0.0.2"' in derived.xml


def test_sphere02_gets_its_keystore_and_the_legacy_tls_policy(bases, run_dir):
    layout, _ = bases["sphere02"]
    keystore = layout.base / "conf" / "https.pfx"
    pki = lab_pki.Pki(run_dir / "pki", run_dir / "secrets")

    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    password = pki.password(pki.file("sphere02.p12")).encode()
    assert pkcs12.load_pkcs12(keystore.read_bytes(), password).key is not None

    policy = (layout.base / "conf" / "lab-java.security").read_text()
    disabled = policy.splitlines()[-1].partition("=")[2].split(", ")
    assert "TLSv1" not in disabled and "TLSv1.1" not in disabled
    assert "SSLv3" in disabled


def test_sphere01_needs_no_legacy_tls_policy(bases):
    layout, derived = bases["sphere01"]
    assert derived.legacy_tls is False
    assert not (layout.base / "conf" / "lab-java.security").exists()


def test_the_translation_log_lists_changes_without_secrets(bases, run_dir):
    layout, derived = bases["sphere01"]
    text = layout.translation_log.read_text()
    secrets = [p.read_text() for p in (run_dir / "secrets").iterdir()]

    assert len(text.splitlines()) == len(derived.changes)
    assert "certificateVerification: 'required' -> 'optional'" in text
    assert not any(secret in text for secret in secrets)


def test_running_pid_needs_a_live_process_with_the_marker(tmp_path):
    pid_file = tmp_path / "x.pid"
    assert catalina.running_pid(pid_file, "anything") is None

    pid_file.write_text(f"{os.getpid()}\n")
    marker = os.path.basename(sys.executable)
    assert catalina.running_pid(pid_file, marker) == os.getpid()
    assert catalina.running_pid(pid_file, marker, "no-such-marker-xyz") is None

    pid_file.write_text("not a pid\n")
    assert catalina.running_pid(pid_file, marker) is None


def test_the_base_context_skips_class_path_scanning(bases):
    layout, _ = bases["sphere01"]
    root = fromstring((layout.base / "conf" / "context.xml").read_bytes())

    scanner = root.find("JarScanner")
    assert scanner is not None
    assert scanner.get("scanClassPath") == "false"


def test_quick_scan_refuses_an_unexpected_context_file():
    with pytest.raises(ValueError, match="Context"):
        catalina.quick_scan("<Context/>")
