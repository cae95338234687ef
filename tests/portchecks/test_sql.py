"""SQL Server rows of the port table: TSQL/SSL on 1433 and the Browser on 1434.

The judging functions are pure and get hand-made probe results. The end-to-end
tests run a row through evaluate_port against an in-process TDS double; the
live test checks the lab's sql1 (needs lab/up).
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from lab import sql as lab_sql
from lab.hosts import RUN_DIR, LabHost
from lab.tds_double.testing import make_pki, running_browser, running_double
from sphere_stig import catalog, inventory
from sphere_stig.facts import CertificateInfo
from sphere_stig.outcome import CollectionError, Status
from sphere_stig.portchecks import sql as check
from sphere_stig.portchecks import udp
from sphere_stig.ports import PORT_CHECKS, evaluate_port
from sphere_stig.transports import sql

TSQL = next(r for r in catalog.load_ports() if r.id == "LST-02")
BROWSER = next(r for r in catalog.load_ports() if r.id == "LST-03")
REPO = RUN_DIR.parents[1]
CERT = CertificateInfo(
    subject="CN=db1.example.mil",
    issuer="CN=DOD SW CA-75",
    not_before="2026-01-01T00:00:00+00:00",
    not_after="2027-02-01T00:00:00+00:00",
    signature_algorithm="sha256WithRSA",
    key_type="RSA",
    key_size=2048,
    self_signed=False,
    sha256="00",
)
GOOD = sql.TdsProbe(
    host="db1",
    address="10.0.0.5",
    port=1433,
    protocol="TDS 7.4",
    server_version="16.0.1000.6",
    encryption_answer="ENCRYPT_ON",
    encryption_policy="ENCRYPT_REQ",
    tls_version="TLSv1.2",
    cipher="ECDHE-RSA-AES256-GCM-SHA384",
    legacy_tls_note="TLSv1 and TLSv1.1 refused",
    certificate=CERT,
    certificate_valid=True,
    ca_bundle="/etc/dod/roots.pem",
    server_name="db1.example.mil",
    login_ok=True,
    login_detail="pytds: logged in as lab; SELECT 1 returned 1",
)


def make_host(tmp_path, name="db1", address="10.0.0.5", fqdn=None, **sql_settings):
    document = {
        "hosts": {
            name: {
                "address": address,
                "fqdn": fqdn or f"{name}.example.mil",
                "roles": ["database_server"],
                "connections": {"sql": {"instance": "SPHERE", **sql_settings}},
            }
        }
    }
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(document))
    return inventory.load(str(path), tmp_path, catalog.load_roles()).host(name)


def by_item(verdict):
    return {e.item: e for e in verdict.evidence}


# -- judging a TDS probe ------------------------------------------------------------


def test_the_checks_are_registered_for_their_rows():
    assert PORT_CHECKS["tds_port"] is check.tds_port
    assert TSQL.check == "tds_port" and BROWSER.check == "udp_service"
    assert udp._prober(BROWSER) is check.probe_sql_browser


def test_a_forced_tls12_server_with_a_trusted_certificate_passes(tmp_path):
    verdict = check.judge_tds(TSQL, make_host(tmp_path), GOOD)

    assert verdict.status is Status.PASS
    assert verdict.summary == (
        "db1 answers TDS on 1433 and encrypts it: TLSv1.2, certificate trusted"
    )
    evidence = by_item(verdict)
    assert evidence["Force Encryption"].ok is None
    assert evidence["Force Encryption"].observed.endswith("Force Encryption is on")
    assert evidence["TLS version negotiated"].observed == (
        "TLSv1.2 (ECDHE-RSA-AES256-GCM-SHA384), inside TDS PRELOGIN packets"
    )
    assert evidence["server certificate"].ok is True
    assert evidence["login with connections.sql"].ok is None


def test_optional_encryption_still_passes_and_says_so(tmp_path):
    probe = dataclasses.replace(GOOD, encryption_policy="ENCRYPT_OFF")

    verdict = check.judge_tds(TSQL, make_host(tmp_path), probe)

    assert verdict.status is Status.PASS
    assert "Force Encryption is off" in by_item(verdict)["Force Encryption"].observed


@pytest.mark.parametrize(
    "change, failing",
    [
        ({"legacy_tls": "TLSv1.1"}, "TLS below 1.2"),
        (
            {"certificate_valid": False, "validation_error": "self-signed certificate"},
            "server certificate",
        ),
        (
            {
                "encryption_answer": "ENCRYPT_NOT_SUP",
                "tls_version": None,
                "cipher": None,
                "certificate": None,
                "certificate_valid": None,
                "tls_error": "the server does not support encryption (ENCRYPT_NOT_SUP)",
            },
            "encryption agreed",
        ),
        ({"tls_version": "TLSv1.1"}, "TLS version negotiated"),
    ],
)
def test_each_shortfall_fails_the_row(tmp_path, change, failing):
    probe = dataclasses.replace(GOOD, **change)

    verdict = check.judge_tds(TSQL, make_host(tmp_path), probe)

    assert verdict.status is Status.FAIL
    assert by_item(verdict)[failing].ok is False
    assert verdict.summary.startswith("db1: TSQL/SSL on 1433 falls short: ")
    assert failing in verdict.summary


def test_legacy_tls_is_reported_as_observed_vs_expected(tmp_path):
    probe = dataclasses.replace(
        GOOD, legacy_tls="TLSv1", legacy_tls_note="TLSv1 accepted"
    )

    evidence = by_item(check.judge_tds(TSQL, make_host(tmp_path), probe))[
        "TLS below 1.2"
    ]

    assert evidence.observed == "TLSv1 is accepted, should be refused"
    assert evidence.expected == "TLSv1 and TLSv1.1 refused"


def test_without_a_ca_bundle_the_row_is_not_reviewed(tmp_path):
    probe = dataclasses.replace(GOOD, ca_bundle=None, certificate_valid=None)

    verdict = check.judge_tds(TSQL, make_host(tmp_path), probe)

    assert verdict.status is Status.NOT_REVIEWED
    assert "set connections.sql.ca_bundle" in verdict.summary


def test_a_strict_server_is_judged_on_its_tds8_session(tmp_path):
    probe = dataclasses.replace(
        GOOD,
        protocol="TDS 8.0",
        encryption_policy=None,
        tls_version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        alpn="tds/8.0",
    )

    verdict = check.judge_tds(TSQL, make_host(tmp_path), probe)

    assert verdict.status is Status.PASS
    evidence = by_item(verdict)
    assert evidence["encryption agreed"].observed.startswith(
        "TDS 8: TLS from the first byte (ALPN tds/8.0)"
    )
    assert "strict (TDS 8) encryption only" in evidence["Force Encryption"].observed


def test_a_moved_port_is_named_in_the_evidence(tmp_path):
    probe = dataclasses.replace(GOOD, port=14330)

    verdict = check.judge_tds(TSQL, make_host(tmp_path, port=14330), probe)

    expected = by_item(verdict)["TDS PRELOGIN on tcp/14330 of db1"].expected
    assert expected.endswith("connections.sql.port 14330 (the table's default is 1433)")


def test_nothing_answering_tds_fails_the_row(tmp_path, monkeypatch):
    def refused(host, settings, password):
        raise CollectionError(host.name, "TDS 10.0.0.5:1433", "connection refused")

    pool = sql.SqlPool(probe=refused)
    monkeypatch.setattr(check, "shared_pool", lambda: pool)

    verdict = check.tds_port(TSQL, make_host(tmp_path))

    assert verdict.status is Status.FAIL
    assert verdict.evidence[0].observed == "connection refused"
    assert (
        verdict.evidence[0].source == "probe from the suite runner to TDS 10.0.0.5:1433"
    )


# -- judging a Browser answer -----------------------------------------------------------


def answer(instances, request="CLNT_UCAST_INST"):
    return sql.BrowserAnswer("db1", "10.0.0.5", 1434, request, instances, "SPHERE")


SPHERE = {
    "ServerName": "DB1",
    "InstanceName": "SPHERE",
    "IsClustered": "No",
    "Version": "16.0.1000.6",
    "tcp": "1433",
}


def test_the_browser_naming_the_instance_and_port_passes(tmp_path):
    verdict = check.judge_browser(
        make_host(tmp_path), answer({"SPHERE": SPHERE}), "i", "e"
    )

    assert verdict.status is Status.PASS
    assert verdict.evidence[0].observed == (
        "answered CLNT_UCAST_INST: DB1\\SPHERE version 16.0.1000.6 on tcp 1433"
    )


def test_the_browser_pointing_elsewhere_fails(tmp_path):
    moved = {**SPHERE, "tcp": "50123"}

    verdict = check.judge_browser(
        make_host(tmp_path), answer({"SPHERE": moved}), "i", "e"
    )

    assert verdict.status is Status.FAIL
    assert (
        verdict.evidence[0].observed == "answered CLNT_UCAST_INST: SPHERE on tcp 50123"
    )


def test_the_browser_without_the_instance_fails(tmp_path):
    other = {**SPHERE, "InstanceName": "OTHER"}

    verdict = check.judge_browser(
        make_host(tmp_path), answer({"OTHER": other}, "CLNT_UCAST_EX"), "i", "e"
    )

    assert verdict.status is Status.FAIL
    assert "SPHERE is not among them" in verdict.evidence[0].observed


def test_the_browser_row_is_not_applicable_without_an_instance(tmp_path):
    host = make_host(tmp_path)
    host = host.model_copy(
        update={
            "connections": host.connections.model_copy(
                update={
                    "sql": host.connections.sql.model_copy(update={"instance": None})
                }
            )
        }
    )

    assert evaluate_port(BROWSER, host).status is Status.NOT_APPLICABLE


# -- end to end, against the double ------------------------------------------------------

E2E = LabHost("sqlc1", "127.0.0.86")


def test_rows_run_end_to_end_against_the_double(tmp_path, monkeypatch):
    files = make_pki(tmp_path / "pki", E2E)
    secret = tmp_path / "pw"
    secret.write_text("e2e-pw")
    with running_double(E2E, files, password="e2e-pw") as double:
        with running_browser(E2E, "SPHERE", double.port) as responder:
            host = make_host(
                tmp_path,
                name=E2E.name,
                address=E2E.address,
                fqdn=E2E.fqdn,
                port=double.port,
                user="lab",
                password={"file": str(secret)},
                ca_bundle=str(files.ca),
                connect_timeout=3,
            )
            pool = sql.SqlPool()
            monkeypatch.setattr(check, "shared_pool", lambda: pool)
            tsql = evaluate_port(TSQL, host)
            # The Browser stand-in listens on a free port, not on 1434, so
            # the probe is called directly rather than through the udp
            # dispatcher, which routes by port 1434.
            moved = BROWSER.model_copy(update={"ports": (responder.port,)})
            browser = check.probe_sql_browser(moved, host)

    assert tsql.status is Status.PASS, tsql.details()
    assert browser.status is Status.PASS, browser.details()
    assert by_item(tsql)["login with connections.sql"].observed.startswith(
        "pytds: logged in as lab"
    )


# -- the lab's sql1 ------------------------------------------------------------------------


def lab_running() -> bool:
    return lab_sql.double(RUN_DIR).running_pid() is not None


@pytest.mark.skipif(not lab_running(), reason="the lab is not running (lab/up)")
def test_the_lab_sql1_passes_its_rows():
    inv = inventory.load("lab", REPO / "inventories", catalog.load_roles())
    host = inv.host("sql1")

    for row in (TSQL, BROWSER):
        verdict = evaluate_port(row, host)
        assert verdict.status is Status.PASS, verdict.details()
