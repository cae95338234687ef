"""The running lab answers the way its images say (needs ``lab/up``).

Skipped when the lab Tomcats are not running. These probe the live servers
the suite's network checks will meet, so a broken derivation shows up here
rather than as a puzzling suite result.
"""

import http.client
import socket
import ssl
import warnings

import pytest

from lab import catalina
from lab.hosts import RUN_DIR, host

SPHERE01 = host("sphere01")
SPHERE02 = host("sphere02")
CA = RUN_DIR / "pki" / "ca.pem"


def _running(name: str) -> bool:
    layout = catalina.Layout(host(name), RUN_DIR)
    return catalina.running_pid(layout.pid_file, layout.marker) is not None


pytestmark = pytest.mark.skipif(
    not (_running("sphere01") and _running("sphere02")),
    reason="the lab is not running (start it with lab/up)",
)


def handshake(address: str, version: ssl.TLSVersion) -> str:
    """Negotiate exactly ``version``; returns the protocol or raises SSLError."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Lower the client's own floor so that the server is what gets tested;
    # Python flags the legacy versions as deprecated, which is the point.
    context.set_ciphers("DEFAULT@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    with socket.create_connection((address, 443), timeout=5) as sock:
        with context.wrap_socket(sock) as tls:
            return tls.version()


def accepts_tcp(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def https_get(lab_host, path: str) -> tuple[int, str]:
    """GET over TLS to the host's address, naming the host (SNI and Host)."""
    context = ssl.create_default_context(cafile=str(CA))
    if lab_host.self_signed_https:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {lab_host.fqdn}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((lab_host.address, 443), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=lab_host.fqdn) as tls:
            tls.sendall(request.encode())
            response = b"".join(iter(lambda: tls.recv(65536), b""))
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode(errors="replace")


def http_get(address: str, path: str) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection(address, 8080, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


MODERN = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]
LEGACY = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]


def name(version: ssl.TLSVersion) -> str:
    return version.name


@pytest.mark.parametrize("version", MODERN, ids=name)
def test_sphere01_accepts_modern_tls(version):
    assert handshake(SPHERE01.address, version) == version.name.replace("_", ".")


@pytest.mark.parametrize("version", LEGACY, ids=name)
def test_sphere01_refuses_legacy_tls(version):
    with pytest.raises(ssl.SSLError):
        handshake(SPHERE01.address, version)


@pytest.mark.parametrize("version", LEGACY, ids=name)
def test_sphere02_accepts_legacy_tls(version):
    assert handshake(SPHERE02.address, version) == version.name.replace("_", ".")


def test_sphere01_chain_verifies_against_the_lab_root():
    context = ssl.create_default_context(cafile=str(CA))
    with socket.create_connection((SPHERE01.address, 443), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=SPHERE01.fqdn) as tls:
            issuer = dict(item[0] for item in tls.getpeercert()["issuer"])
    assert issuer["commonName"] == "DOD SW CA-75 (LAB ONLY)"


def test_sphere02_certificate_is_not_trusted():
    context = ssl.create_default_context(cafile=str(CA))
    with socket.create_connection((SPHERE02.address, 443), timeout=5) as sock:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(sock, server_hostname=SPHERE02.fqdn)


def test_only_sphere02_listens_on_the_shutdown_port():
    assert accepts_tcp(SPHERE02.address, 8005)
    assert not accepts_tcp(SPHERE01.address, 8005)


def test_sphere01_redirects_plain_http_except_agent_paths():
    assert http_get(SPHERE01.address, "/") == (302, f"https://{SPHERE01.address}/")
    status, location = http_get(SPHERE01.address, "/app/agent/status")
    assert location is None and status == 404


@pytest.mark.parametrize(
    ("lab_host", "banner"),
    [(SPHERE01, True), (SPHERE02, False)],
    ids=["sphere01", "sphere02"],
)
def test_console_login_page_banner(lab_host, banner):
    status, page = https_get(lab_host, "/")
    assert status == 200
    assert ("USG-authorized use only" in page) is banner


def test_sphere02_serves_the_leftover_docs_app():
    assert https_get(SPHERE02, "/docs/")[0] == 200
    assert https_get(SPHERE01, "/docs/")[0] == 404
