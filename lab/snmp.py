"""An SNMPv3-only agent for the lab: net-snmp's snmpd as host snmp1.

``python -m lab.snmp up --run-dir lab/.run`` runs snmpd on 127.0.0.4:161
(UDP) with one user, ``stigscan``: SHA-512 authentication, AES-256 privacy,
read-only, authPriv required. There is no community at all, so SNMPv1 and
v2c requests go unanswered, as on a hardened device. Both keys are random
and sit in ``<run-dir>/secrets/snmp-stigscan-auth-key`` and
``...-priv-key`` (mode 600), where the lab inventory points.

``up`` is safe to repeat (a running agent is left alone) and ``down`` stops
the agent by its recorded pid. State lives in ``<run-dir>/snmp/snmp1/``;
the agent's persistent directory is emptied at every start, so a changed
key can never meet a stale user entry from the last run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import localsvc
from lab.hosts import DOMAIN, RUN_DIR

PACKAGES = ("snmpd", "snmp")
NAME = "snmp1"
ADDRESS = "127.0.0.4"
PORT = 161
USER = "stigscan"
SYS_DESCR = f"ISEC7 lab SNMP device {NAME} (net-snmp, SNMPv3 only)"
SYS_DESCR_OID = "1.3.6.1.2.1.1.1.0"
START_SECONDS = 10.0


def say(message: str) -> None:
    print(f"lab.snmp: {message}", flush=True)


@dataclass(frozen=True)
class Layout:
    run_dir: Path

    @property
    def base(self) -> Path:
        return self.run_dir / "snmp" / NAME

    @property
    def config(self) -> Path:
        return self.base / "snmpd.conf"

    @property
    def persistent(self) -> Path:
        return self.base / "persist"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"snmpd-{NAME}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "logs" / f"snmpd-{NAME}.log"

    @property
    def auth_key(self) -> Path:
        return self.run_dir / "secrets" / f"snmp-{USER}-auth-key"

    @property
    def priv_key(self) -> Path:
        return self.run_dir / "secrets" / f"snmp-{USER}-priv-key"

    @property
    def marker(self) -> str:
        # The config path is on snmpd's command line and names lab/.run/.
        return str(self.config)


def render_config(auth_key: str, priv_key: str) -> str:
    """snmpd.conf: one authPriv user, read-only, and no community line."""
    return "\n".join(
        [
            "# Written by lab/snmp.py at every start; holds keys (mode 600).",
            f"agentAddress udp:{ADDRESS}:{PORT}",
            f'createUser {USER} SHA-512 "{auth_key}" AES-256 "{priv_key}"',
            f"rouser -s usm {USER} priv",
            f"sysDescr {SYS_DESCR}",
            f"sysName {NAME}.{DOMAIN}",
            "sysLocation ISEC7 Sphere STIG lab (loopback)",
            "sysContact lab-admin@lab.example",
            # Without this the agent answers with its own default services.
            "sysServices 72",
            # One log line per request would bury the start-up messages.
            "dontLogTCPWrappersConnects yes",
            "",
        ]
    )


def command(layout: Layout) -> list[str]:
    # -C: only our config file; -f: stay in the foreground (we record the
    # pid); -Lo: log to stdout (the log file); -m "": Debian ships no MIB
    # files, so loading none keeps the log free of "Cannot find module";
    # -I -smux: without it snmpd also listens for SMUX peers on TCP 199 of
    # every address, outside the lab's 127.0.0.4.
    return [
        shutil.which("snmpd") or "/usr/sbin/snmpd",
        "-f",
        "-Lo",
        "-C",
        "-c",
        str(layout.config),
        "-m",
        "",
        "-I",
        "-smux",
    ]


def bound(address: str = ADDRESS, port: int = PORT) -> bool:
    """True when some process holds the agent's UDP socket."""
    return localsvc.bound(address, port, "udp")


def v3_get(layout: Layout, timeout: float = 1.0) -> str:
    """sysDescr over SNMPv3 authPriv as ``stigscan``; raises when it fails."""
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    auth_key = layout.auth_key.read_text(encoding="ascii").strip()
    priv_key = layout.priv_key.read_text(encoding="ascii").strip()

    async def ask() -> str:
        engine = hlapi.SnmpEngine()
        try:
            indication, status, _index, var_binds = await hlapi.get_cmd(
                engine,
                hlapi.UsmUserData(
                    USER,
                    auth_key,
                    priv_key,
                    authProtocol=hlapi.auth.USM_AUTH_HMAC384_SHA512,
                    privProtocol=hlapi.auth.USM_PRIV_CFB256_AES_BLUMENTHAL,
                ),
                await hlapi.UdpTransportTarget.create(
                    (ADDRESS, PORT), timeout=timeout, retries=0
                ),
                hlapi.ContextData(),
                hlapi.ObjectType(hlapi.ObjectIdentity(SYS_DESCR_OID)),
                lookupMib=False,
            )
        finally:
            engine.close_dispatcher()
        if indication is not None or int(status):
            raise RuntimeError(
                f"SNMPv3 GET failed: {indication or status.prettyPrint()}"
            )
        return str(var_binds[0][1])

    return asyncio.run(ask())


def running(layout: Layout) -> int | None:
    return localsvc.recorded_pid(layout.pid_file, "snmpd", layout.marker)


def up(layout: Layout) -> int:
    installed = localsvc.install_missing(PACKAGES)
    if installed:
        say(f"installed {' '.join(installed)}")
    pid = running(layout)
    if pid is not None:
        say(f"{NAME}: already running (pid {pid}) on udp {ADDRESS}:{PORT}")
        return 0
    if bound():
        say(f"{NAME}: udp {ADDRESS}:{PORT} is taken by a process lab/up did not start")
        return 1

    started = time.monotonic()
    auth_key = localsvc.ensure_secret(layout.auth_key)
    priv_key = localsvc.ensure_secret(layout.priv_key)
    layout.base.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(layout.persistent, ignore_errors=True)
    layout.persistent.mkdir(mode=0o700)
    localsvc.write_private(layout.config, render_config(auth_key, priv_key).encode())
    layout.pid_file.parent.mkdir(parents=True, exist_ok=True)

    env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(layout.persistent)}
    process = localsvc.start_detached(command(layout), layout.log, env)
    layout.pid_file.write_text(f"{process.pid}\n")
    if not localsvc.wait_until(
        lambda: bound() or process.poll() is not None, START_SECONDS
    ):
        say(f"{NAME}: snmpd did not bind udp {ADDRESS}:{PORT}; see {layout.log}")
        return 1
    if process.poll() is not None:
        say(f"{NAME}: snmpd exited with {process.returncode}; see {layout.log}")
        layout.pid_file.unlink(missing_ok=True)
        return 1
    try:
        descr = v3_get(layout)
    except Exception as exc:
        say(f"{NAME}: snmpd runs (pid {process.pid}) but {exc}; see {layout.log}")
        return 1
    took = time.monotonic() - started
    say(
        f"{NAME}: ready (pid {process.pid}) on udp {ADDRESS}:{PORT} in {took:.1f} s, "
        f"SNMPv3 {USER} SHA-512/AES-256 only; sysDescr {descr!r}"
    )
    return 0


def down(layout: Layout) -> int:
    pid = running(layout)
    if pid is None:
        say(f"{NAME}: not running")
    else:
        say(f"{NAME}: snmpd {localsvc.stop_pid(pid)} (pid {pid})")
    layout.pid_file.unlink(missing_ok=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.snmp", description="The lab's SNMPv3-only agent (snmp1)."
    )
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)
    # snmpd changes to / once it runs, so every path it gets is absolute.
    layout = Layout(args.run_dir.resolve())
    return up(layout) if args.action == "up" else down(layout)


if __name__ == "__main__":
    sys.exit(main())
