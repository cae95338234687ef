"""Run one lab daemon under a parent that ``lab/down`` can recognise.

Some daemons rewrite their own process title (Samba's main process shows
``samba: root process``), so their command line no longer names
``lab/.run/`` and ``lab/down`` would take a recorded pid for a stranger's.
This parent keeps the ``--run-dir`` on its own command line, starts the
daemon as its child, passes SIGTERM and SIGINT on to it and exits with it.
It imports nothing beyond the standard library, so it costs a few MB.

    python -m lab.supervise --run-dir lab/.run -- /usr/sbin/samba -F ...
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence

# How long the child may take to stop after SIGTERM before it is killed.
STOP_GRACE = 15.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.supervise")
    # Only here so that the command line carries it (see the module doc).
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the daemon's command line after --")

    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        status = child.wait()
        # A daemon ended by a signal reports it the way a shell would.
        return 128 - status if status < 0 else status
    finally:
        # Reached on our own exceptions too: never leave the daemon behind.
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
