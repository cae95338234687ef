"""Monitored Windows servers of the lab, each a WS-Management test double.

    python -m lab.win_hosts up --run-dir lab/.run
    python -m lab.win_hosts down --run-dir lab/.run

A remote Sphere agent reads these hosts over WMI; the suite checks them for
the agent's permissions (AGENT-01..03) and for the ports the agent reaches
them on. Each host is one ``lab.winrm_double`` process answering the suite's
collector scripts from ``lab/images/<host>/windows.json`` on 5985/5986 of
the host's address, with accept-only listeners on 135 (DCOM/WMI) and 445
(SMB). Its WinRM certificate comes from the lab intermediate
(``lab.pki.ensure_leaf``); its user and password are those of the Sphere
hosts' doubles (``lab-auditor``, ``secrets/winrm-password``).

``up`` is safe to run again: a double that runs is left alone, unless its
certificate had to be issued anew, which needs a restart. ``down`` stops each
double by its recorded pid, and only when that process's command line still
names this run folder.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.double import Double, ensure_running, stop
from lab.hosts import IMAGES_DIR, RUN_DIR, LabHost

WINRM_USER = "lab-auditor"
HTTPS_PORT = 5986
HTTP_PORT = 5985
START_SECONDS = 15.0


@dataclass(frozen=True)
class WinHost:
    lab: LabHost
    # Ports a remote agent uses on the host; the double only accepts on them.
    tcp_ports: tuple[int, ...] = (135, 445)

    @property
    def name(self) -> str:
        return self.lab.name


WIN_HOSTS: tuple[WinHost, ...] = (WinHost(LabHost("win01", "127.0.0.13")),)


def say(message: str) -> None:
    print(f"win_hosts: {message}", flush=True)


def double(host: WinHost, run_dir: Path) -> Double:
    """One host's double and its files under ``run_dir``."""
    return Double(
        kind="winrm",
        module="lab.winrm_double",
        host=host.lab,
        run_dir=run_dir,
        secret="winrm-password",
        ready_ports=(HTTPS_PORT, HTTP_PORT, *host.tcp_ports),
        start_seconds=START_SECONDS,
        arguments=(
            "--host",
            host.name,
            "--image",
            str(IMAGES_DIR / host.name),
            "--address",
            host.lab.address,
            "--https-port",
            str(HTTPS_PORT),
            "--http-port",
            str(HTTP_PORT),
            "--user",
            WINRM_USER,
            "--pki-dir",
            str(run_dir / "pki"),
            "--tcp-listen",
            ",".join(str(p) for p in host.tcp_ports),
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.win_hosts",
        description="Start or stop the lab's monitored Windows hosts (WinRM doubles).",
    )
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)
    # Absolute, so that the pid check matches whatever directory runs it.
    run_dir = args.run_dir.resolve()
    status = 0
    for host in WIN_HOSTS:
        winrm = double(host, run_dir)
        if args.action == "down":
            stop(winrm, say)
            continue
        tcp = ", ".join(str(p) for p in host.tcp_ports)
        describe = (
            f"on {host.lab.address}:{HTTP_PORT}/{HTTPS_PORT}, TCP {tcp} accept-only"
        )
        if not ensure_running(winrm, say, describe):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
