"""Live TLS facts from sslyze: protocol versions, cipher suites, the chain.

sslyze brings its own legacy OpenSSL build, so it can test whether a server
still accepts SSLv3, TLS 1.0 and TLS 1.1, which the system OpenSSL refuses to
offer before the server is even asked.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from pathlib import Path

from sphere_stig.facts import CertificateInfo, TlsScan
from sphere_stig.outcome import CollectionError

log = logging.getLogger(__name__)

NAME = "tls"

# sslyze scan command attribute -> protocol name as Tomcat spells it.
_PROTOCOL_COMMANDS = {
    "ssl_2_0_cipher_suites": "SSLv2",
    "ssl_3_0_cipher_suites": "SSLv3",
    "tls_1_0_cipher_suites": "TLSv1",
    "tls_1_1_cipher_suites": "TLSv1.1",
    "tls_1_2_cipher_suites": "TLSv1.2",
    "tls_1_3_cipher_suites": "TLSv1.3",
}


def _sslyze():
    try:
        import sslyze
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the TLS checks need sslyze: pip install 'sslyze==6.3.1'"
        ) from exc
    return sslyze


def describe_certificate(cert) -> CertificateInfo:
    """The facts of one certificate an auditor needs, from a cryptography object."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_type, key_size = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, key_size = f"EC {key.curve.name}", key.curve.key_size
    else:
        key_type, key_size = type(key).__name__, 0
    algorithm = cert.signature_hash_algorithm
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        signature_algorithm=(
            f"{algorithm.name}With{key_type.split()[0]}" if algorithm else "unknown"
        ),
        key_type=key_type,
        key_size=key_size,
        self_signed=cert.subject == cert.issuer,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def scan(
    host: str,
    address: str,
    port: int,
    server_name: str,
    trust_anchors: Path | None,
    timeout: float = 10.0,
) -> TlsScan:
    """Scan ``address:port`` and return what was accepted and presented.

    ``trust_anchors`` is a PEM bundle (the DoD roots); the received chain is
    validated against it alone. Without it, ``chain_trusted`` stays None.
    """
    sslyze = _sslyze()
    source = f"TLS {address}:{port}"
    commands = {getattr(sslyze.ScanCommand, c.upper()) for c in _PROTOCOL_COMMANDS}
    extra = None
    if trust_anchors is not None:
        commands.add(sslyze.ScanCommand.CERTIFICATE_INFO)
        extra = sslyze.ScanCommandsExtraArguments(
            certificate_info=sslyze.CertificateInfoExtraArgument(
                custom_ca_file=Path(trust_anchors)
            )
        )
    # Two attempts of half the budget each keep an unreachable host within
    # the configured connect timeout.
    request = sslyze.ServerScanRequest(
        server_location=sslyze.ServerNetworkLocation(
            hostname=server_name, port=port, ip_address=address
        ),
        network_configuration=sslyze.ServerNetworkConfiguration(
            tls_server_name_indication=server_name,
            network_timeout=max(1, math.ceil(timeout / 2)),
            network_max_retries=1,
        ),
        scan_commands=commands,
        scan_commands_extra_arguments=extra or sslyze.ScanCommandsExtraArguments(),
    )
    log.debug("RUN sslyze %s (%s) commands=%d", source, server_name, len(commands))
    scanner = sslyze.Scanner(per_server_concurrent_connections_limit=2)
    with warnings.catch_warnings():
        # sslyze loads its bundled public trust stores, one of which holds a
        # certificate that cryptography warns about; it is not ours to fix
        # and says nothing about the server under test.
        warnings.filterwarnings("ignore", message="Parsed a serial number")
        scanner.queue_scans([request])
        result = next(iter(scanner.get_results()))
    if result.scan_status != sslyze.ServerScanStatusEnum.COMPLETED:
        raise CollectionError(host, source, _connectivity_reason(result, timeout))

    accepted: dict[str, tuple[str, ...]] = {}
    for attribute, protocol in _PROTOCOL_COMMANDS.items():
        attempt = getattr(result.scan_result, attribute)
        if attempt.status != sslyze.ScanCommandAttemptStatusEnum.COMPLETED:
            raise CollectionError(
                host, source, f"{protocol} probe failed: {_attempt_error(attempt)}"
            )
        accepted[protocol] = tuple(
            s.cipher_suite.name for s in attempt.result.accepted_cipher_suites
        )

    chain: tuple[CertificateInfo, ...] = ()
    trusted: bool | None = None
    store = ""
    error: str | None = None
    if trust_anchors is not None:
        attempt = result.scan_result.certificate_info
        if attempt.status != sslyze.ScanCommandAttemptStatusEnum.COMPLETED:
            raise CollectionError(
                host, source, f"certificate probe failed: {_attempt_error(attempt)}"
            )
        deployment = attempt.result.certificate_deployments[0]
        chain = tuple(
            describe_certificate(c) for c in deployment.received_certificate_chain
        )
        anchors = Path(trust_anchors).resolve()
        for validation in deployment.path_validation_results:
            if Path(validation.trust_store.path).resolve() == anchors:
                trusted = validation.was_validation_successful
                store = str(anchors)
                error = plain_validation_error(validation.validation_error)
                break
    return TlsScan(
        host=host,
        address=address,
        port=port,
        accepted=accepted,
        chain=chain,
        chain_trusted=trusted,
        trust_store=store,
        validation_error=error,
    )


_PROCESSING = re.compile(
    r"\s*\(encountered processing <Certificate\(subject=<Name\((?P<subject>.*?)\)>.*?\)>\)"
)
_OID = re.compile(r"\b(\d+(?:\.\d+){3,})\b")


def plain_validation_error(error: str | None) -> str | None:
    """The path validator's reason without Python reprs, with OIDs named.

    cryptography words it for developers ("invalid extension: 2.5.29.35: ...
    (encountered processing <Certificate(...)>)"); the evidence reads better
    with the extension's name and the subject of the certificate concerned.
    """
    if not error:
        return error
    from cryptography.x509 import ObjectIdentifier
    from cryptography.x509.oid import ExtensionOID

    names = {
        oid.dotted_string: attribute.lower().replace("_", " ")
        for attribute, oid in vars(ExtensionOID).items()
        if isinstance(oid, ObjectIdentifier)
    }
    text = error.removeprefix("validation failed: ")
    text = _PROCESSING.sub(lambda m: f" (certificate {m['subject']})", text)
    return _OID.sub(
        lambda m: f"{names[m[1]]} ({m[1]})" if m[1] in names else m[1], text
    )


def _attempt_error(attempt) -> str:
    reason = getattr(attempt, "error_reason", None)
    trace = getattr(attempt, "error_trace", None)
    last = ""
    if trace is not None:
        last = "".join(trace.format_exception_only()).strip()
    return f"{reason.name if reason else 'error'} {last}".strip()


def _connectivity_reason(result, timeout: float) -> str:
    trace = result.connectivity_error_trace
    text = "".join(trace.format_exception_only()).strip() if trace else ""
    lowered = text.lower()
    if "refused" in lowered or "rejected" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer within {timeout:g} s"
    return text or str(result.scan_status.name)
