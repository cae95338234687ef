"""V-224789: Tomcat's shutdown listener is off.

The STIG's check text asks for ``shutdown="-1"`` on the ``<Server>`` element.
In Tomcat that attribute is only the command word the listener waits for;
the listener itself is opened on ``port`` (default 8005, bound to
``address``, default localhost) and only ``port="-1"`` keeps it closed
(``StandardServer.await``). So the literal check is recorded for the auditor,
and the verdict follows the rule's intent: pass when ``port`` is -1, or when
nothing listens on the configured port.

The host facts script looks for listeners on one port only, the host input
``shutdown_port_probe`` (8005 unless the inventory says otherwise). When
server.xml names another port, the listener facts do not cover it and the
check says which input to change rather than guess.
"""

from __future__ import annotations

from sphere_stig.checks.base import Facts, Inputs, register
from sphere_stig.checks.common import (
    conclude,
    load_server_config,
    refuse_unresolved,
    require_windows,
)
from sphere_stig.facts import Listener
from sphere_stig.outcome import CheckError, Evidence, Verdict
from sphere_stig.parsers.tomcat import (
    DEFAULT_SERVER_PORT,
    DEFAULT_SHUTDOWN,
    ServerConfig,
)

PROBE_INPUT = "shutdown_port_probe"

_STIG_NOTE = (
    "the STIG text names the shutdown attribute, but Tomcat reads it only as the "
    'command word; the listener is disabled with port="-1"'
)


@register("shutdown_port", needs=("windows",))
def shutdown_port(facts: Facts, inputs: Inputs) -> Verdict:
    config, source = load_server_config(facts, inputs)
    windows = require_windows(facts)
    refuse_unresolved(
        (p for p in config.placeholders if p.element == "Server"),
        ("port", "portOffset", "shutdown"),
        source,
    )
    evidence = [_literal_check(config, source), _port_setting(config, source)]
    port = config.shutdown_port
    if port is not None:
        if port == 0:
            evidence.append(
                Evidence(
                    item="listener on a random shutdown port",
                    observed=(
                        'port="0" makes Tomcat open the listener on a random free '
                        "port, which cannot be told apart from other listeners"
                    ),
                    expected='port="-1"',
                    source=source,
                    ok=False,
                )
            )
        else:
            _require_probe_of(port, windows.warnings, inputs, facts.host, source)
            evidence.append(_listener(windows.listeners, port, facts.host))
    return conclude(
        "Tomcat's shutdown listener is not reachable",
        "Tomcat's shutdown listener is open",
        evidence,
    )


def _literal_check(config: ServerConfig, source: str) -> Evidence:
    raw = config.shutdown_raw
    if raw == "-1":
        observed = 'shutdown="-1" (the literal STIG check passes)'
    elif raw is None:
        observed = (
            f'shutdown absent, so Tomcat uses the command word "{DEFAULT_SHUTDOWN}" '
            "(the literal STIG check fails)"
        )
    else:
        # A custom command word works like a password for the listener.
        observed = (
            "shutdown holds a custom command word, not shown "
            "(the literal STIG check fails)"
        )
    return Evidence(
        item="Server shutdown attribute (literal STIG check)",
        observed=f"{observed}; {_STIG_NOTE}",
        expected='shutdown="-1" as the STIG check text asks',
        source=source,
        ok=None,
    )


def _port_setting(config: ServerConfig, source: str) -> Evidence:
    setting = config.port
    port = config.shutdown_port
    if port is None:
        observed = f"{setting.describe()}: Tomcat opens no shutdown listener"
    else:
        offset = config.port_offset.value
        shifted = f" plus portOffset {offset}" if offset and setting.value > 0 else ""
        where = (
            f"{config.address}:{port}" if port else f"a random port of {config.address}"
        )
        observed = f"{setting.describe()}{shifted}: Tomcat opens a shutdown listener"
        observed += f" on {where}"
    return Evidence(
        item="Server port (shutdown listener)",
        observed=observed,
        expected='port="-1"',
        source=source,
        ok=True if port is None else None,
    )


def _require_probe_of(
    port: int, warnings: tuple[str, ...], inputs: Inputs, host: str, source: str
) -> None:
    """Raise unless the collector's listener query covered ``port`` and worked."""
    probed = int(inputs.get(PROBE_INPUT) or DEFAULT_SERVER_PORT)
    if probed != port:
        raise CheckError(
            f"{source}: Tomcat opens its shutdown listener on port {port}, but the "
            f"host facts looked for listeners on port {probed} only; set the host "
            f"input {PROBE_INPUT} to {port} in the inventory and run again"
        )
    failed = [w for w in warnings if w.startswith("listeners:")]
    if failed:
        raise CheckError(
            f"{host}: the query for listeners on port {port} failed "
            f"({'; '.join(failed)}); make sure the audit account may run "
            "Get-NetTCPConnection on the host and run again"
        )


def _listener(listeners: tuple[Listener, ...], port: int, host: str) -> Evidence:
    open_on_port = [entry for entry in listeners if entry.port == port]
    if open_on_port:
        sockets = ", ".join(
            f"{e.address}:{e.port}" + (f" ({e.process})" if e.process else "")
            for e in open_on_port
        )
        observed = f"something listens on the shutdown port: {sockets}"
    else:
        observed = (
            f"nothing listens on TCP {port}, so Tomcat is not running with this "
            "configuration or could not open the port"
        )
    return Evidence(
        item=f"listener on the shutdown port {port}",
        observed=observed,
        expected=f'no listener on TCP {port} (port="-1" in server.xml)',
        source=f"{host}: listening TCP sockets (Get-NetTCPConnection)",
        ok=not open_on_port,
    )
