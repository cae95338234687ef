"""Turn a run's allure-results into a single-file Allure report.

    python scripts/allure_report.py [RUN_DIR]

RUN_DIR is a run folder (``reports/<inventory>/<timestamp>``); without it the
newest run under ``reports/`` is used. The report is written to
``RUN_DIR/allure-report/index.html``. The Allure command line is taken from
``$ALLURE``, else from ``PATH`` (``tox -e allure`` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def newest_run() -> Path:
    runs = sorted(
        (p for p in (REPO / "reports").glob("*/*") if (p / "allure-results").is_dir()),
        key=lambda p: p.name,
    )
    if not runs:
        sys.exit(
            "no run with allure-results under reports/: run pytest --inventory NAME first"
        )
    return runs[-1]


def main(argv: list[str]) -> int:
    run = Path(argv[0]).resolve() if argv else newest_run()
    results = run / "allure-results"
    if not results.is_dir():
        sys.exit(f"{results} does not exist: is {run} a run folder?")
    allure = os.environ.get("ALLURE") or shutil.which("allure")
    if not allure:
        sys.exit(
            "the Allure command line is not installed: use tox -e allure, or set $ALLURE"
        )
    output = run / "allure-report"
    subprocess.run(
        [
            allure,
            "generate",
            "--single-file",
            "--clean",
            str(results),
            "-o",
            str(output),
        ],
        check=True,
    )
    print(f"Allure report: {output / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
