"""The SMTP row: STARTTLS on 25 or TLS from the first byte on 465, TLS >= 1.2.

The probe is tested against a small scripted SMTP server in a thread (on
127.0.0.43, ports picked by the OS) that can leave STARTTLS out, greet
wrongly, speak HTTP, refuse modern TLS or say nothing. The row's judgement
is tested with canned probes, and the live test probes the lab's mail1.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import warnings
from dataclasses import dataclass

import pytest

from lab import mail as lab_mail
from lab.hosts import RUN_DIR
from lab.winrm_double.testing import make_pki
from sphere_stig import catalog, inventory
from sphere_stig.collectors.smtpprobe import SmtpProbe, probe_smtp
from sphere_stig.outcome import Status
from sphere_stig.portchecks import smtp as check
from sphere_stig.ports import evaluate_port
from tests.portchecks.hosts import one_host

ADDRESS = "127.0.0.43"
ROW = next(r for r in catalog.load_ports() if r.id == "LST-06")
REPO = RUN_DIR.parents[1]


@dataclass
class Script:
    """How the fake server behaves."""

    greeting: bytes = b"220 fake.lab.example ESMTP\r\n"
    offer_starttls: bool = True
    implicit_tls: bool = False
    tls_maximum: ssl.TLSVersion | None = None
    silent: bool = False


class FakeSmtp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script, cert, key):
        self.script = script
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        if script.tls_maximum is not None:
            # Python flags the old versions as deprecated, which is the point.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                self.context.minimum_version = ssl.TLSVersion.TLSv1
                self.context.maximum_version = script.tls_maximum
            self.context.set_ciphers("DEFAULT@SECLEVEL=0")
        super().__init__((ADDRESS, 0), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        script: Script = self.server.script
        sock = self.request
        try:
            if script.silent:
                sock.recv(1)
                return
            if script.implicit_tls:
                sock = self.server.context.wrap_socket(sock, server_side=True)
            self._converse(sock, script)
        except (OSError, ssl.SSLError):
            pass

    def _converse(self, sock, script):
        sock.sendall(script.greeting)
        stream = sock.makefile("rb")
        while line := stream.readline(1024):
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                tls = b"250-STARTTLS\r\n" if script.offer_starttls else b""
                sock.sendall(
                    b"250-fake.lab.example\r\n250-PIPELINING\r\n"
                    + tls
                    + b"250 8BITMIME\r\n"
                )
            elif verb == b"STARTTLS":
                sock.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                stream.close()
                sock = self.server.context.wrap_socket(sock, server_side=True)
                stream = sock.makefile("rb")
            elif verb == b"QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"), ADDRESS)


@pytest.fixture
def serve(pki):
    servers = []

    def start(**script) -> int:
        server = FakeSmtp(Script(**script), pki.cert, pki.key)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((ADDRESS, 0))
        return sock.getsockname()[1]


# -- the probe ----------------------------------------------------------------


def test_starttls_completes_and_records_tls_and_certificate(serve):
    port = serve()

    probe = probe_smtp(ADDRESS, port, 2, "fake.lab.example", "starttls")

    assert probe.state == "ok", probe.detail
    assert probe.banner == "fake.lab.example ESMTP"
    assert probe.starttls_offered
    assert probe.tls_version in ("TLSv1.2", "TLSv1.3")
    assert probe.cert_subject == f"CN={ADDRESS},O=sphere-stig tests,C=US"
    assert probe.cert_issuer.startswith("CN=Throwaway Test Root CA")


def test_clear_text_only_server_is_no_starttls(serve):
    port = serve(offer_starttls=False)

    probe = probe_smtp(ADDRESS, port, 2, None, "starttls")

    assert probe.state == "no_starttls"
    assert probe.extensions == ("PIPELINING", "8BITMIME")
    assert check.as_port_probe(probe).state == "no TLS"


def test_refusing_greeting_is_not_smtp(serve):
    port = serve(greeting=b"554 5.3.2 go away\r\n")

    probe = probe_smtp(ADDRESS, port, 2, None, "starttls")

    assert probe.state == "no_smtp"
    assert probe.detail == "greeting 554 '5.3.2 go away', not 220"


def test_http_server_is_not_smtp(serve):
    port = serve(greeting=b"HTTP/1.1 400 Bad Request\r\n\r\n")

    probe = probe_smtp(ADDRESS, port, 2, None, "starttls")

    assert probe.state == "no_smtp"
    assert probe.detail.startswith("not an SMTP reply: 'HTTP/1.1")
    assert check.as_port_probe(probe).state == "not SMTP"


def test_silent_server_times_out_as_not_smtp(serve):
    port = serve(silent=True)

    probe = probe_smtp(ADDRESS, port, 0.3, None, "starttls")

    assert probe.state == "no_smtp"
    assert probe.detail == "no SMTP reply within 0.3 s"


def test_implicit_tls_greets_inside_tls(serve):
    port = serve(implicit_tls=True)

    probe = probe_smtp(ADDRESS, port, 2, "fake.lab.example", "implicit")

    assert probe.state == "ok", probe.detail
    assert probe.detail == "SMTP TLS from the first byte"
    assert probe.banner == "fake.lab.example ESMTP"
    assert probe.tls_version in ("TLSv1.2", "TLSv1.3")


def test_plain_server_on_an_implicit_port_fails_tls(serve):
    port = serve()

    probe = probe_smtp(ADDRESS, port, 2, None, "implicit")

    assert probe.state == "tls_failed"
    assert probe.detail.startswith(
        "TLS handshake failed with TLS 1.2 or later required"
    )


@pytest.mark.parametrize("implicit", [False, True])
def test_tls_1_1_server_is_refused(serve, implicit):
    port = serve(implicit_tls=implicit, tls_maximum=ssl.TLSVersion.TLSv1_1)

    probe = probe_smtp(ADDRESS, port, 2, None, "implicit" if implicit else "starttls")

    assert probe.state == "tls_failed"
    assert probe.tls_version is None


def test_closed_port_is_refused():
    probe = probe_smtp(ADDRESS, closed_port(), 2, None, "starttls")

    assert probe.state == "refused"
    assert check.as_port_probe(probe).state == "refused"


# -- the row ------------------------------------------------------------------


def make_host(tmp_path, name="mail9"):
    return one_host(
        tmp_path, name, "127.0.0.46", "smtp_gateway", fqdn=f"{name}.lab.example"
    )


def canned(monkeypatch, **states):
    """Make probe_smtp answer from ``states`` (port -> state) without a network."""
    seen = []

    def fake(address, port, timeout, tls_name, mode):
        seen.append((port, mode, tls_name))
        state = states[f"p{port}"]
        ok = state == "ok"
        return SmtpProbe(
            address,
            port,
            mode,
            state,
            "SMTP STARTTLS completed" if ok else "connection refused",
            banner="mail9.lab.example ESMTP" if ok else "",
            tls_version="TLSv1.3" if ok else None,
            cipher="TLS_AES_256_GCM_SHA384" if ok else None,
            cert_subject="CN=mail9.lab.example" if ok else None,
            cert_issuer="CN=Lab CA" if ok else None,
        )

    monkeypatch.setattr(check, "probe_smtp", fake)
    return seen


def test_row_probes_25_with_starttls_and_465_with_implicit_tls(tmp_path, monkeypatch):
    seen = canned(monkeypatch, p25="ok", p465="ok")

    verdict = check.smtp_port(ROW, make_host(tmp_path))

    assert verdict.status is Status.PASS
    assert seen == [
        (25, "starttls", "mail9.lab.example"),
        (465, "implicit", "mail9.lab.example"),
    ]
    assert "TLSv1.3 (TLS_AES_256_GCM_SHA384)" in verdict.evidence[0].observed
    assert "certificate subject CN=mail9.lab.example" in verdict.evidence[0].observed


def test_one_working_alternative_passes_the_row(tmp_path, monkeypatch):
    canned(monkeypatch, p25="refused", p465="ok")

    verdict = check.smtp_port(ROW, make_host(tmp_path))

    assert verdict.status is Status.PASS
    assert [e.ok for e in verdict.evidence] == [None, True]


def test_no_protected_smtp_on_either_port_fails(tmp_path, monkeypatch):
    canned(monkeypatch, p25="no_starttls", p465="refused")

    verdict = check.smtp_port(ROW, make_host(tmp_path))

    assert verdict.status is Status.FAIL
    assert verdict.evidence[0].observed.startswith("no TLS: ")
    assert verdict.evidence[1].observed.startswith("refused: ")


def test_smtp_rows_are_registered(tmp_path, monkeypatch):
    canned(monkeypatch, p25="ok", p465="ok")

    assert evaluate_port(ROW, make_host(tmp_path)).status is Status.PASS


# -- live ---------------------------------------------------------------------


def test_lab_mail1_passes_on_both_ports():
    if lab_mail.running(lab_mail.Layout(RUN_DIR)) is None:
        pytest.fail(
            "the lab's SMTP gateway mail1 (127.0.0.6:25/465) is not running: "
            "start it with lab/up",
            pytrace=False,
        )
    lab = inventory.load("lab", REPO / "inventories", catalog.load_roles())

    verdict = evaluate_port(ROW, lab.host("mail1"))

    assert verdict.status is Status.PASS, verdict.details()
    assert [e.ok for e in verdict.evidence] == [True, True]
    for evidence in verdict.evidence:
        assert "TLSv1.3" in evidence.observed or "TLSv1.2" in evidence.observed
        assert "certificate subject CN=mail1.lab.example" in evidence.observed
        assert "greeting 220 'mail1.lab.example ESMTP'" in evidence.observed
