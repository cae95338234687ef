"""Throwaway PKI for the lab, built with ``cryptography``.

The root and the intermediate are named like DoD CAs so that the suite's
"issued by a DoD CA" checks have something realistic to look at, but both
names say plainly that they are lab-only. Nothing here is ever trusted
outside ``lab/.run/``.

Layout written into the PKI directory:

    ca.pem, ca.key                      lab root (self-signed)
    intermediate.pem, intermediate.key  lab intermediate, issued by the root
    chain.pem                           intermediate then root (CA bundle)
    truststore.p12                      Java trust store holding the root
    <host>.key / .pem / .p12            Tomcat HTTPS identity of a host
    <host>-winrm.key / .pem             WinRM HTTPS listener identity

Every ``.pem`` of a CA-issued leaf holds the leaf followed by the
intermediate, so a server that loads it sends the whole chain. Keystore
passwords are random and sit in the secrets directory as
``<keystore>.password`` (mode 600).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.hosts import HOSTS, RUN_DIR, LabHost

KEY_SIZE = 2048
ROOT_DAYS = 3650
INTERMEDIATE_DAYS = 1825
LEAF_DAYS = 397
# A PKI that expires sooner than this is rebuilt rather than reused.
MIN_DAYS_LEFT = 30
# Java picks a keystore entry by this alias; the Sphere connector asks for it.
TOMCAT_KEY_ALIAS = b"https"


def _dod_style_name(common_name: str, *units: str) -> x509.Name:
    """A DoD PKI shaped name; extra units sit between PKI and the CN."""
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "U.S. Government"),
    ]
    for unit in ("DoD", "PKI", *units):
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


ROOT_NAME = _dod_style_name("DoD Root CA 3 (LAB ONLY - NOT DOD)")
INTERMEDIATE_NAME = _dod_style_name("DOD SW CA-75 (LAB ONLY)")


@dataclass(frozen=True)
class Identity:
    """One leaf: the key, the certificate and the name of its files."""

    stem: str
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class Pki:
    """Where a built PKI lives, with lookups for its files and secrets."""

    directory: Path
    secrets_dir: Path

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def chain_pem(self) -> Path:
        return self.directory / "chain.pem"

    @property
    def truststore(self) -> Path:
        return self.directory / "truststore.p12"

    def file(self, name: str) -> Path:
        return self.directory / name

    def password_file(self, keystore: Path) -> Path:
        return self.secrets_dir / f"{keystore.name}.password"

    def password(self, keystore: Path) -> str:
        return self.password_file(keystore).read_text(encoding="ascii").strip()


def expected_files(hosts: Iterable[LabHost]) -> list[str]:
    names = ["ca.pem", "ca.key", "intermediate.pem", "intermediate.key"]
    names += ["chain.pem", "truststore.p12"]
    for host in hosts:
        names += [f"{host.name}.key", f"{host.name}.pem", f"{host.name}.p12"]
        names += [f"{host.name}-winrm.key", f"{host.name}-winrm.pem"]
    return names


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _san(host: LabHost) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName(
        [
            x509.DNSName(host.fqdn),
            x509.IPAddress(ipaddress.ip_address(host.address)),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: rsa.RSAPrivateKey,
    now: dt.datetime,
    days: int,
) -> x509.CertificateBuilder:
    # Backdate a little so that a slightly slow clock elsewhere still
    # accepts a certificate made a second ago.
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _server_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def make_root(now: dt.datetime) -> Identity:
    key = _new_key()
    cert = (
        _builder(ROOT_NAME, ROOT_NAME, key, now, ROOT_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Identity("ca", key, cert)


def make_intermediate(root: Identity, now: dt.datetime) -> Identity:
    key = _new_key()
    cert = (
        _builder(INTERMEDIATE_NAME, root.cert.subject, key, now, INTERMEDIATE_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(_authority_key_id(root), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    return Identity("intermediate", key, cert)


def _authority_key_id(issuer: Identity) -> x509.AuthorityKeyIdentifier:
    ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _host_name(host: LabHost) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host.fqdn)])


def make_server_leaf(
    host: LabHost, issuer: Identity, now: dt.datetime, stem: str
) -> Identity:
    key = _new_key()
    cert = (
        # DoD-issued server certificates carry the hierarchy's units under the
        # host name; "LAB" stands where a component (USA, USN) would.
        _builder(
            _dod_style_name(host.fqdn, "LAB"), issuer.cert.subject, key, now, LEAF_DAYS
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_server_usage(), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(_san(host), critical=False)
        .add_extension(_authority_key_id(issuer), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return Identity(stem, key, cert)


def make_self_signed_leaf(host: LabHost, now: dt.datetime, stem: str) -> Identity:
    # Shaped like what keytool or a vendor installer produces: a bare
    # subject, no CA constraints and no issuer above it.
    key = _new_key()
    name = _host_name(host)
    cert = (
        _builder(name, name, key, now, LEAF_DAYS)
        .add_extension(_san(host), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Identity(stem, key, cert)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _write_identity(
    pki: Pki, identity: Identity, chain: Sequence[x509.Certificate]
) -> None:
    _write(pki.file(f"{identity.stem}.key"), _key_pem(identity.key), 0o600)
    pem = b"".join(_pem(c) for c in (identity.cert, *chain))
    _write(pki.file(f"{identity.stem}.pem"), pem)


def _write_keystore(
    pki: Pki, identity: Identity, chain: Sequence[x509.Certificate]
) -> None:
    keystore = pki.file(f"{identity.stem}.p12")
    password = new_password()
    data = pkcs12.serialize_key_and_certificates(
        TOMCAT_KEY_ALIAS,
        identity.key,
        identity.cert,
        list(chain) or None,
        serialization.BestAvailableEncryption(password.encode("ascii")),
    )
    _write(keystore, data, 0o600)
    _write(pki.password_file(keystore), password.encode("ascii"), 0o600)


def _write_truststore(pki: Pki, root: Identity) -> None:
    password = new_password()
    data = pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(root.cert, b"lab-root")],
        serialization.BestAvailableEncryption(password.encode("ascii")),
    )
    _write(pki.truststore, data, 0o600)
    _write(pki.password_file(pki.truststore), password.encode("ascii"), 0o600)


def create(
    directory: Path,
    secrets_dir: Path,
    hosts: Iterable[LabHost] = HOSTS,
    *,
    now: dt.datetime | None = None,
) -> Pki:
    """Build a fresh PKI, replacing whatever the directory held."""
    now = now or dt.datetime.now(dt.UTC)
    pki = Pki(directory, secrets_dir)
    directory.mkdir(parents=True, exist_ok=True)
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)

    root = make_root(now)
    intermediate = make_intermediate(root, now)
    _write_identity(pki, root, ())
    _write_identity(pki, intermediate, ())
    _write(pki.chain_pem, _pem(intermediate.cert) + _pem(root.cert))
    _write_truststore(pki, root)

    for host in hosts:
        if host.self_signed_https:
            tomcat = make_self_signed_leaf(host, now, host.name)
            tomcat_chain: tuple[x509.Certificate, ...] = ()
        else:
            tomcat = make_server_leaf(host, intermediate, now, host.name)
            tomcat_chain = (intermediate.cert,)
        _write_identity(pki, tomcat, tomcat_chain)
        _write_keystore(pki, tomcat, tomcat_chain)

        winrm = make_server_leaf(host, intermediate, now, f"{host.name}-winrm")
        _write_identity(pki, winrm, (intermediate.cert,))
    return pki


def _first_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def _leaf_matches(cert: x509.Certificate, host: LabHost) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    ips = {str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)}
    dns = set(san.value.get_values_for_type(x509.DNSName))
    return host.address in ips and host.fqdn in dns


def why_not_reusable(
    directory: Path,
    secrets_dir: Path,
    hosts: Iterable[LabHost] = HOSTS,
    *,
    now: dt.datetime | None = None,
) -> str | None:
    """Say why an existing PKI cannot be reused, or None when it can."""
    now = now or dt.datetime.now(dt.UTC)
    hosts = tuple(hosts)
    pki = Pki(directory, secrets_dir)
    for name in expected_files(hosts):
        if not pki.file(name).is_file():
            return f"{name} is missing"
    for keystore in [pki.truststore] + [pki.file(f"{h.name}.p12") for h in hosts]:
        if not pki.password_file(keystore).is_file():
            return f"the password of {keystore.name} is missing"

    deadline = now + dt.timedelta(days=MIN_DAYS_LEFT)
    certs: dict[str, LabHost | None] = {"ca.pem": None, "intermediate.pem": None}
    certs.update({f"{h.name}.pem": h for h in hosts})
    certs.update({f"{h.name}-winrm.pem": h for h in hosts})
    for name, owner in certs.items():
        try:
            cert = _first_cert(pki.file(name))
        except ValueError as exc:
            return f"{name} cannot be read ({exc})"
        if cert.not_valid_after_utc < deadline:
            return f"{name} expires on {cert.not_valid_after_utc:%Y-%m-%d}"
        if owner is not None and not _leaf_matches(cert, owner):
            return f"{name} does not name {owner.fqdn} / {owner.address}"
    return None


def ensure(
    directory: Path,
    secrets_dir: Path,
    hosts: Iterable[LabHost] = HOSTS,
    *,
    now: dt.datetime | None = None,
) -> tuple[Pki, str | None]:
    """Reuse the PKI when it is complete and fresh, otherwise rebuild it.

    Returns the PKI and the reason it was rebuilt (None when reused).
    """
    hosts = tuple(hosts)
    reason = why_not_reusable(directory, secrets_dir, hosts, now=now)
    if reason is None:
        return Pki(directory, secrets_dir), None
    return create(directory, secrets_dir, hosts, now=now), reason


def ensure_leaf(
    directory: Path,
    host: LabHost,
    stem: str,
    *,
    now: dt.datetime | None = None,
) -> str | None:
    """Issue ``<stem>.key`` / ``<stem>.pem`` for a host outside ``HOSTS``.

    Lab services with hosts of their own (a monitored Windows server) get
    their leaf here, from the intermediate of the PKI that :func:`ensure`
    keeps; that function neither issues nor checks these files. The leaf is
    reused while it names the host, chains to the current intermediate and
    stays valid for ``MIN_DAYS_LEFT`` days. Returns why it was (re)issued, or
    None when it was reused.
    """
    now = now or dt.datetime.now(dt.UTC)
    pki = Pki(directory, directory)
    intermediate_cert = _first_cert(pki.file("intermediate.pem"))
    reason = _why_leaf_stale(pki, host, stem, intermediate_cert, now)
    if reason is None:
        return None
    key = serialization.load_pem_private_key(
        pki.file("intermediate.key").read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    intermediate = Identity("intermediate", key, intermediate_cert)
    leaf = make_server_leaf(host, intermediate, now, stem)
    _write_identity(pki, leaf, (intermediate_cert,))
    return reason


def _why_leaf_stale(
    pki: Pki,
    host: LabHost,
    stem: str,
    intermediate: x509.Certificate,
    now: dt.datetime,
) -> str | None:
    if not pki.file(f"{stem}.key").is_file():
        return f"{stem}.key is missing"
    try:
        cert = _first_cert(pki.file(f"{stem}.pem"))
    except (OSError, ValueError) as exc:
        return f"{stem}.pem cannot be read ({exc})"
    try:
        # Fails once the PKI has been rebuilt since the leaf was issued.
        cert.verify_directly_issued_by(intermediate)
    except (ValueError, TypeError, InvalidSignature):
        return f"{stem}.pem was not issued by the current intermediate"
    if cert.not_valid_after_utc < now + dt.timedelta(days=MIN_DAYS_LEFT):
        return f"{stem}.pem expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    if not _leaf_matches(cert, host):
        return f"{stem}.pem does not name {host.fqdn} / {host.address}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.pki", description="Create or reuse the lab PKI."
    )
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)

    pki_dir, secrets_dir = args.run_dir / "pki", args.run_dir / "secrets"
    pki, reason = ensure(pki_dir, secrets_dir)
    if reason is None:
        print(f"pki: reusing {pki_dir}")
    else:
        print(f"pki: created {pki_dir} ({reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
