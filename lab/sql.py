"""The lab's database server sql1: the TDS test double and its Browser.

    python -m lab.sql up --run-dir lab/.run
    python -m lab.sql down --run-dir lab/.run

No SQL Server can be installed here, so ``sql1`` (``sql1.lab.example``,
127.0.0.7) is one ``lab.tds_double`` process: TDS on 1433 with "Force
Encryption" on, and the SQL Server Browser stand-in on UDP 1434 answering
for the named instance ``SPHERE``. Its certificate comes from the lab
intermediate (``lab.pki.ensure_leaf``, DNS and IP names); the one SQL login
is ``lab``, with a random password in ``secrets/sql-password`` (mode 600).

``up`` is safe to run again: a double that runs is left alone unless its
certificate had to be issued anew. ``down`` stops it by its recorded pid,
and only when that process's command line still names this run folder.
"""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from lab import localsvc
from lab.hosts import LAB_DIR, RUN_DIR, LabHost
from lab.pki import ensure_leaf

SQL1 = LabHost("sql1", "127.0.0.7")
TDS_PORT = 1433
BROWSER_PORT = 1434
INSTANCE = "SPHERE"
SQL_USER = "lab"
# The database the Sphere Monitor would open; the double knows no others
# beyond the system databases.
DATABASE = "SphereDB"
MODE = "forced"
START_SECONDS = 10.0


def say(message: str) -> None:
    print(f"sql: {message}", flush=True)


@dataclass(frozen=True)
class Layout:
    """Where sql1's double keeps its files under the run folder."""

    run_dir: Path

    @property
    def pki_dir(self) -> Path:
        return self.run_dir / "pki"

    @property
    def cert(self) -> Path:
        return self.pki_dir / f"{SQL1.name}-tds.pem"

    @property
    def key(self) -> Path:
        return self.pki_dir / f"{SQL1.name}-tds.key"

    @property
    def password_file(self) -> Path:
        return self.run_dir / "secrets" / "sql-password"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"tds-{SQL1.name}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "logs" / f"tds-{SQL1.name}.log"

    @property
    def output(self) -> Path:
        return self.run_dir / "logs" / f"tds-{SQL1.name}.out"

    @property
    def markers(self) -> tuple[str, ...]:
        # The certificate path names this run folder: a reused pid or
        # another checkout's double never matches.
        return ("lab.tds_double", str(self.cert))

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "lab.tds_double",
            "--address",
            SQL1.address,
            "--port",
            str(TDS_PORT),
            "--cert",
            str(self.cert),
            "--key",
            str(self.key),
            "--mode",
            MODE,
            "--user",
            SQL_USER,
            "--password-file",
            str(self.password_file),
            "--instance",
            INSTANCE,
            "--server-name",
            SQL1.name.upper(),
            "--database",
            DATABASE,
            "--browser-port",
            str(BROWSER_PORT),
            "--log",
            str(self.log),
        ]


def _answers(timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((SQL1.address, TDS_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def start(layout: Layout) -> bool:
    localsvc.ensure_secret(layout.password_file)
    layout.pid_file.parent.mkdir(parents=True, exist_ok=True)
    process = localsvc.start_detached(
        layout.command(), layout.output, cwd=LAB_DIR.parent
    )
    layout.pid_file.write_text(f"{process.pid}\n")
    localsvc.wait_until(
        lambda: process.poll() is not None or _answers(), START_SECONDS, step=0.1
    )
    if process.poll() is not None or not _answers():
        say(f"tds {SQL1.name}: did not come up; see {layout.output}")
        localsvc.stop_pid(process.pid)
        layout.pid_file.unlink(missing_ok=True)
        return False
    say(
        f"tds {SQL1.name}: ready (pid {process.pid}) on {SQL1.address}:{TDS_PORT} "
        f"(TDS test double, Force Encryption, instance {INSTANCE}), "
        f"Browser on udp {BROWSER_PORT}"
    )
    return True


def stop(layout: Layout) -> None:
    pid = localsvc.recorded_pid(layout.pid_file, *layout.markers)
    if pid is None:
        layout.pid_file.unlink(missing_ok=True)
        say(f"tds {SQL1.name}: not running")
        return
    outcome = localsvc.stop_pid(pid)
    layout.pid_file.unlink(missing_ok=True)
    say(f"tds {SQL1.name}: {outcome} (pid {pid})")


def up(layout: Layout) -> int:
    if not (layout.pki_dir / "intermediate.pem").is_file():
        say(f"{layout.pki_dir} has no lab CA yet: run lab/up (it runs lab.pki)")
        return 1
    reissued = ensure_leaf(layout.pki_dir, SQL1, layout.cert.stem)
    if reissued is not None:
        say(f"issued {layout.cert.name} for {SQL1.fqdn} / {SQL1.address} ({reissued})")
    pid = localsvc.recorded_pid(layout.pid_file, *layout.markers)
    if pid is not None and reissued is None:
        say(f"tds {SQL1.name}: already running (pid {pid}) on {SQL1.address}")
        return 0
    if pid is not None:
        # The running double still serves the certificate it loaded.
        stop(layout)
    return 0 if start(layout) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.sql", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)
    layout = Layout(args.run_dir.resolve())
    if args.command == "up":
        return up(layout)
    stop(layout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
