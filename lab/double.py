"""One test-double process of the lab: its files, its start and its stop.

lab/sql.py (the TDS double of sql1) and lab/win_hosts.py (the WinRM doubles
of the monitored Windows hosts) both run a ``python -m lab.<module>``
process per host with a certificate from the lab intermediate, a password
file and a log under the run folder. What differs between them (the module
and its own arguments, the ports that answer once it is ready) is data of
:class:`Double`; the life cycle is written once here.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab import localsvc
from lab.hosts import LAB_DIR, LabHost
from lab.pki import ensure_leaf


@dataclass(frozen=True)
class Double:
    """Where one double keeps its files, and how it is started."""

    kind: str  # "tds", "winrm": the prefix of its file names
    module: str  # run as ``python -m <module>``
    host: LabHost
    run_dir: Path
    secret: str  # file name under secrets/
    ready_ports: tuple[int, ...]  # TCP ports that accept once it is up
    start_seconds: float
    arguments: tuple[str, ...] = ()  # its own options, besides the files below

    @property
    def label(self) -> str:
        return f"{self.kind} {self.host.name}"

    @property
    def pki_dir(self) -> Path:
        return self.run_dir / "pki"

    @property
    def cert(self) -> Path:
        return self.pki_dir / f"{self.host.name}-{self.kind}.pem"

    @property
    def key(self) -> Path:
        return self.pki_dir / f"{self.host.name}-{self.kind}.key"

    @property
    def password_file(self) -> Path:
        return self.run_dir / "secrets" / self.secret

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"{self.kind}-{self.host.name}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "logs" / f"{self.kind}-{self.host.name}.log"

    @property
    def output(self) -> Path:
        return self.run_dir / "logs" / f"{self.kind}-{self.host.name}.out"

    @property
    def markers(self) -> tuple[str, ...]:
        # The certificate path names this run folder: a reused pid or
        # another checkout's double never matches.
        return (self.module, str(self.cert))

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            self.module,
            *self.arguments,
            "--cert",
            str(self.cert),
            "--key",
            str(self.key),
            "--password-file",
            str(self.password_file),
            "--log",
            str(self.log),
        ]

    def running_pid(self) -> int | None:
        return localsvc.recorded_pid(self.pid_file, *self.markers)


def accepts(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def start(double: Double, say: Callable[[str], None], describe: str) -> bool:
    """Start the double and wait until every ready port accepts."""
    localsvc.ensure_secret(double.password_file)
    double.pid_file.parent.mkdir(parents=True, exist_ok=True)
    process = localsvc.start_detached(
        double.command(), double.output, cwd=LAB_DIR.parent
    )
    double.pid_file.write_text(f"{process.pid}\n")

    def ready() -> bool:
        return process.poll() is not None or all(
            accepts(double.host.address, port) for port in double.ready_ports
        )

    localsvc.wait_until(ready, double.start_seconds, step=0.1)
    if process.poll() is not None or not ready():
        say(f"{double.label}: did not come up; see {double.output}")
        localsvc.stop_pid(process.pid)
        double.pid_file.unlink(missing_ok=True)
        return False
    say(f"{double.label}: ready (pid {process.pid}) {describe}")
    return True


def stop(double: Double, say: Callable[[str], None]) -> None:
    pid = double.running_pid()
    double.pid_file.unlink(missing_ok=True)
    if pid is None:
        say(f"{double.label}: not running")
        return
    say(f"{double.label}: {localsvc.stop_pid(pid)} (pid {pid})")


def ensure_running(double: Double, say: Callable[[str], None], describe: str) -> bool:
    """Issue the certificate when needed and start the double unless it runs.

    A double that runs is left alone, unless its certificate had to be
    issued anew: it still serves the one it loaded, so it is restarted.
    """
    if not (double.pki_dir / "intermediate.pem").is_file():
        say(f"{double.pki_dir} has no lab CA yet: run lab/up (it runs lab.pki)")
        return False
    reissued = ensure_leaf(double.pki_dir, double.host, double.cert.stem)
    if reissued is not None:
        say(f"issued {double.cert.name} for {double.host.fqdn} ({reissued})")
    pid = double.running_pid()
    if pid is not None and reissued is None:
        say(f"{double.label}: already running (pid {pid}) on {double.host.address}")
        return True
    if pid is not None:
        stop(double, say)
    return start(double, say, describe)
