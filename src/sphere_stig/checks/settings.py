"""V-224766 and V-224769: what Sphere's conf/config.properties must say.

The file is read the way ``java.util.Properties.load`` reads it (the parser
module explains the rules), so a key counts only where Java would see it:
the last definition wins, and a byte-order mark in front of the first key
becomes part of that key.

Log destination (V-224766): ``logPath`` must lead to the off-box location the
organisation declares (input ``log_destination``). Slashes are normalised and
case is ignored, as Windows does for paths, and the destination must match
whole path components (``\\\\logs\\sphere`` does not cover
``\\\\logs\\sphere-old``). Whether the logs really arrive on the log server,
and are backed up there, cannot be seen from the Sphere host.

CAC logon (V-224769): the two ``cacUser*`` lines are compared as written in
the file, before Java resolves escapes: the STIG's regular expression holds
``\\\\.``, which Java reads as ``\\.`` (a literal dot), while a single
backslash would leave a bare ``.`` that matches any character. The HTTPS
connector must require a client certificate; Tomcat 9 accepts that as
``certificateVerification`` on SSLHostConfig or as the deprecated
``clientAuth`` on the Connector, and both are read. The console switch for
certificate logons is not in any file and stays with the reviewer.
"""

from __future__ import annotations

import ntpath

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import (
    and_list,
    conclude,
    https_connector_of,
    input_not_set,
    load_config_properties,
    load_server_config,
    missing_connector,
)
from sphere_stig.outcome import Evidence, Verdict
from sphere_stig.parsers.properties import Properties, PropertyEntry
from sphere_stig.parsers.tomcat import Connector, SSLHostConfig

LOG_PATH_KEY = "logPath"
UID_REGEX_KEY = "cacUserUIDRegex"
UID_PROPERTY_KEY = "cacUserUIDProperty"
# The values as the file must hold them (the regex with two backslashes).
UID_REGEX = r"^CN=[^0-9]*\\.([0-9]+),"
UID_PROPERTY = "UserPrincipalName"

# A UTF-8 byte-order mark as Java's ISO 8859-1 reading sees it, or decoded.
_BOM_PREFIXES = ("\xef\xbb\xbf", "\ufeff")
# CertificateVerification.fromString knows these (any case).
_KNOWN_VERIFICATION = frozenset(
    {
        "true",
        "yes",
        "require",
        "required",
        "want",
        "optional",
        "optionalnoca",
        "optional_no_ca",
        "false",
        "no",
        "none",
    }
)
_VERIFICATION_ATTRIBUTES = (
    "SSLEnabled",
    "certificateVerification",
    "clientAuth",
    "SSLVerifyClient",
)


# -- V-224766 ---------------------------------------------------------------


@register("log_destination", needs=("windows",))
def log_destination(facts: Facts, inputs: Inputs) -> Verdict:
    destination = inputs.get("log_destination")
    if not destination:
        return input_not_set(
            "log_destination",
            facts.host,
            "the off-box location (for example a UNC share on the log server) "
            "where Sphere's logs must be written",
        )
    properties, source = load_config_properties(facts, inputs)
    wanted = str(destination)
    entry = properties.entry(LOG_PATH_KEY)
    item = f"{LOG_PATH_KEY} in config.properties"
    expected = f"a path at or below {wanted} (input log_destination)"
    if entry is None:
        observed = f"no {LOG_PATH_KEY} line{_hidden_key_note(properties, LOG_PATH_KEY)}"
        path_line = Evidence(item, observed, expected, source, ok=False)
    else:
        ok = _below(entry.value, wanted)
        where = "on the declared destination" if ok else "not on the declared one"
        observed = f"{_written(entry)} (Java reads {entry.value}): {where}"
        path_line = Evidence(item, observed, expected, source, ok=ok)
    return conclude(
        f"Sphere writes its logs to the declared destination {wanted}",
        "Sphere's logPath does not lead to the declared log destination",
        [
            path_line,
            Evidence(
                item="logs arriving on the log server",
                observed=(
                    "not provable from the Sphere host: whether the files reach the "
                    "central log repository, and are backed up at least weekly, is "
                    "for the reviewer to confirm there"
                ),
                expected="recent Sphere log files in the central log repository",
                source=f"{facts.host}: central log repository (not examined)",
            ),
        ],
    )


def _below(value: str, destination: str) -> bool:
    """True when ``value`` is ``destination`` or a path inside it."""
    path = _normalised(value)
    root = _normalised(destination)
    if not root:
        return False
    return path == root or path.startswith(root + "\\")


def _normalised(path: str) -> str:
    # Windows ignores case and slash direction, and a trailing separator names
    # the same folder.
    return ntpath.normcase(path.strip()).rstrip("\\")


# -- V-224769 ---------------------------------------------------------------


@register("cac_login", needs=("windows",))
def cac_login(facts: Facts, inputs: Inputs) -> Verdict:
    properties, properties_source = load_config_properties(facts, inputs)
    config, source = load_server_config(facts, inputs)
    port = inputs.https_port

    evidence = [
        _raw_line(properties, UID_REGEX_KEY, UID_REGEX, properties_source),
        _raw_line(properties, UID_PROPERTY_KEY, UID_PROPERTY, properties_source),
    ]
    connector = https_connector_of(config, source, port, _VERIFICATION_ATTRIBUTES)
    if connector is None:
        evidence.append(missing_connector(config, source, port))
    else:
        evidence.extend(_client_certificates(connector, source, port))
    evidence.extend(
        [
            Evidence(
                item="the STIG's sample connector",
                observed=(
                    "the sample 443 connector printed in V-224792 sets SSLHostConfig "
                    'certificateVerification="false", which switches client '
                    "certificates off; a server built from it fails this rule"
                ),
                expected=(
                    'certificateVerification="required" (or clientAuth="required")'
                ),
                source="STIG text, V-224769 and V-224792",
            ),
            Evidence(
                item="console option for certificate logons (manual)",
                observed=(
                    "not stored in any file the suite reads; a reviewer must see "
                    "in the console (LDAP settings) that certificate logons are "
                    "enabled and limited to the smart-card logon key usage"
                ),
                expected="enabled, checked by the reviewer",
                source=f"{facts.host}: Sphere console",
            ),
        ]
    )
    return conclude(
        "config.properties carries both CAC lines and the HTTPS connector requires "
        "a client certificate",
        "CAC/PIV logon is not fully configured",
        evidence,
    )


def _raw_line(properties: Properties, key: str, wanted: str, source: str) -> Evidence:
    entry = properties.entry(key)
    item = f"{key} in config.properties"
    expected = f"the line {key}={wanted}"
    if entry is None:
        observed = f"no {key} line{_hidden_key_note(properties, key)}"
        return Evidence(item, observed, expected, source, ok=False)
    ok = entry.raw_value == wanted
    observed = _written(entry)
    if not ok and entry.value == wanted.replace("\\\\", ""):
        observed += (
            "; with one backslash Java reads the dot as 'any character', not as a "
            "literal dot"
        )
    earlier = [e for e in properties.entries if e.key == key and e is not entry]
    if earlier:
        lines = and_list([str(e.line_number) for e in earlier])
        plural = "s on lines" if len(earlier) > 1 else " on line"
        observed += (
            f" (line {entry.line_number}; Java ignores the earlier definition"
            f"{plural} {lines})"
        )
    return Evidence(item, observed, expected, source, ok=ok)


def _written(entry: PropertyEntry) -> str:
    return f"{entry.key}={entry.raw_value} as written"


def _hidden_key_note(properties: Properties, key: str) -> str:
    for entry in properties.entries:
        for bom in _BOM_PREFIXES:
            if entry.key == bom + key:
                return (
                    f" that Java can see: line {entry.line_number} defines it, but "
                    "the file starts with a UTF-8 byte-order mark, which Java's "
                    "Properties.load makes part of the first key"
                )
    return ""


def _client_certificates(
    connector: Connector, source: str, port: int
) -> list[Evidence]:
    if not connector.ssl_enabled:
        return [
            Evidence(
                item=f"client certificates on port {port}",
                observed=f"{connector.describe()} is not SSL-enabled, so no client "
                "certificate can be asked for",
                expected="an SSL-enabled connector that requires client certificates",
                source=source,
                ok=False,
            )
        ]
    if not connector.ssl_host_configs:
        return [
            Evidence(
                item=f"client certificates on port {port}",
                observed="no SSLHostConfig and no SSL attributes on the connector",
                expected='certificateVerification="required"',
                source=source,
                ok=False,
            )
        ]
    return [_verification(c, source, port) for c in connector.ssl_host_configs]


def _verification(config: SSLHostConfig, source: str, port: int) -> Evidence:
    meaning = {
        "required": "Tomcat requires a client certificate",
        "optional": "Tomcat asks for a client certificate but lets clients in "
        "without one",
        "optionalNoCA": "Tomcat asks for a client certificate and does not validate it",
        "none": "Tomcat does not ask for a client certificate",
    }[config.certificate_verification]
    origin = config.certificate_verification_origin
    written = config.certificate_verification_raw
    if written is not None and written.lower() not in _KNOWN_VERIFICATION:
        meaning += (
            f' ("{written}" is not a value Tomcat knows; it falls back to required)'
        )
    return Evidence(
        item=f'client certificates, SSLHostConfig "{config.host_name}" on port {port}',
        observed=f"{origin}: {meaning}",
        expected=(
            'certificateVerification="required" on SSLHostConfig, or the Tomcat 9 '
            'Connector attribute clientAuth="required" (or "true")'
        ),
        source=source,
        ok=config.certificate_verification == "required",
    )
