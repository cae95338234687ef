"""Windows-side rules: the root store, the JVM's trust store, server.xml's ACL.

These judge facts the host facts script reads outside any file: the
LocalMachine\\Root certificate store (V-224768), the Procrun Java options of
the Tomcat service (V-224771) and the access control list of server.xml
(V-224790). When the script could not read one of them it leaves a warning
naming the section; such a gap is an error here, never a finding.

Root store: a required root counts when a certificate whose subject CN is
exactly that name (ignoring case) is in the store and not expired. Subjects
arrive as .NET writes them (``CN=..., OU=..., O=...``, values with commas in
double quotes).

Trust store option: the JVM keeps the last ``-D`` definition of a system
property, so the last ``javax.net.ssl.trustStoreType`` option is the one in
effect, and it must read exactly as the STIG lists it.

ACL: "unnecessary" is the organisation's call, so the allowed accounts are an
input. Groups that reach every user of the machine or the domain are always
findings, even when the input lists them.
"""

from __future__ import annotations

import ntpath
from collections.abc import Iterable
from datetime import UTC, datetime

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import (
    conclude,
    input_not_set,
    read_remote,
    remote_path,
    require_windows,
)
from sphere_stig.facts import AclEntry, StoreCertificate, WindowsFacts
from sphere_stig.outcome import CheckError, Evidence, Verdict, failed

COLLECTOR = "the host facts script (collectors/scripts/host_facts.ps1)"
ROOT_STORE = r"Cert:\LocalMachine\Root"
TRUST_STORE_PROPERTY = "-Djavax.net.ssl.trustStoreType="
TRUST_STORE_OPTION = TRUST_STORE_PROPERTY + "Windows-ROOT"
# Groups that stand for every (interactive, authenticated) user, by the names
# Get-Acl shows and by SID when a name cannot be resolved; compared casefolded.
BROAD_GROUPS = frozenset(
    {
        "everyone",
        "s-1-1-0",
        "builtin\\users",
        "s-1-5-32-545",
        "nt authority\\authenticated users",
        "s-1-5-11",
        "nt authority\\interactive",
        "s-1-5-4",
    }
)
# Any domain's "Domain Users" group is as broad as the ones above.
BROAD_DOMAIN_GROUP = "domain users"


def _failures(windows: WindowsFacts, section: str) -> list[str]:
    return [w for w in windows.warnings if w.startswith(f"{section}:")]


# -- V-224768 ---------------------------------------------------------------


@register("dod_roots_installed", needs=("windows",))
def dod_roots_installed(facts: Facts, inputs: Inputs) -> Verdict:
    required = _names(inputs.get("required_dod_roots"))
    if not required:
        return input_not_set(
            "required_dod_roots",
            facts.host,
            "the common names of the DoD root CAs the server must trust",
        )
    windows = require_windows(facts)
    source = f"{facts.host}: {ROOT_STORE}"
    listing = _failures(windows, "root_store")
    if listing:
        raise CheckError(
            f"{source}: {COLLECTOR} could not list the store ({'; '.join(listing)}); "
            "make sure the audit account may read the machine certificate stores "
            "and run again"
        )
    by_name: dict[str, list[StoreCertificate]] = {}
    for certificate in windows.root_store:
        for name in common_names(certificate.subject):
            by_name.setdefault(name.casefold(), []).append(certificate)
    now = datetime.now(UTC)
    evidence = [
        _root(name, by_name.get(name.casefold(), []), now, source) for name in required
    ]
    return conclude(
        "Every required DoD root CA is in the machine's Trusted Root store and valid",
        "Required DoD root CAs are missing or expired",
        evidence,
    )


def _names(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, Iterable):
        return [str(v) for v in value if str(v).strip()]
    return [str(value)]


def _root(
    name: str, found: list[StoreCertificate], now: datetime, source: str
) -> Evidence:
    item = f'root CA "{name}"'
    expected = f"a certificate with CN={name} in {ROOT_STORE}, not expired"
    if not found:
        return Evidence(item, f"CN={name} is not in the store", expected, source, False)
    described = []
    valid = False
    for certificate in found:
        expiry = _expiry(certificate, source)
        if expiry > now:
            valid = True
            state = f"valid until {expiry:%Y-%m-%d}"
        else:
            state = f"expired on {expiry:%Y-%m-%d}"
        described.append(f"thumbprint {certificate.thumbprint}, {state}")
    # The failure summary lists only the observations, so they name the root.
    observed = "present" if valid else f"CN={name} present but expired"
    return Evidence(
        item, f"{observed}: {'; '.join(described)}", expected, source, valid
    )


def _expiry(certificate: StoreCertificate, source: str) -> datetime:
    try:
        moment = datetime.fromisoformat(certificate.not_after)
    except ValueError:
        raise CheckError(
            f"{source}: {COLLECTOR} reported the expiry of {certificate.thumbprint} "
            f"as {certificate.not_after!r}, not an ISO 8601 time; report this"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def common_names(subject: str) -> list[str]:
    """The CN values of a subject as .NET writes it (``CN="a, b", O=c``)."""
    return [value for kind, value in windows_dn(subject) if kind.upper() == "CN"]


def windows_dn(subject: str) -> list[tuple[str, str]]:
    """(type, value) pairs of an X500DistinguishedName string.

    .NET separates attributes with ``, `` (and ``+`` inside one RDN) and puts a
    value in double quotes when it holds a separator, doubling any quote in it.
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in subject:
        if char == '"':
            quoted = not quoted
        if char in ",+" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    pairs = []
    for part in parts:
        kind, sep, value = part.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('""', '"')
        pairs.append((kind.strip(), value))
    return pairs


# -- V-224771 ---------------------------------------------------------------


@register("windows_root_truststore", needs=("windows",))
def windows_root_truststore(facts: Facts, inputs: Inputs) -> Verdict:
    windows = require_windows(facts)
    bin_folder = ntpath.join(inputs.sphere_root, r"Tomcat\bin")
    lookup = _failures(windows, "tomcat_service")
    service = windows.tomcat_service
    if service is None:
        none_found = [w for w in lookup if "no service runs from" in w]
        if not none_found:
            reason = "; ".join(lookup) or "no service and no reason given"
            raise CheckError(
                f"{facts.host}: {COLLECTOR} could not look up the Tomcat service "
                f"({reason}); make sure the audit account may query Win32_Service "
                "and read HKLM\\SOFTWARE, then run again"
            )
        return failed(
            f"No Tomcat service runs from {bin_folder}",
            Evidence(
                item="Tomcat service",
                observed=f"no Tomcat service found under {bin_folder}",
                expected=(
                    f"a Tomcat service under {bin_folder} whose Java options "
                    f"include {TRUST_STORE_OPTION}"
                ),
                source=f"{facts.host}: Win32_Service",
                ok=False,
            ),
        )
    if not service.registry_key:
        raise CheckError(
            f"{facts.host}: {COLLECTOR} found the service {service.name} but no "
            "Procrun Java key under HKLM\\SOFTWARE(\\WOW6432Node)\\Apache Software "
            "Foundation\\Procrun 2.0, so its Java options are unknown; check the "
            "service's configuration by hand (tomcat9w.exe, Java tab)"
        )
    source = f"{facts.host}: registry {service.registry_key} (Options, Options9)"
    evidence = [_trust_store(service.java_options, source)]
    evidence.append(
        Evidence(
            item="Tomcat service",
            observed=f"{service.name} ({service.display_name}), {service.state}",
            expected="recorded for the reviewer",
            source=f"{facts.host}: Win32_Service",
        )
    )
    evidence.extend(
        Evidence(
            item="Tomcat service lookup",
            observed=warning,
            expected="one service under Tomcat\\bin",
            source=f"{facts.host}: Win32_Service",
        )
        for warning in lookup
    )
    return conclude(
        "The Tomcat JVM uses the Windows Trusted Root store (Windows-ROOT)",
        "The Tomcat JVM does not use the Windows Trusted Root store",
        evidence,
    )


def _trust_store(options: tuple[str, ...], source: str) -> Evidence:
    settings = [o for o in options if o.startswith(TRUST_STORE_PROPERTY)]
    item = "trust store type of the Tomcat JVM"
    expected = f"the Java option {TRUST_STORE_OPTION}"
    if not settings:
        observed = (
            f"no {TRUST_STORE_PROPERTY[:-1]} option among the {len(options)} Java "
            "options, so the JVM keeps its default trust store type (its own "
            "cacerts file, not the Windows root store)"
        )
        return Evidence(item, observed, expected, source, ok=False)
    last = settings[-1]
    ok = last == TRUST_STORE_OPTION
    if ok:
        observed = f"{last} is set"
    elif last.casefold() == TRUST_STORE_OPTION.casefold():
        observed = (
            f"{last} is set: Java would accept this spelling, but the STIG lists the "
            "option exactly as expected here"
        )
    else:
        observed = f"{last} is the option in effect"
    if len(settings) > 1:
        observed += (
            f"; {len(settings)} options set the property and the JVM keeps the last"
        )
    return Evidence(item, observed, expected, source, ok=ok)


# -- V-224790 ---------------------------------------------------------------


@register("server_xml_acl", needs=("windows",))
def server_xml_acl(facts: Facts, inputs: Inputs) -> Verdict:
    allowed = _names(inputs.get("server_xml_acl_allowed"))
    if not allowed:
        return input_not_set(
            "server_xml_acl_allowed",
            facts.host,
            "the accounts and groups that may hold rights on server.xml",
        )
    windows = require_windows(facts)
    read_remote(facts, inputs, "server_xml")
    path = remote_path(inputs, "server_xml")
    if windows.server_xml_acl is None:
        reading = _failures(windows, "server_xml_acl")
        reason = "; ".join(reading) or "no reason given"
        raise CheckError(
            f"{facts.host}: {COLLECTOR} returned no ACL for {path} ({reason}); make "
            "sure the audit account may read the file's permissions (Get-Acl) and "
            "run again"
        )
    source = f"{facts.host}: ACL of {path} (Get-Acl, inherited entries included)"
    approved = {a.casefold() for a in allowed}
    entries = windows.server_xml_acl
    evidence = [_ace(e, approved, source) for e in entries]
    if not any(e.access.casefold() == "allow" for e in entries):
        evidence.append(
            Evidence(
                item="rights on server.xml",
                observed="no Allow entry, so nobody but the owner holds a right",
                expected="only approved accounts",
                source=source,
                ok=True,
            )
        )
    return conclude(
        "Only approved accounts hold rights on server.xml",
        "Accounts beyond the approved ones hold rights on server.xml",
        evidence,
    )


def _ace(entry: AclEntry, approved: set[str], source: str) -> Evidence:
    identity = entry.identity
    origin = "inherited" if entry.inherited else "explicit"
    item = f"rights of {identity} on server.xml"
    expected = "only accounts listed in server_xml_acl_allowed, never a broad group"
    if entry.access.casefold() != "allow":
        observed = f"{identity}: {entry.access} {entry.rights} ({origin}), grants "
        observed += "nothing"
        return Evidence(item, observed, expected, source)
    listed = identity.casefold() in approved
    broad = _broad(identity)
    granted = f"{identity}: Allow {entry.rights} ({origin})"
    if broad and listed:
        verdict = (
            "a group that reaches every user, so a finding even though "
            "server_xml_acl_allowed lists it"
        )
    elif broad:
        verdict = "a group that reaches every user"
    elif listed:
        verdict = "approved in server_xml_acl_allowed"
    else:
        verdict = "not in server_xml_acl_allowed"
    ok = listed and not broad
    return Evidence(item, f"{granted}: {verdict}", expected, source, ok=ok)


def _broad(identity: str) -> bool:
    key = identity.casefold()
    if key in BROAD_GROUPS:
        return True
    _, separator, name = key.rpartition("\\")
    if not separator:
        # A bare name, as some tools print BUILTIN\Users ("Users").
        return any(group.rpartition("\\")[2] == name for group in BROAD_GROUPS)
    return name == BROAD_DOMAIN_GROUP
