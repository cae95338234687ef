"""lab/pki.py: the throwaway lab PKI."""

import datetime as dt
import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.verification import PolicyBuilder, Store

from lab import pki as lab_pki
from lab.hosts import HOSTS, host


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    return lab_pki.create(folder / "pki", folder / "secrets", HOSTS)


def certs(path):
    return x509.load_pem_x509_certificates(path.read_bytes())


def cert(path):
    return certs(path)[0]


def verify(built, leaf_file, subject):
    root = cert(built.ca_pem)
    leaf, *intermediates = certs(leaf_file)
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(subject)
    return verifier.verify(leaf, intermediates)


def test_the_root_looks_like_a_dod_root_but_says_lab_only(built):
    root = cert(built.ca_pem)

    assert root.subject.rfc4514_string() == (
        "CN=DoD Root CA 3 (LAB ONLY - NOT DOD),OU=PKI,OU=DoD,O=U.S. Government,C=US"
    )
    assert root.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_intermediate_is_issued_by_the_root(built):
    intermediate = cert(built.file("intermediate.pem"))

    assert intermediate.subject.rfc4514_string() == (
        "CN=DOD SW CA-75 (LAB ONLY),OU=PKI,OU=DoD,O=U.S. Government,C=US"
    )
    assert intermediate.issuer == cert(built.ca_pem).subject
    assert certs(built.chain_pem) == [intermediate, cert(built.ca_pem)]


@pytest.mark.parametrize("leaf", ["sphere01", "sphere01-winrm", "sphere02-winrm"])
def test_ca_issued_leaves_verify_by_name_and_by_address(built, leaf):
    lab_host = host(leaf.removesuffix("-winrm"))

    # The .pem holds the leaf and then the intermediate.
    assert len(certs(built.file(f"{leaf}.pem"))) == 2
    by_name = verify(built, built.file(f"{leaf}.pem"), x509.DNSName(lab_host.fqdn))
    address = x509.IPAddress(ipaddress.ip_address(lab_host.address))
    by_address = verify(built, built.file(f"{leaf}.pem"), address)

    assert len(by_name) == len(by_address) == 3
    subject = by_name[0].subject.rfc4514_string()
    assert subject.startswith(f"CN={lab_host.fqdn},OU=LAB,OU=PKI,OU=DoD,")


def test_sphere02_serves_a_self_signed_certificate(built):
    leaf = certs(built.file("sphere02.pem"))

    assert len(leaf) == 1
    assert leaf[0].subject.rfc4514_string() == "CN=sphere02.lab.example"
    assert leaf[0].issuer == leaf[0].subject
    assert leaf[0].public_key().key_size == 2048
    assert isinstance(leaf[0].signature_hash_algorithm, hashes.SHA256)


@pytest.mark.parametrize(("name", "extra"), [("sphere01", 1), ("sphere02", 0)])
def test_keystores_open_with_their_secret_and_carry_the_https_alias(built, name, extra):
    keystore = built.file(f"{name}.p12")

    loaded = pkcs12.load_pkcs12(
        keystore.read_bytes(), built.password(keystore).encode()
    )

    assert loaded.cert.friendly_name == b"https"
    assert loaded.cert.certificate == cert(built.file(f"{name}.pem"))
    assert len(loaded.additional_certs) == extra


def test_the_java_truststore_holds_the_root(built):
    data = built.truststore.read_bytes()

    loaded = pkcs12.load_pkcs12(data, built.password(built.truststore).encode())

    assert loaded.key is None
    assert [c.certificate for c in loaded.additional_certs] == [cert(built.ca_pem)]


def test_keys_and_secrets_are_private(built):
    assert stat.S_IMODE(built.secrets_dir.stat().st_mode) == 0o700
    private = list(built.secrets_dir.iterdir())
    private += list(built.directory.glob("*.key")) + list(built.directory.glob("*.p12"))
    assert len(private) == 3 + 6 + 3
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_complete_fresh_pki_is_reused(tmp_path):
    first, reason = lab_pki.ensure(tmp_path / "pki", tmp_path / "secrets")
    assert reason == "ca.pem is missing"
    serial = cert(first.ca_pem).serial_number

    again, reason = lab_pki.ensure(tmp_path / "pki", tmp_path / "secrets")

    assert reason is None
    assert cert(again.ca_pem).serial_number == serial


def test_a_pki_close_to_expiry_is_rebuilt(tmp_path):
    lab_pki.ensure(tmp_path / "pki", tmp_path / "secrets")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=lab_pki.LEAF_DAYS)

    _, reason = lab_pki.ensure(tmp_path / "pki", tmp_path / "secrets", now=later)

    assert reason is not None
    assert "expires" in reason


def test_a_missing_password_forces_a_rebuild(tmp_path):
    built, _ = lab_pki.ensure(tmp_path / "pki", tmp_path / "secrets")
    built.password_file(built.file("sphere01.p12")).unlink()

    reason = lab_pki.why_not_reusable(tmp_path / "pki", tmp_path / "secrets")

    assert reason == "the password of sphere01.p12 is missing"


def test_a_leaf_for_a_host_outside_the_list_is_issued_once(tmp_path):
    # Given a lab PKI and a lab service's own host (not in HOSTS)
    lab_pki.ensure(tmp_path / "pki", tmp_path / "secrets")
    win01 = lab_pki.LabHost("win01", "127.0.0.13")

    # When its leaf is asked for twice
    first = lab_pki.ensure_leaf(tmp_path / "pki", win01, "win01-winrm")
    serial = cert(tmp_path / "pki" / "win01-winrm.pem").serial_number
    second = lab_pki.ensure_leaf(tmp_path / "pki", win01, "win01-winrm")

    # Then it is issued the first time, verifies by name and address, and is
    # reused afterwards; the PKI itself stays reusable
    assert first == "win01-winrm.key is missing"
    assert second is None
    leaf_file = tmp_path / "pki" / "win01-winrm.pem"
    assert cert(leaf_file).serial_number == serial
    built = lab_pki.Pki(tmp_path / "pki", tmp_path / "secrets")
    verify(built, leaf_file, x509.DNSName("win01.lab.example"))
    verify(built, leaf_file, x509.IPAddress(ipaddress.ip_address("127.0.0.13")))
    key_mode = (tmp_path / "pki" / "win01-winrm.key").stat().st_mode
    assert stat.S_IMODE(key_mode) == 0o600
    assert lab_pki.why_not_reusable(tmp_path / "pki", tmp_path / "secrets") is None


def test_a_leaf_from_an_older_pki_is_issued_again(tmp_path):
    lab_pki.ensure(tmp_path / "pki", tmp_path / "secrets")
    win01 = lab_pki.LabHost("win01", "127.0.0.13")
    lab_pki.ensure_leaf(tmp_path / "pki", win01, "win01-winrm")

    lab_pki.create(tmp_path / "pki", tmp_path / "secrets")
    reason = lab_pki.ensure_leaf(tmp_path / "pki", win01, "win01-winrm")

    assert reason == "win01-winrm.pem was not issued by the current intermediate"
