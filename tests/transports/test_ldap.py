"""transports/ldap.py: sessions, failures and their reasons, over real sockets.

The failure cases run against small servers made here on 127.0.0.33 (ports
picked by the OS): one that refuses, one that never answers, one that hangs
up, and TLS listeners with certificates the client must not accept. The
successful binds need the lab's Samba DC (lab/up) and are skipped without it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sphere_stig.inventory import AssetInfo, Connections, Host, LdapSettings, SecretRef
from sphere_stig.outcome import CollectionError
from sphere_stig.transports import ldap as transport
from sphere_stig.transports.ldap import LdapEndpoint, LdapPool, open_session

ADDRESS = "127.0.0.33"
USER = "svc-stig-scan@lab.example"
REPO = Path(__file__).resolve().parents[2]
LAB_RUN = REPO / "lab" / ".run"
LAB_CA = LAB_RUN / "pki" / "ca.pem"
LAB_PASSWORD = LAB_RUN / "secrets" / "ldap-password"
DC = "127.0.0.3"


def self_signed(folder: Path, name: str, *, ip: str | None = None) -> tuple[Path, Path]:
    """A certificate that is its own CA, for ``name`` (and ``ip``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    alt: list[x509.GeneralName] = [x509.DNSName(name)]
    if ip:
        alt.append(x509.IPAddress(ipaddress.ip_address(ip)))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Listener:
    """A TCP listener on ADDRESS that treats each client as ``mode`` says."""

    def __init__(self, mode: str, tls: ssl.SSLContext | None = None) -> None:
        self.mode = mode
        self.tls = tls
        self.sock = socket.create_server((ADDRESS, 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        if self.mode == "silent":
            return  # the kernel completes the TCP handshake; nobody answers
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with client:
                if self.tls is not None:
                    try:
                        with self.tls.wrap_socket(client, server_side=True):
                            pass
                    except (ssl.SSLError, OSError):
                        pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listeners():
    made: list[Listener] = []
    yield lambda mode, tls=None: made.append(Listener(mode, tls)) or made[-1]
    for listener in made:
        listener.close()


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def failure(endpoint: LdapEndpoint) -> CollectionError:
    with pytest.raises(CollectionError) as caught:
        open_session("dc9", endpoint, USER, "not-the-password")
    return caught.value


def free_port() -> int:
    with socket.create_server((ADDRESS, 0)) as sock:
        return sock.getsockname()[1]


# -- naming ---------------------------------------------------------------


def test_the_endpoint_names_itself_the_way_errors_do():
    ldaps = LdapEndpoint("127.0.0.3", 636, True)
    starttls = LdapEndpoint("127.0.0.3", 389, False)

    assert (ldaps.url, ldaps.source, ldaps.mode) == (
        "ldaps://127.0.0.3:636",
        "LDAP ldaps://127.0.0.3:636",
        "LDAPS",
    )
    assert (starttls.source, starttls.mode) == ("LDAP ldap://127.0.0.3:389", "StartTLS")
    assert LdapEndpoint("::1", 636).url == "ldaps://[::1]:636"


# -- failures, each with a reason -------------------------------------------


def test_nothing_listening_is_connection_refused():
    error = failure(LdapEndpoint(ADDRESS, free_port(), timeout=2))

    assert error.host == "dc9"
    assert error.source.startswith(f"LDAP ldaps://{ADDRESS}:")
    assert error.reason == "connection refused"


def test_a_listener_that_never_answers_times_out(listeners):
    silent = listeners("silent")
    started = time.monotonic()

    error = failure(LdapEndpoint(ADDRESS, silent.port, timeout=1))

    assert error.reason == "no answer within 1 s"
    assert time.monotonic() - started < 5


def test_a_listener_that_hangs_up_fails_the_handshake(listeners):
    plain = listeners("close")

    error = failure(LdapEndpoint(ADDRESS, plain.port, timeout=2))

    assert error.reason.startswith(("TLS handshake failed", "the server dropped"))


def test_a_certificate_from_another_ca_is_not_trusted(listeners, tmp_path):
    server_cert, server_key = self_signed(tmp_path, "dc9.lab.example", ip=ADDRESS)
    other_ca, _ = self_signed(tmp_path, "other-ca.example")
    server = listeners("tls", tls_context(server_cert, server_key))

    error = failure(
        LdapEndpoint(ADDRESS, server.port, True, "dc9.lab.example", other_ca, 2)
    )

    assert error.reason.startswith("TLS certificate not trusted: ")
    assert "self-signed" in error.reason or "issuer" in error.reason


def test_a_trusted_certificate_for_another_name_is_refused(listeners, tmp_path):
    cert, key = self_signed(tmp_path, "elsewhere.example")
    server = listeners("tls", tls_context(cert, key))

    error = failure(
        LdapEndpoint(ADDRESS, server.port, True, "dc9.lab.example", cert, 2)
    )

    assert (
        error.reason == "TLS certificate names neither the address nor the host's fqdn"
    )


def test_a_missing_ca_bundle_names_the_setting(tmp_path):
    missing = tmp_path / "nowhere.pem"

    error = failure(LdapEndpoint(ADDRESS, 636, True, None, missing))

    assert error.reason == (
        f"the CA bundle {missing} does not exist; fix connections.ldap.ca_bundle"
    )


# -- the pool -----------------------------------------------------------------


def host(ldap: LdapSettings, name: str = "dc1", address: str = DC) -> Host:
    return Host(
        name=name,
        address=address,
        fqdn=f"{name}.lab.example",
        roles=("domain_controller",),
        groups=(),
        connections=Connections(ldap=ldap),
        inputs={},
        sphere_root="C:\\",
        https_port=443,
        asset=AssetInfo(),
    )


def test_a_host_without_an_account_is_told_which_keys_to_set():
    with pytest.raises(CollectionError) as caught:
        LdapPool().session(host(LdapSettings()))

    assert caught.value.source == "LDAP ldaps://127.0.0.3:636"
    assert (
        "set connections.ldap.user and connections.ldap.password" in caught.value.reason
    )


def test_the_pool_remembers_a_failure_instead_of_retrying(monkeypatch, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret-Value")
    calls = []

    def refuse(name, endpoint, user, password):
        calls.append((name, endpoint.url, user))
        raise CollectionError(name, endpoint.source, "connection refused")

    monkeypatch.setattr(transport, "open_session", refuse)
    pool = LdapPool()
    dc = host(LdapSettings(user=USER, password=SecretRef(file=secret), port=3269))

    for _ in range(3):
        with pytest.raises(CollectionError, match="connection refused"):
            pool.session(dc)

    assert calls == [("dc1", "ldaps://127.0.0.3:3269", USER)]
    pool.close()


def test_the_endpoint_follows_the_inventory_settings(tmp_path):
    settings = LdapSettings(
        port=389, use_ssl=False, ca_bundle=tmp_path, connect_timeout=4
    )

    endpoint = LdapPool.endpoint(host(settings))

    assert endpoint == LdapEndpoint(DC, 389, False, "dc1.lab.example", tmp_path, 4)


# -- against the lab DC ---------------------------------------------------------


def _lab_dc_answers() -> bool:
    if not (LAB_CA.is_file() and LAB_PASSWORD.is_file()):
        return False
    try:
        with socket.create_connection((DC, 636), timeout=1):
            return True
    except OSError:
        return False


lab = pytest.mark.skipif(
    not _lab_dc_answers(), reason="the lab DC is not running (start it with lab/up)"
)


def lab_settings(**changes) -> LdapSettings:
    values = {
        "user": USER,
        "password": SecretRef(file=LAB_PASSWORD),
        "ca_bundle": LAB_CA,
        "base_dn": "DC=lab,DC=example",
        "connect_timeout": 5,
    }
    values.update(changes)
    return LdapSettings(**values)


@lab
@pytest.mark.parametrize(("port", "use_ssl"), [(636, True), (389, False), (3269, True)])
def test_the_audit_account_binds_inside_tls(port, use_ssl, caplog):
    caplog.set_level(logging.DEBUG, logger="sphere_stig.transports.ldap")
    pool = LdapPool()

    conn = pool.session(host(lab_settings(port=port, use_ssl=use_ssl)))

    assert conn.bound
    assert isinstance(conn.socket, ssl.SSLSocket)
    assert conn.search("DC=lab,DC=example", "(sAMAccountName=svc-stig-scan)", "SUBTREE")
    assert conn.response[0]["dn"] == "CN=svc-stig-scan,CN=Users,DC=lab,DC=example"
    assert pool.session(host(lab_settings(port=port, use_ssl=use_ssl))) is conn
    pool.close()
    assert conn.closed
    password = LAB_PASSWORD.read_text().strip()
    assert "LDAP session to dc1" in caplog.text
    assert password not in caplog.text


@lab
def test_a_wrong_password_is_refused_with_the_reason(tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-Password-1")

    with pytest.raises(CollectionError) as caught:
        LdapPool().session(host(lab_settings(password=SecretRef(file=wrong))))

    assert caught.value.source == "LDAP ldaps://127.0.0.3:636"
    assert (
        caught.value.reason == f"bind as {USER} refused: invalid user name or password"
    )


@lab
def test_the_lab_certificate_is_not_trusted_without_the_lab_ca(tmp_path):
    other_ca, _ = self_signed(tmp_path, "other-ca.example")

    with pytest.raises(CollectionError, match="TLS certificate not trusted"):
        LdapPool().session(host(lab_settings(ca_bundle=other_ca)))
