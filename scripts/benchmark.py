"""Measure the suite against the running lab: time, memory and WinRM round trips.

    .venv/bin/python scripts/benchmark.py [--runs 3] [--inventory lab]

For each configuration (one process, and pytest-xdist with two workers) it
runs ``pytest --inventory`` several times and reports the median wall time,
the peak resident memory of the pytest processes, and, from the WinRM test
doubles' request logs, how many WS-Management requests and commands each
Windows host received per run. The figures go to standard output as a
Markdown table; docs/benchmark.md records the ones measured on the project
machine. Nothing here is a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "lab" / ".run" / "logs"
REQUEST = re.compile(r" POST (\w+) ")


def winrm_log_sizes() -> dict[str, int]:
    return {p.name: p.stat().st_size for p in LOGS.glob("winrm-*.log")}


def winrm_requests_since(sizes: dict[str, int]) -> dict[str, Counter]:
    """Requests per host appended to the doubles' logs since ``sizes``."""
    counts = {}
    for path in LOGS.glob("winrm-*.log"):
        with open(path, encoding="utf-8", errors="replace") as fh:
            fh.seek(sizes.get(path.name, 0))
            counts[path.stem.removeprefix("winrm-")] = Counter(
                m.group(1) for m in map(REQUEST.search, fh) if m
            )
    return counts


def one_run(inventory: str, extra: list[str]) -> tuple[float, int, dict[str, Counter]]:
    sizes = winrm_log_sizes()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with tempfile.TemporaryDirectory() as reports:
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"--inventory={inventory}",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--reports-dir={reports}",
                "--fail-on=none",
                *extra,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.exit(
            f"pytest failed with {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    # ru_maxrss of children is the largest child so far (KiB on Linux).
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return elapsed, peak, winrm_requests_since(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--inventory", default="lab")
    args = parser.parse_args()

    configurations = {
        "one process": [],
        "xdist -n 2 --dist loadgroup": ["-n", "2", "--dist", "loadgroup"],
    }
    print(
        "| configuration | median wall time | peak RSS of a pytest process | WinRM requests per host and run | WinRM commands per host and run |"
    )
    print("| --- | --- | --- | --- | --- |")
    for label, extra in configurations.items():
        times, peaks, requests = [], [], []
        for _ in range(args.runs):
            elapsed, peak, counts = one_run(args.inventory, extra)
            times.append(elapsed)
            peaks.append(peak)
            requests.append(counts)
        last = requests[-1]
        per_host = ", ".join(f"{h}: {sum(c.values())}" for h, c in sorted(last.items()))
        commands = ", ".join(
            f"{h}: {c.get('Command', 0)}" for h, c in sorted(last.items())
        )
        print(
            f"| {label} | {statistics.median(times):.1f} s (runs: "
            f"{', '.join(f'{t:.1f}' for t in times)}) | {max(peaks) / 1024:.0f} MiB | {per_host} | {commands} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
