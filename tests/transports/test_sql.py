"""The SQL transport against the TDS test double, over the network.

Each double runs in-process on its own loopback address with a throwaway
PKI (lab.pki's functions); hosts come from a real inventory file, so the
settings are exactly what a user's inventory produces. Nothing is mocked
except where a test says so.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest
import yaml

from lab.hosts import LabHost
from lab.tds_double.testing import make_pki, running_browser, running_double
from sphere_stig import catalog, inventory
from sphere_stig.outcome import CollectionError
from sphere_stig.transports import sql

PASSWORD = "probe-pw-81"


def make_host(
    tmp_path, lab_host: LabHost, port: int, ca=None, password=PASSWORD, **sql_settings
):
    """A database host loaded through an inventory file, as a user writes it."""
    secret = tmp_path / f"{lab_host.name}-password"
    secret.write_text(password)
    settings = {
        "port": port,
        "instance": "SPHERE",
        "user": "lab",
        "password": {"file": str(secret)},
        "encryption": "require",
        "connect_timeout": 3,
        **sql_settings,
    }
    if ca is not None:
        settings["ca_bundle"] = str(ca)
    document = {
        "hosts": {
            lab_host.name: {
                "address": lab_host.address,
                "fqdn": lab_host.fqdn,
                "roles": ["database_server"],
                "connections": {"sql": settings},
            }
        }
    }
    path = tmp_path / f"inv-{lab_host.name}.yml"
    path.write_text(yaml.safe_dump(document))
    return inventory.load(str(path), tmp_path, catalog.load_roles()).host(lab_host.name)


def probe(host):
    settings = host.connections.sql
    return sql.probe_tds(
        host, settings, settings.password.resolve(host.name, "password")
    )


# -- a hardened server: Force Encryption, certificate from the site CA -----------------

FORCED = LabHost("sqlp1", "127.0.0.81")


@pytest.fixture(scope="module")
def forced(tmp_path_factory):
    files = make_pki(tmp_path_factory.mktemp("pki-forced"), FORCED)
    with running_double(FORCED, files, password=PASSWORD) as double:
        yield double, files


def test_a_hardened_server_is_observed_exactly(forced, tmp_path):
    # Given a server that forces encryption, and the inventory's CA bundle
    double, files = forced
    host = make_host(tmp_path, FORCED, double.port, ca=files.ca)

    # When the transport probes it
    result = probe(host)

    # Then every observation is what the server offers
    assert result.protocol == "TDS 7.4"
    assert result.server_version == "16.0.1000.6"
    assert result.encryption_answer == "ENCRYPT_ON"
    assert result.encryption_policy == "ENCRYPT_REQ"
    assert result.encryption_forced is True
    assert result.tls_version == "TLSv1.2"
    assert result.cipher == "ECDHE-RSA-AES256-GCM-SHA384"
    assert result.legacy_tls is None
    assert result.legacy_tls_note == "TLSv1 and TLSv1.1 refused"
    assert result.certificate.subject.startswith("CN=sqlp1.lab.example,OU=LAB")
    assert result.certificate.issuer.startswith("CN=DOD SW CA-75 (LAB ONLY)")
    assert result.certificate_valid is True
    assert result.login_ok is True
    assert result.login_detail == "pytds: logged in as lab; SELECT 1 returned 1"
    assert result.source == f"TDS 127.0.0.81:{double.port}"


def test_a_certificate_from_another_ca_does_not_validate(forced, tmp_path):
    double, _files = forced
    stranger = make_pki(tmp_path / "other", FORCED)
    host = make_host(tmp_path, FORCED, double.port, ca=stranger.ca)

    result = probe(host)

    # The certificate is still seen, and the password is not sent.
    assert result.certificate_valid is False
    assert result.validation_error == "unable to get local issuer certificate"
    assert result.certificate.subject.startswith("CN=sqlp1.lab.example")
    assert result.tls_version == "TLSv1.2"
    assert result.login_ok is None
    assert (
        result.login_detail == "not attempted: the server certificate did not validate"
    )


def test_without_a_ca_bundle_nothing_is_validated_and_no_password_is_sent(
    forced, tmp_path
):
    double, _files = forced
    host = make_host(tmp_path, FORCED, double.port)

    result = probe(host)

    assert result.certificate_valid is None
    assert result.certificate is not None
    assert result.login_ok is None
    assert "without connections.sql.ca_bundle" in result.login_detail


def test_a_wrong_password_is_a_refused_login_not_an_error(forced, tmp_path):
    double, files = forced
    host = make_host(tmp_path, FORCED, double.port, ca=files.ca, password="wrong")

    result = probe(host)

    assert result.login_ok is False
    assert result.login_detail == "pytds: Login failed for user 'lab'."


def test_the_password_never_reaches_the_log(forced, tmp_path, caplog):
    double, files = forced
    host = make_host(tmp_path, FORCED, double.port, ca=files.ca)
    caplog.set_level(logging.DEBUG)

    probe(host)

    assert caplog.records
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


# -- other server settings ---------------------------------------------------------------

OTHERS = LabHost("sqlp2", "127.0.0.82")


@pytest.fixture(scope="module")
def others_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki-others"), OTHERS)


def test_optional_encryption_is_seen_as_not_forced(others_pki, tmp_path):
    with running_double(
        OTHERS, others_pki, mode="optional", password=PASSWORD
    ) as double:
        result = probe(make_host(tmp_path, OTHERS, double.port, ca=others_pki.ca))

    assert result.encryption_policy == "ENCRYPT_OFF"
    assert result.encryption_forced is False
    assert result.encryption_answer == "ENCRYPT_ON"
    assert result.login_ok is True


def test_a_server_without_encryption_answers_not_sup(others_pki, tmp_path):
    with running_double(OTHERS, None, mode="off", password=PASSWORD) as double:
        result = probe(make_host(tmp_path, OTHERS, double.port, ca=others_pki.ca))

    assert result.encryption_answer == "ENCRYPT_NOT_SUP"
    assert result.encryption_policy == "ENCRYPT_NOT_SUP"
    assert result.tls_version is None
    assert (
        result.tls_error == "the server does not support encryption (ENCRYPT_NOT_SUP)"
    )
    assert result.certificate is None


def test_legacy_tls_is_found_when_the_server_accepts_it(others_pki, tmp_path):
    with running_double(OTHERS, others_pki, tls_min="1.0", password=PASSWORD) as double:
        result = probe(make_host(tmp_path, OTHERS, double.port, ca=others_pki.ca))

    assert result.tls_version == "TLSv1.2"
    assert result.legacy_tls == "TLSv1.1"
    assert result.legacy_tls_note == "TLSv1.1 accepted"


def test_strict_settings_probe_tds8_and_log_in_with_the_own_client(
    others_pki, tmp_path
):
    with running_double(OTHERS, others_pki, mode="strict", password=PASSWORD) as double:
        host = make_host(
            tmp_path, OTHERS, double.port, ca=others_pki.ca, encryption="strict"
        )
        result = probe(host)

    assert result.protocol == "TDS 8.0"
    assert result.tls_version == "TLSv1.3"
    assert result.alpn == "tds/8.0"
    assert result.encryption_policy is None  # TDS 7.x dropped unanswered
    assert result.encryption_forced is True
    assert result.certificate_valid is True
    assert result.login_ok is True
    assert result.login_detail == "own TDS 8 client: logged in as lab"


def test_a_strict_only_server_is_probed_over_tds8_even_with_require(
    others_pki, tmp_path
):
    with running_double(OTHERS, others_pki, mode="strict", password=PASSWORD) as double:
        result = probe(make_host(tmp_path, OTHERS, double.port, ca=others_pki.ca))

    assert result.protocol == "TDS 8.0"
    assert result.tls_version == "TLSv1.3"
    assert result.login_ok is False
    assert (
        "cannot log in; connections.sql.encryption strict would" in result.login_detail
    )


def test_a_wrong_tds8_password_reports_the_servers_message(others_pki, tmp_path):
    with running_double(OTHERS, others_pki, mode="strict", password=PASSWORD) as double:
        host = make_host(
            tmp_path,
            OTHERS,
            double.port,
            ca=others_pki.ca,
            encryption="strict",
            password="x",
        )
        result = probe(host)

    assert result.login_ok is False
    assert result.login_detail == "own TDS 8 client: Login failed for user 'lab'."


def test_a_missing_ca_bundle_is_a_usage_error_not_a_server_fault(forced, tmp_path):
    double, _files = forced
    host = make_host(tmp_path, FORCED, double.port, ca=tmp_path / "missing.pem")

    with pytest.raises(inventory.InventoryError, match="connections.sql.ca_bundle"):
        probe(host)


# -- connection failures -------------------------------------------------------------------

DEAD = LabHost("sqlp3", "127.0.0.83")


def test_a_closed_port_is_a_collection_error(tmp_path):
    host = make_host(tmp_path, DEAD, 1433)

    with pytest.raises(CollectionError) as caught:
        probe(host)

    assert caught.value.source == "TDS 127.0.0.83:1433"
    assert caught.value.reason == "connection refused"


def test_something_else_on_the_port_is_not_tds(tmp_path):
    # Given a listener that answers like an HTTP server
    listener = socket.create_server((DEAD.address, 0))
    port = listener.getsockname()[1]

    def answer():
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(CollectionError) as caught:
            probe(make_host(tmp_path, DEAD, port))
    finally:
        listener.close()

    assert caught.value.reason.startswith("the port answers, but not as TDS")


# -- SQL Server Browser ----------------------------------------------------------------------

BROWSED = LabHost("sqlp4", "127.0.0.84")


def test_the_browser_names_the_instance(tmp_path):
    host = make_host(tmp_path, BROWSED, 1433)
    with running_browser(BROWSED, "SPHERE", 1433) as responder:
        answer = sql.query_browser(host, "SPHERE", responder.port, timeout=1.0)

    assert answer.request == "CLNT_UCAST_INST"
    assert answer.asked_found is True
    assert answer.instances["SPHERE"]["tcp"] == "1433"
    assert answer.instances["SPHERE"]["ServerName"] == "SQLP4"


def test_an_unknown_instance_is_told_apart_from_no_browser(tmp_path):
    host = make_host(tmp_path, BROWSED, 1433)
    with running_browser(BROWSED, "OTHER", 1433) as responder:
        answer = sql.query_browser(host, "SPHERE", responder.port, timeout=0.4)

    assert answer.request == "CLNT_UCAST_EX"
    assert answer.asked_found is False
    assert set(answer.instances) == {"OTHER"}


def test_no_browser_is_a_collection_error(tmp_path):
    host = make_host(tmp_path, BROWSED, 1433)

    with pytest.raises(CollectionError) as caught:
        sql.query_browser(host, "SPHERE", 1434, timeout=0.4)

    assert caught.value.source == "SQL Browser udp 127.0.0.84:1434"
    assert "no SQL Server Browser" in caught.value.reason


def test_browser_answers_with_several_instances_parse():
    text = (
        "ServerName;SQL1;InstanceName;MSSQLSERVER;IsClustered;No;Version;16.0.1000.6;"
        "tcp;1433;np;\\\\SQL1\\pipe\\sql\\query;;"
        "ServerName;SQL1;InstanceName;Sphere;IsClustered;No;Version;15.0.2000.5;tcp;50123;;"
    ).encode("ascii")
    data = bytes([0x05]) + len(text).to_bytes(2, "little") + text

    instances = sql.parse_browser_answer(data)

    assert set(instances) == {"MSSQLSERVER", "SPHERE"}
    assert instances["SPHERE"]["tcp"] == "50123"
    assert instances["MSSQLSERVER"]["np"] == "\\\\SQL1\\pipe\\sql\\query"


# -- the pool ----------------------------------------------------------------------------------


def test_the_pool_probes_each_host_once_and_remembers_failures(tmp_path):
    calls = []

    def fake_probe(host, settings, password):
        calls.append((host.name, password))
        raise CollectionError(host.name, "TDS x:1433", "connection refused")

    host = make_host(tmp_path, DEAD, 1433)
    pool = sql.SqlPool(probe=fake_probe)

    for _ in range(3):
        with pytest.raises(CollectionError):
            pool.probe(host)

    assert calls == [("sqlp3", PASSWORD)]
    pool.close()
    with pytest.raises(CollectionError):
        pool.probe(host)
    assert len(calls) == 2


def test_an_unreadable_password_skips_the_login_only(tmp_path):
    seen = []
    host = make_host(tmp_path, DEAD, 1433)
    (tmp_path / f"{DEAD.name}-password").unlink()
    pool = sql.SqlPool(probe=lambda h, s, password: seen.append(password) or "probe")

    assert pool.probe(host) == "probe"
    assert seen == [None]
