"""Helpers for the tests that run the suite against the running lab."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB_ADDRESSES = (
    ("127.0.0.2", 5986),
    ("127.0.0.2", 443),
    ("127.0.0.12", 5986),
    ("127.0.0.12", 443),
)


def require_lab() -> None:
    """The lab must run: these tests fail (not skip) when it does not."""
    for address, port in LAB_ADDRESSES:
        try:
            socket.create_connection((address, port), timeout=2).close()
        except OSError:
            pytest.fail(
                f"the lab is not running ({address}:{port} refused): start it with lab/up",
                pytrace=False,
            )


def run_suite(
    reports: Path, *args: str, timeout: float = 300
) -> tuple[subprocess.CompletedProcess, Path]:
    """``pytest --inventory ...`` from the repository root, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--reports-dir={reports}",
            *args,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    runs = sorted(p for p in reports.glob("*/*") if p.is_dir())
    assert runs, (
        f"no report folder written\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc, runs[-1]


def statuses(run_dir: Path) -> dict[tuple[str, str], dict]:
    data = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    return {(r["id"], r["host"]): r for r in data["results"]}
