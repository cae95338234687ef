"""What every lab double does in its own process around its server.

A double (``python -m lab.tds_double``, ``python -m lab.winrm_double``)
logs to the file ``lab/double.py`` gave it, reads its password from a
mode-600 file (never from its command line, which ``ps`` shows), and
serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path


def log_to(path: Path | None) -> None:
    logging.basicConfig(
        filename=path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def read_password(path: Path) -> str | None:
    """The password in ``path`` without its line end, or None (said on stderr)."""
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        print(f"cannot read --password-file {path}: {exc.strerror}", file=sys.stderr)
        return None


def refuse_start(logger: str, what: str, exc: Exception) -> int:
    """Say why the double cannot start, in its log and on stderr; exit status 1."""
    logging.getLogger(logger).error("cannot start: %s", exc)
    print(f"{what}: cannot start: {exc}", file=sys.stderr)
    return 1


def until_signalled() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
