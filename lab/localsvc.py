"""What lab/snmp.py and lab/mail.py share: packages, secrets and processes.

Every process started here runs in its own session (it outlives the
``up`` command and its terminal) and is recorded in ``<run-dir>/pids/``;
it is only ever stopped by that recorded pid, after checking that the
process's command line still carries the marker it was started with.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# How long apt-get waits for another apt-get or dpkg to release its lock:
# the lab's services may be installed by several people's commands at once.
LOCK_WAIT_SECONDS = 300


def package_installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and "install ok installed" in result.stdout


def install_missing(packages: Sequence[str], debconf: Sequence[str] = ()) -> list[str]:
    """Install what is missing and return the packages that were installed.

    ``debconf`` lines are preseeded first, so no package asks a question.
    """
    missing = [p for p in packages if not package_installed(p)]
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
    lock = ["-o", f"DPkg::Lock::Timeout={LOCK_WAIT_SECONDS}"]
    command = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        *lock,
        *missing,
    ]
    # The package lists may be stale on a fresh machine: refresh them only
    # when the first attempt fails.
    if subprocess.run(command, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q", *lock], env=env, check=True)
        subprocess.run(command, env=env, check=True)
    return missing


def write_private(path: Path, data: bytes) -> None:
    """Write a file only root can read (mode 600 from the first byte)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def ensure_secret(path: Path) -> str:
    """The secret in ``path``, made (random, mode 600) when there is none."""
    if path.is_file() and path.read_text(encoding="ascii").strip():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = secrets.token_urlsafe(24)
    write_private(path, value.encode("ascii"))
    return value


def recorded_pid(pid_file: Path, *markers: str) -> int | None:
    """The recorded pid if that process is alive and carries every marker."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (OSError, ValueError):
        return None
    return pid if all(m.encode() in cmdline for m in markers) else None


def start_detached(
    command: Sequence[str],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def alive(pid: int) -> bool:
    try:
        # A zombie is gone for our purposes.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until(ready: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(step)
    return ready()


def stop_pid(pid: int, grace: float = 10.0) -> str:
    """SIGTERM, then SIGKILL after ``grace`` seconds; says which it took."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "already gone"
    if wait_until(lambda: not alive(pid), grace):
        return "stopped"
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), 5.0)
    return f"killed (ignored SIGTERM for {grace:g} s)"


def bound(address: str, port: int, protocol: str = "tcp") -> bool:
    """True when a socket listens on ``address:port`` (from /proc/net/).

    Reading the kernel's table sends nothing, so waiting for a daemon this
    way leaves no half-made connections in its log.
    """
    local = f"{socket.inet_aton(address)[::-1].hex().upper()}:{port:04X}"
    try:
        lines = Path(f"/proc/net/{protocol}").read_text().splitlines()[1:]
    except OSError:
        return False
    # TCP sockets must be in LISTEN (0A); a bound UDP socket is enough.
    return any(
        fields[1] == local and (protocol == "udp" or fields[3] == "0A")
        for fields in (line.split() for line in lines)
    )
