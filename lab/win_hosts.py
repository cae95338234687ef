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
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from lab import localsvc
from lab.hosts import IMAGES_DIR, LAB_DIR, RUN_DIR, LabHost
from lab.pki import ensure_leaf

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


@dataclass(frozen=True)
class Layout:
    """Where one host's double keeps its files under the run folder."""

    host: WinHost
    run_dir: Path

    @property
    def pki_dir(self) -> Path:
        return self.run_dir / "pki"

    @property
    def cert(self) -> Path:
        return self.pki_dir / f"{self.host.name}-winrm.pem"

    @property
    def key(self) -> Path:
        return self.pki_dir / f"{self.host.name}-winrm.key"

    @property
    def password_file(self) -> Path:
        return self.run_dir / "secrets" / "winrm-password"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"winrm-{self.host.name}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "logs" / f"winrm-{self.host.name}.log"

    @property
    def output(self) -> Path:
        return self.run_dir / "logs" / f"winrm-{self.host.name}.out"

    @property
    def markers(self) -> tuple[str, ...]:
        # The command line names the certificate inside this run folder, so
        # a reused pid or another checkout's double never matches.
        return ("lab.winrm_double", str(self.cert))

    def command(self) -> list[str]:
        host = self.host
        return [
            sys.executable,
            "-m",
            "lab.winrm_double",
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
            "--cert",
            str(self.cert),
            "--key",
            str(self.key),
            "--user",
            WINRM_USER,
            "--password-file",
            str(self.password_file),
            "--pki-dir",
            str(self.pki_dir),
            "--tcp-listen",
            ",".join(str(p) for p in host.tcp_ports),
            "--log",
            str(self.log),
        ]


def accepts(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def start(layout: Layout) -> bool:
    host = layout.host
    localsvc.ensure_secret(layout.password_file)
    layout.pid_file.parent.mkdir(parents=True, exist_ok=True)
    process = localsvc.start_detached(
        layout.command(), layout.output, cwd=LAB_DIR.parent
    )
    layout.pid_file.write_text(f"{process.pid}\n")
    ports = (HTTPS_PORT, HTTP_PORT, *host.tcp_ports)

    def ready() -> bool:
        return process.poll() is not None or all(
            accepts(host.lab.address, p) for p in ports
        )

    localsvc.wait_until(ready, START_SECONDS, step=0.2)
    if process.poll() is not None or not ready():
        say(f"winrm {host.name}: did not come up; see {layout.output}")
        localsvc.stop_pid(process.pid)
        layout.pid_file.unlink(missing_ok=True)
        return False
    tcp = ", ".join(str(p) for p in host.tcp_ports)
    say(
        f"winrm {host.name}: ready (pid {process.pid}) on {host.lab.address}:"
        f"{HTTP_PORT}/{HTTPS_PORT}, TCP {tcp} accept-only"
    )
    return True


def stop(layout: Layout) -> None:
    pid = localsvc.recorded_pid(layout.pid_file, *layout.markers)
    if pid is None:
        if layout.pid_file.exists():
            layout.pid_file.unlink()
        say(f"winrm {layout.host.name}: not running")
        return
    outcome = localsvc.stop_pid(pid)
    layout.pid_file.unlink(missing_ok=True)
    say(f"winrm {layout.host.name}: {outcome} (pid {pid})")


def up(run_dir: Path) -> int:
    status = 0
    for host in WIN_HOSTS:
        layout = Layout(host, run_dir)
        if not (layout.pki_dir / "intermediate.pem").is_file():
            say(f"{layout.pki_dir} has no lab CA yet: run lab/up (it runs lab.pki)")
            return 1
        reissued = ensure_leaf(layout.pki_dir, host.lab, layout.cert.stem)
        if reissued is not None:
            say(f"issued {layout.cert.name} ({reissued})")
        pid = localsvc.recorded_pid(layout.pid_file, *layout.markers)
        if pid is not None and reissued is None:
            say(f"winrm {host.name}: already running (pid {pid}) on {host.lab.address}")
            continue
        if pid is not None:
            # The running double still serves the certificate it loaded.
            stop(layout)
        if not start(layout):
            status = 1
    return status


def down(run_dir: Path) -> int:
    for host in WIN_HOSTS:
        stop(Layout(host, run_dir))
    return 0


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
    return up(run_dir) if args.action == "up" else down(run_dir)


if __name__ == "__main__":
    sys.exit(main())
