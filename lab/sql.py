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
import sys
from pathlib import Path

from lab.double import Double, ensure_running, stop
from lab.hosts import RUN_DIR, LabHost

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


def double(run_dir: Path) -> Double:
    """sql1's double and its files under ``run_dir``."""
    return Double(
        kind="tds",
        module="lab.tds_double",
        host=SQL1,
        run_dir=run_dir,
        secret="sql-password",
        ready_ports=(TDS_PORT,),
        start_seconds=START_SECONDS,
        arguments=(
            "--address",
            SQL1.address,
            "--port",
            str(TDS_PORT),
            "--mode",
            MODE,
            "--user",
            SQL_USER,
            "--instance",
            INSTANCE,
            "--server-name",
            SQL1.name.upper(),
            "--database",
            DATABASE,
            "--browser-port",
            str(BROWSER_PORT),
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.sql", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)
    # Absolute, so that the pid check matches whatever directory runs it.
    tds = double(args.run_dir.resolve())
    if args.command == "down":
        stop(tds, say)
        return 0
    describe = (
        f"on {SQL1.address}:{TDS_PORT} (TDS test double, Force Encryption, "
        f"instance {INSTANCE}), Browser on udp {BROWSER_PORT}"
    )
    return 0 if ensure_running(tds, say, describe) else 1


if __name__ == "__main__":
    sys.exit(main())
