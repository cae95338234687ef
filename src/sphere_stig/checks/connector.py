"""V-224760 and V-224775: limits and keystore of the HTTPS connector.

Both rules name only the console's Apache Tomcat Settings page. The page is
taken to write the HTTPS connector in server.xml, because the STIG's own
sample connector carries the same attributes; that mapping is an inference
and the evidence says so.

Connection limits: ``maxConnections`` and ``maxThreads`` must equal the
figures the organisation documented (inputs ``max_connections`` and
``max_threads``). An absent attribute is Tomcat's built-in default, which is
reported as a default and then judged like any other value. A connector that
names a shared ``executor`` takes its threads from that Executor element,
which this check does not read, so it refuses to guess.

Keystore: Tomcat hands ``certificateKeystoreType`` (or the Tomcat 9
``keystoreType`` on the Connector) to ``KeyStore.getInstance``, and Java
looks key store types up without regard to case, so ``windows-my`` selects
the same store as ``Windows-MY``. When the attribute is absent Tomcat uses the
``javax.net.ssl.keyStoreType`` system property, or JKS.
"""

from __future__ import annotations

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import (
    conclude,
    https_connector_of,
    input_not_set,
    load_server_config,
    missing_connector,
    system_properties,
)
from sphere_stig.outcome import CheckError, Evidence, Verdict
from sphere_stig.parsers.tomcat import (
    Certificate,
    Connector,
    IntSetting,
    SSLHostConfig,
    attribute_value,
)

WINDOWS_MY = "Windows-MY"
# SSLHostConfigCertificate.DEFAULT_KEYSTORE_TYPE without the system property.
DEFAULT_KEYSTORE_TYPE = "JKS"
KEYSTORE_TYPE_PROPERTY = "javax.net.ssl.keyStoreType"

_INFERRED = Evidence(
    item="console setting behind the rule",
    observed=(
        "the STIG names only the console's Apache Tomcat Settings page; this check "
        "reads the HTTPS connector in server.xml, which that page is inferred to "
        "write (not yet confirmed on a reference install)"
    ),
    expected="recorded for the reviewer",
    source="rule catalog note",
)
_LIMITS = (
    ("max_connections", "maxConnections", "simultaneous connections"),
    ("max_threads", "maxThreads", "worker threads"),
)
_KEYSTORE_ATTRIBUTES = (
    "SSLEnabled",
    "keystoreType",
    "certificateKeystoreType",
    "keystoreFile",
    "certificateKeystoreFile",
)


@register("connection_limits", needs=("windows",))
def connection_limits(facts: Facts, inputs: Inputs) -> Verdict:
    documented: dict[str, int] = {}
    for name, attribute, _ in _LIMITS:
        value = inputs.get(name)
        if value in (None, ""):
            return input_not_set(
                name,
                facts.host,
                f"the documented {attribute} of the Sphere HTTPS connector",
            )
        documented[name] = _whole_number(name, value, facts.host)

    config, source = load_server_config(facts, inputs)
    port = inputs.https_port
    attributes = ("maxConnections", "maxThreads", "executor")
    connector = https_connector_of(config, source, port, attributes)
    if connector is None:
        evidence = [missing_connector(config, source, port)]
    else:
        _refuse_executor(connector, source)
        settings = {
            "max_connections": connector.max_connections,
            "max_threads": connector.max_threads,
        }
        evidence = [
            _limit(settings[name], documented[name], name, meaning, source, port)
            for name, _, meaning in _LIMITS
        ]
        evidence.append(_INFERRED)
    return conclude(
        f"The connector on port {port} has the documented maxConnections "
        f"{documented['max_connections']} and maxThreads {documented['max_threads']}",
        f"The connector on port {port} does not have the documented limits",
        evidence,
    )


def _whole_number(name: str, value: object, host: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    raise CheckError(
        f"inventory, host {host}: the input {name} is {value!r}, not a whole "
        "number; write the documented limit as a number under site.inputs"
    )


def _refuse_executor(connector: Connector, source: str) -> None:
    if connector.executor:
        raise CheckError(
            f'{source}: {connector.describe()} uses the shared Executor "'
            f"{connector.executor}\", whose maxThreads replaces the connector's "
            "and which this check does not read; compare the Executor's maxThreads "
            "and the connector's maxConnections with the documented values by hand"
        )


def _limit(
    setting: IntSetting, wanted: int, name: str, meaning: str, source: str, port: int
) -> Evidence:
    # maxConnections="-1" switches connection counting off.
    amount = f"no limit on {meaning}" if setting.value == -1 else None
    return Evidence(
        item=f"{setting.name} of the connector on port {port}",
        observed=f"{setting.describe()}: {amount or f'{setting.value} {meaning}'}",
        expected=f'{setting.name}="{wanted}" (the documented value, input {name})',
        source=source,
        ok=setting.value == wanted,
    )


@register("keystore_windows_my", needs=("windows",))
def keystore_windows_my(facts: Facts, inputs: Inputs) -> Verdict:
    config, source = load_server_config(facts, inputs)
    port = inputs.https_port
    connector = https_connector_of(config, source, port, _KEYSTORE_ATTRIBUTES)
    if connector is None:
        evidence = [missing_connector(config, source, port)]
    elif not connector.ssl_enabled:
        evidence = [_not_tls(connector, source, port)]
    else:
        default = system_properties(facts, inputs).get(
            KEYSTORE_TYPE_PROPERTY, DEFAULT_KEYSTORE_TYPE
        )
        evidence = []
        for host_config in connector.ssl_host_configs:
            evidence.extend(_host_keystores(host_config, default, source, port))
        if not evidence:
            evidence.append(
                Evidence(
                    item=f"keystore of the connector on port {port}",
                    observed="no SSLHostConfig, so no certificate is configured",
                    expected=f'certificateKeystoreType="{WINDOWS_MY}"',
                    source=source,
                    ok=False,
                )
            )
        evidence.append(_INFERRED)
    return conclude(
        f"The connector on port {port} takes its key and certificate from the "
        "Windows store (Windows-MY)",
        f"The connector on port {port} does not use the Windows-MY store",
        evidence,
    )


def _not_tls(connector: Connector, source: str, port: int) -> Evidence:
    raw = attribute_value(connector.attributes, "SSLEnabled")
    written = f'SSLEnabled="{raw}"' if raw is not None else "SSLEnabled absent"
    return Evidence(
        item=f"keystore of the connector on port {port}",
        observed=f"{connector.describe()} has {written}, so it uses no keystore",
        expected=(
            f'an SSL-enabled connector with certificateKeystoreType="{WINDOWS_MY}"'
        ),
        source=source,
        ok=False,
    )


def _host_keystores(
    config: SSLHostConfig, default: str, source: str, port: int
) -> list[Evidence]:
    label = f'SSLHostConfig "{config.host_name}" on port {port}'
    if config.certificates:
        evidence = []
        for certificate in config.certificates:
            kind = f" ({certificate.type})" if certificate.type != "UNDEFINED" else ""
            evidence.append(
                _keystore_type(certificate, default, f"{label}{kind}", source)
            )
            note = _keystore_file_note(certificate, f"{label}{kind}", source)
            if note is not None:
                evidence.append(note)
        return evidence
    # Tomcat 9 still accepts the certificate attributes on SSLHostConfig itself.
    raw = attribute_value(config.attributes, "certificateKeystoreType")
    return [
        _judge_type(
            raw,
            f'SSLHostConfig certificateKeystoreType="{raw}"',
            default,
            f"keystore type of {label}",
            source,
        )
    ]


def _keystore_type(
    certificate: Certificate, default: str, label: str, source: str
) -> Evidence:
    item = f"keystore type of {label}"
    raw = certificate.keystore_type
    if certificate.certificate_file and raw is None:
        return Evidence(
            item=item,
            observed=(
                f"PEM files ({certificate.certificate_file}) instead of a key store"
            ),
            expected=f'certificateKeystoreType="{WINDOWS_MY}"',
            source=source,
            ok=False,
        )
    if certificate.implicit:
        written = f'Connector keystoreType="{raw}" (deprecated Tomcat 9 attribute)'
    else:
        written = f'Certificate certificateKeystoreType="{raw}"'
    return _judge_type(raw, written, default, item, source, certificate.keystore_file)


def _judge_type(
    raw: str | None,
    written: str,
    default: str,
    item: str,
    source: str,
    keystore_file: str | None = None,
) -> Evidence:
    if raw is None:
        origin = (
            f"the -D{KEYSTORE_TYPE_PROPERTY} system property"
            if default != DEFAULT_KEYSTORE_TYPE
            else "Tomcat's default"
        )
        observed = f"keystore type absent, so Tomcat uses {default} ({origin})"
        effective = default
    else:
        observed = written
        effective = raw
    ok = effective.casefold() == WINDOWS_MY.casefold()
    if ok and effective != WINDOWS_MY:
        observed += (
            "; Java looks key store types up without regard to case, so this is "
            "the Windows store"
        )
    elif ok:
        observed += ": the service account's Windows certificate store"
    elif keystore_file:
        observed += f": a key store file ({keystore_file})"
    return Evidence(
        item=item,
        observed=observed,
        expected=f'certificateKeystoreType="{WINDOWS_MY}"',
        source=source,
        ok=ok,
    )


def _keystore_file_note(
    certificate: Certificate, label: str, source: str
) -> Evidence | None:
    """Tomcat opens certificateKeystoreFile even for Windows-MY unless it is ''."""
    kind = certificate.keystore_type or ""
    path = certificate.keystore_file
    if kind.casefold() != WINDOWS_MY.casefold():
        return None
    if path is not None and (path == "" or path.upper() == "NONE"):
        return None
    named = (
        f"certificateKeystoreFile is {path}"
        if path is not None
        else "certificateKeystoreFile is absent (default: .keystore in the service "
        "account's home folder)"
    )
    return Evidence(
        item=f"keystore file of {label}",
        observed=(
            f"{named}; Tomcat opens that file even for a Windows-MY store and the "
            "connector fails to start when it is missing"
        ),
        expected='certificateKeystoreFile="" with Windows-MY, as in the STIG sample',
        source=source,
    )
