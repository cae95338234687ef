"""The TDS test double, driven by real clients: python-tds, pymssql (FreeTDS).

Each module-level double runs in-process on its own loopback address and a
free port, with a throwaway PKI made by lab.pki's functions. pymssql reads
its certificate settings from the freetds.conf that FREETDSCONF names; it
reads that file again at every connect, so each test sets its own.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct

import pymssql
import pytds
import pytest

from lab.hosts import LabHost
from lab.tds_double import browser, wire
from lab.tds_double.testing import make_pki, running_browser, running_double

FORCED = LabHost("sqlt1", "127.0.0.71")
STRICT = LabHost("sqlt2", "127.0.0.72")
OPTIONAL = LabHost("sqlt3", "127.0.0.73")
PASSWORD = "lab-password"


@pytest.fixture(scope="module")
def forced(tmp_path_factory):
    files = make_pki(tmp_path_factory.mktemp("pki-forced"), FORCED)
    with running_double(FORCED, files, password=PASSWORD) as double:
        yield double, files


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    files = make_pki(tmp_path_factory.mktemp("pki-strict"), STRICT)
    with running_double(STRICT, files, mode="strict", password=PASSWORD) as double:
        yield double, files


@pytest.fixture(scope="module")
def optional(tmp_path_factory):
    files = make_pki(tmp_path_factory.mktemp("pki-optional"), OPTIONAL)
    with running_double(OPTIONAL, files, mode="optional", password=PASSWORD) as double:
        yield double, files


def pytds_connect(host, double, password=PASSWORD, **options):
    # pytds matches the certificate against DNS names only: connect by name,
    # over a socket already connected to the address.
    sock = socket.create_connection((host.address, double.port), timeout=5)
    return pytds.connect(
        dsn=host.fqdn,
        port=double.port,
        user="lab",
        password=password,
        sock=sock,
        login_timeout=5,
        disable_connect_retry=True,
        **{"autocommit": True, **options},
    )


@pytest.fixture
def freetds_conf(tmp_path, monkeypatch):
    """Write a freetds.conf [global] section and point FREETDSCONF at it."""

    def write(**settings):
        path = tmp_path / "freetds.conf"
        lines = [
            f"{key.replace('_', ' ')} = {value}" for key, value in settings.items()
        ]
        path.write_text("[global]\n" + "\n".join(lines) + "\n")
        monkeypatch.setenv("FREETDSCONF", str(path))
        return path

    return write


def pymssql_connect(host, double, **options):
    return pymssql.connect(
        server=host.address,
        port=str(double.port),
        user="lab",
        password=PASSWORD,
        login_timeout=5,
        **options,
    )


# -- python-tds --------------------------------------------------------------------


def test_pytds_with_the_ca_file_connects_and_selects(forced):
    # Given a double that forces encryption, and pytds trusting its CA
    double, files = forced

    # When pytds logs in by host name and runs two batches
    with pytds_connect(FORCED, double, cafile=str(files.ca)) as connection:
        with connection.cursor() as cursor:
            cursor.execute("select 1")
            one = cursor.fetchall()
            cursor.execute("SELECT @@VERSION")
            version = cursor.fetchone()[0]

    # Then it gets the rows, and the version says what answered
    assert one == [(1,)]
    assert version.startswith(
        "TDS test double (sphere-stig lab), not Microsoft SQL Server"
    )


def test_pytds_with_a_wrong_password_gets_login_failed(forced):
    double, files = forced

    with pytest.raises(pytds.OperationalError) as caught:
        pytds_connect(FORCED, double, password="wrong", cafile=str(files.ca))

    assert caught.value.msg_no == 18456
    assert "Login failed for user 'lab'." in str(caught.value)


def test_pytds_without_a_ca_file_is_told_encryption_is_required(forced):
    # Given pytds without cafile: it offers no encryption (ENCRYPT_NOT_SUP)
    double, _files = forced

    with pytest.raises(pytds.Error) as caught:
        pytds_connect(FORCED, double)

    assert "encryption enabled but it is required by server" in str(caught.value)


def test_pytds_refuses_a_certificate_from_another_ca(forced, tmp_path):
    double, _files = forced
    stranger = make_pki(tmp_path, FORCED)

    with pytest.raises(Exception, match="certificate verify failed"):
        pytds_connect(FORCED, double, cafile=str(stranger.ca))


def test_transaction_requests_get_their_descriptors(forced):
    # pytds sends TM_BEGIN_XACT / TM_COMMIT_XACT (with fBeginXact) /
    # TM_ROLLBACK_XACT and keeps the descriptor of the ENVCHANGE answer.
    double, files = forced
    with pytds_connect(
        FORCED, double, cafile=str(files.ca), autocommit=False
    ) as connection:
        tds = connection._tds_socket
        tds.main_session.begin_tran()
        first = tds.tds72_transaction
        tds.main_session.commit(cont=True)
        second = tds.tds72_transaction
        tds.main_session.rollback(cont=False)

        assert first and second and first != second
        assert tds.tds72_transaction == 0


def test_login_only_encryption_drops_tls_after_login7(optional, caplog):
    # Given Force Encryption off and a client that asks for login-only TLS
    double, files = optional
    caplog.set_level(logging.INFO, logger="lab.tds_double")

    with pytds_connect(
        OPTIONAL, double, cafile=str(files.ca), enc_login_only=True
    ) as connection:
        with connection.cursor() as cursor:
            cursor.execute("select 7")
            assert cursor.fetchall() == [(7,)]

    # Then the server agreed to ENCRYPT_OFF and ran TLS for the login only
    messages = [r.getMessage() for r in caplog.records]
    assert any("client ENCRYPT_OFF -> ENCRYPT_OFF" in m for m in messages)
    assert any(m.endswith("(login only)") for m in messages)


# -- pymssql (FreeTDS 1.5) ----------------------------------------------------------


def test_pymssql_with_the_ca_file_and_require_connects(forced, freetds_conf):
    double, files = forced
    freetds_conf(tds_version="7.4", ca_file=files.ca, check_certificate_hostname="yes")

    connection = pymssql_connect(FORCED, double, encryption="require")
    try:
        cursor = connection.cursor()
        cursor.execute("select 1")
        assert cursor.fetchall() == [(1,)]
    finally:
        connection.close()


def test_pymssql_with_encryption_off_cannot_connect_when_forced(forced, freetds_conf):
    double, files = forced
    freetds_conf(tds_version="7.4", ca_file=files.ca)

    with pytest.raises(pymssql.OperationalError):
        pymssql_connect(FORCED, double, encryption="off")


def test_pymssql_refuses_the_certificate_without_the_lab_ca(forced, freetds_conf):
    double, _files = forced
    freetds_conf(tds_version="7.4", ca_file="/etc/ssl/certs/ca-certificates.crt")

    with pytest.raises(pymssql.OperationalError):
        pymssql_connect(FORCED, double, encryption="require")


def test_pymssql_strict_gets_tls_13_with_alpn_tds8(strict, freetds_conf, caplog):
    # Given a double in strict mode and FreeTDS set to "encryption = strict"
    double, files = strict
    freetds_conf(tds_version="7.4", encryption="strict", ca_file=files.ca)
    caplog.set_level(logging.INFO, logger="lab.tds_double")

    # When pymssql logs in
    connection = pymssql_connect(STRICT, double)
    try:
        cursor = connection.cursor()
        cursor.execute("select 1")
        assert cursor.fetchall() == [(1,)]
    finally:
        connection.close()

    # Then TLS came first, as TLS 1.3 with ALPN tds/8.0
    tls = [r.getMessage() for r in caplog.records if "TDS 8 TLS" in r.getMessage()]
    assert tls and "TLSv1.3" in tls[-1] and "ALPN tds/8.0" in tls[-1]


# -- the protocol, byte by byte -------------------------------------------------------


def prelogin(encryption: int) -> bytes:
    payload = wire.build_prelogin(
        [
            (wire.Option.VERSION, bytes(6)),
            (wire.Option.ENCRYPTION, bytes([encryption])),
            (wire.Option.INSTOPT, b"MSSQLServer\x00"),
        ]
    )
    return wire.packets(wire.PacketType.PRELOGIN, payload, 4096)[0]


def read_packet(sock):
    header = b""
    while len(header) < 8:
        chunk = sock.recv(8 - len(header))
        if not chunk:
            return None, b""
        header += chunk
    kind, _status, length = struct.unpack(">BBH", header[:4])
    body = b""
    while len(body) < length - 8:
        body += sock.recv(length - 8 - len(body))
    return kind, body


def test_the_prelogin_answer_comes_in_a_reply_packet(forced):
    double, _files = forced
    with socket.create_connection((FORCED.address, double.port), timeout=5) as sock:
        sock.sendall(prelogin(wire.Encrypt.ON))
        kind, body = read_packet(sock)

    options = wire.parse_prelogin(body)
    assert kind == wire.PacketType.REPLY
    assert options[wire.Option.ENCRYPTION] == bytes([wire.Encrypt.ON])
    assert options[wire.Option.VERSION][:2] == bytes([16, 0])
    # SQL Server answers THREADID, but with nothing in it.
    assert options[wire.Option.THREADID] == b""


def test_forced_answers_encrypt_req_then_closes_on_a_client_without_tls(forced):
    double, _files = forced
    with socket.create_connection((FORCED.address, double.port), timeout=5) as sock:
        sock.sendall(prelogin(wire.Encrypt.NOT_SUP))
        kind, body = read_packet(sock)
        after = read_packet(sock)

    assert wire.parse_prelogin(body)[wire.Option.ENCRYPTION] == bytes(
        [wire.Encrypt.REQ]
    )
    assert after == (None, b"")


def test_a_strict_double_drops_tds7_clients_unanswered(strict):
    # Force Strict Encryption: a cleartext PRELOGIN gets no answer at all.
    double, _files = strict
    with socket.create_connection((STRICT.address, double.port), timeout=5) as sock:
        sock.sendall(prelogin(wire.Encrypt.ON))
        try:
            answer = read_packet(sock)
        except ConnectionResetError:
            answer = (None, b"")

    assert answer == (None, b"")


def test_the_tls_handshake_travels_in_prelogin_packets(forced):
    double, _files = forced
    with socket.create_connection((FORCED.address, double.port), timeout=5) as sock:
        sock.sendall(prelogin(wire.Encrypt.ON))
        read_packet(sock)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing)
        with pytest.raises(ssl.SSLWantReadError):
            tls.do_handshake()
        sock.sendall(wire.packets(wire.PacketType.PRELOGIN, outgoing.read(), 4096)[0])
        kind, body = read_packet(sock)

    assert kind == wire.PacketType.PRELOGIN
    assert body[:1] == b"\x16"  # a TLS handshake record, ServerHello first


def test_login7_passwords_are_unscrambled():
    # The client side of LOGIN7: nibbles swapped, then XOR 0xA5 (MS-TDS 2.2.6.4).
    scrambled = bytes(
        (((b & 0x0F) << 4) | (b >> 4)) ^ 0xA5 for b in "Pässwort".encode("utf-16-le")
    )

    assert wire.deobfuscate(scrambled).decode("utf-16-le") == "Pässwort"


# -- SQL Server Browser -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_double():
    with running_browser(FORCED, "SPHERE", 1433) as responder:
        yield responder


def ask(responder, request: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # Loopback answers in well under a millisecond.
        sock.settimeout(0.2)
        sock.sendto(request, (responder.address, responder.port))
        try:
            return sock.recv(4096)
        except TimeoutError:
            return None


def test_browser_names_the_instance_and_its_tcp_port(browser_double):
    reply = ask(browser_double, b"\x04sphere\x00")

    assert reply is not None
    (size,) = struct.unpack_from("<H", reply, 1)
    assert reply[0] == browser.SVR_RESP
    assert reply[3:].decode("ascii") == (
        "ServerName;SQLT1;InstanceName;SPHERE;IsClustered;No;"
        "Version;16.0.1000.6;tcp;1433;;"
    )
    assert size == len(reply) - 3


def test_browser_lists_every_instance_on_clnt_ucast_ex(browser_double):
    reply = ask(browser_double, b"\x03")

    assert reply is not None and b"InstanceName;SPHERE;" in reply


def test_browser_stays_silent_about_unknown_instances(browser_double):
    assert ask(browser_double, b"\x04OTHER\x00") is None
    assert ask(browser_double, b"\x0f\x01SPHERE\x00") is None
    assert ask(browser_double, b"") is None
