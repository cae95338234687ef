"""V-224770, V-224777, V-224778, V-224779: the server certificate is DoD-issued.

All four rules check the same thing: the certificate the HTTPS port presents
chains to a DoD root. The TLS transport has already validated the received
chain against the inventory's ``dod_trust_anchors`` bundle; this check adds
that the leaf is not self-signed, that its issuer is a DoD CA by name and
that it is within its validity period.

The titles of V-224777 to V-224779 speak of SHA-2 and FIPS-validated
cryptography, but their check text only asks for a DoD certificate. The
signature algorithm and key are recorded as evidence, and the evidence says
that the JVM's FIPS mode is not examined.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import conclude, require_tls, scan_source
from sphere_stig.facts import CertificateInfo, TlsScan
from sphere_stig.outcome import CheckError, Evidence, Verdict, not_reviewed

TRUST_ANCHORS_INPUT = "dod_trust_anchors"
# Attribute values a DoD CA's distinguished name carries.
DOD_ISSUER = (("OU", "DoD"), ("O", "U.S. Government"))

_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}")


@register("dod_certificate", needs=("tls",))
def dod_certificate(facts: Facts, inputs: Inputs) -> Verdict:
    scan = require_tls(facts)
    source = scan_source(scan)
    if not inputs.get(TRUST_ANCHORS_INPUT):
        return not_reviewed(
            f"No DoD trust anchors are configured, so the chain cannot be judged: "
            f"set the input {TRUST_ANCHORS_INPUT} (a PEM bundle of the DoD root CAs) "
            "in the inventory",
            Evidence(
                item=f"input {TRUST_ANCHORS_INPUT}",
                observed="not set",
                expected="a PEM file with the DoD root certificates",
                source=f"inventory, host {facts.host}",
            ),
        )
    leaf = _leaf(scan)
    evidence = [
        _chain(scan, source),
        Evidence(
            item="leaf certificate self-signed",
            observed=(
                "self-signed (subject and issuer are the same)"
                if leaf.self_signed
                else "issued by a CA, not self-signed"
            ),
            expected="a certificate issued by a DoD CA",
            source=source,
            ok=not leaf.self_signed,
        ),
        _issuer(leaf, source),
        _validity(leaf, source),
        *_context(scan, leaf, source),
    ]
    return conclude(
        "The server presents a valid DoD-issued certificate that chains to a "
        "configured DoD root",
        "The server certificate is not an acceptable DoD-issued certificate",
        evidence,
    )


def _leaf(scan: TlsScan) -> CertificateInfo:
    if not scan.chain:
        reason = scan.validation_error or "no handshake delivered a certificate"
        raise CheckError(
            f"{scan_source(scan)}: no certificate chain was captured ({reason}); "
            "make sure the HTTPS connector answers (see the https_connector check) "
            "and run again"
        )
    if scan.chain_trusted is None:
        raise CheckError(
            f"{scan_source(scan)}: the chain was captured but not validated against "
            f"{TRUST_ANCHORS_INPUT}; check that the file the inventory names exists "
            "and is a PEM bundle, then run again"
        )
    return scan.chain[0]


def _chain(scan: TlsScan, source: str) -> Evidence:
    store = f" ({scan.trust_store})" if scan.trust_store else ""
    if scan.chain_trusted:
        observed = f"the chain validates to a configured DoD trust anchor{store}"
    else:
        reason = scan.validation_error or "no reason given"
        observed = (
            f"the chain does not validate to any configured trust anchor{store}: "
            f"{reason}"
        )
    return Evidence(
        item="certificate chain",
        observed=observed,
        expected=f"a chain that ends at a root in {TRUST_ANCHORS_INPUT}",
        source=source,
        ok=bool(scan.chain_trusted),
    )


def _issuer(leaf: CertificateInfo, source: str) -> Evidence:
    attributes = parse_dn(leaf.issuer)
    missing = [
        f"{kind}={value}"
        for kind, value in DOD_ISSUER
        if not any(
            k == kind and v.casefold() == value.casefold() for k, v in attributes
        )
    ]
    observed = f"issuer {leaf.issuer}"
    if missing:
        observed += f" lacks {' and '.join(missing)}"
    return Evidence(
        item="issuer distinguished name",
        observed=observed,
        expected="an issuer with OU=DoD and O=U.S. Government (a DoD CA)",
        source=source,
        ok=not missing,
    )


def _validity(leaf: CertificateInfo, source: str) -> Evidence:
    now = datetime.now(UTC)
    not_before = _timestamp(leaf.not_before)
    not_after = _timestamp(leaf.not_after)
    if now > not_after:
        observed = f"expired on {not_after:%Y-%m-%d %H:%M} UTC"
        ok = False
    elif now < not_before:
        observed = f"not valid before {not_before:%Y-%m-%d %H:%M} UTC"
        ok = False
    else:
        days = (not_after - now).days
        observed = f"valid until {not_after:%Y-%m-%d} ({days} days left)"
        ok = True
    return Evidence(
        item="validity period",
        observed=observed,
        expected="a certificate within its validity period",
        source=source,
        ok=ok,
    )


def _context(scan: TlsScan, leaf: CertificateInfo, source: str) -> list[Evidence]:
    size = f" {leaf.key_size}-bit" if leaf.key_size else ""
    signature = leaf.signature_algorithm
    return [
        Evidence(
            item="subject",
            observed=leaf.subject,
            expected="recorded for the reviewer",
            source=source,
        ),
        Evidence(
            item="key and signature",
            observed=f"{leaf.key_type}{size} key, signed with {signature}",
            expected="recorded for the reviewer (V-224777's title asks for SHA-2)",
            source=source,
        ),
        Evidence(
            item="chain sent by the server",
            observed=" <- ".join(c.subject for c in scan.chain),
            expected="recorded for the reviewer",
            source=source,
        ),
        Evidence(
            item="FIPS mode",
            observed="not examined by this check",
            expected=(
                "V-224778 and V-224779 name FIPS-validated cryptography, but their "
                "check only asks for a DoD-issued certificate"
            ),
            source=source,
        ),
    ]


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_dn(text: str) -> list[tuple[str, str]]:
    """An RFC 4514 string as (type, value) pairs, escapes resolved.

    Multi-valued RDNs (``+``) are flattened; types are upper-cased.
    """
    pairs: list[tuple[str, str]] = []
    current: list[str] = []
    position = 0
    parts: list[str] = []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            current.append(text[position : position + 2])
            position += 2
            continue
        if char in ",+":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        position += 1
    parts.append("".join(current))
    for part in parts:
        kind, sep, value = part.partition("=")
        if sep:
            pairs.append((kind.strip().upper(), _unescape_dn(value.strip())))
    return pairs


def _unescape_dn(value: str) -> str:
    # Hex escapes (\\C3\\A9) encode UTF-8 bytes, so collect bytes first.
    out = bytearray()
    position = 0
    while position < len(value):
        char = value[position]
        if char == "\\" and position + 1 < len(value):
            pair = value[position + 1 : position + 3]
            if _HEX_PAIR.fullmatch(pair):
                out.append(int(pair, 16))
                position += 3
                continue
            out.extend(value[position + 1].encode())
            position += 2
            continue
        out.extend(char.encode())
        position += 1
    return out.decode("utf-8", errors="replace")
