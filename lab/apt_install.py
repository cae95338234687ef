"""Install Debian packages a lab service needs, only when they are missing.

Several lab services may install at the same time (lab/up runs them one
after another, but engineers also run single services by hand), so dpkg's
lock is waited for instead of failing at once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

# How long apt-get waits for another apt-get or dpkg to release its lock.
LOCK_WAIT_SECONDS = 300


def installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and "install ok installed" in result.stdout


def ensure(packages: Sequence[str], debconf: Sequence[str] = ()) -> list[str]:
    """Install what is missing and return the packages that were installed.

    ``debconf`` lines are preseeded first (``postfix postfix/main_mailer_type
    select No configuration``), so no package asks a question.
    """
    missing = [p for p in packages if not installed(p)]
    if not missing:
        return []
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if debconf:
        subprocess.run(
            ["debconf-set-selections"],
            input="\n".join(debconf) + "\n",
            text=True,
            check=True,
            env=env,
        )
    command = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        f"DPkg::Lock::Timeout={LOCK_WAIT_SECONDS}",
        *missing,
    ]
    # The package lists may be stale on a fresh machine: refresh them only
    # when the first attempt fails.
    if subprocess.run(command, env=env, check=False).returncode != 0:
        subprocess.run(
            [
                "apt-get",
                "update",
                "-q",
                "-o",
                f"DPkg::Lock::Timeout={LOCK_WAIT_SECONDS}",
            ],
            env=env,
            check=True,
        )
        subprocess.run(command, env=env, check=True)
    return missing
