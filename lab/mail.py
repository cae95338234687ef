"""The lab's SMTP gateway: a private Postfix instance as host mail1.

``python -m lab.mail up --run-dir lab/.run`` runs Postfix from
``<run-dir>/postfix/`` (its own main.cf, master.cf, queue and data
directories; the system's /etc/postfix is never configured) on 127.0.0.6:

* port 25: SMTP with STARTTLS offered (TLS 1.2 or later);
* port 465: SMTP inside TLS from the first byte ("submissions", TLS 1.2+).

The certificate is a leaf for ``mail1.lab.example`` from the lab CA
(``<run-dir>/pki/mail1-smtp.pem`` with the intermediate, and ``.key``),
kept by :func:`lab.pki.ensure_leaf`: reissued whenever the CA has changed
or the leaf is about to expire. Every
transport is Postfix's ``error`` transport: the gateway accepts nothing for
delivery anywhere, so no message ever leaves the machine.

Postfix's ``start-fg`` runs the master daemon under a shell whose command
line no longer says where the instance lives, so ``up`` starts it under
``python -m lab.mail run`` instead: that parent carries ``--run-dir`` on its
command line (``lab/down`` recognises it) and turns a SIGTERM into
``postfix stop``. ``down`` runs ``postfix -c <conf> stop`` itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import localsvc
from lab.hosts import DOMAIN, LAB_DIR, RUN_DIR, LabHost

PACKAGES = ("postfix",)
# "No configuration": the package leaves /etc/postfix/main.cf out, so no
# system instance can start (and take port 25 on every address) even on a
# machine where package scripts may start services.
DEBCONF = ("postfix postfix/main_mailer_type select No configuration",)
HOST = LabHost("mail1", "127.0.0.6")
CERT_STEM = "mail1-smtp"
START_SECONDS = 20.0


def say(message: str) -> None:
    print(f"lab.mail: {message}", flush=True)


@dataclass(frozen=True)
class Layout:
    run_dir: Path

    @property
    def base(self) -> Path:
        return self.run_dir / "postfix"

    @property
    def conf(self) -> Path:
        return self.base / "conf"

    @property
    def queue(self) -> Path:
        return self.base / "queue"

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def pki(self) -> Path:
        return self.run_dir / "pki"

    @property
    def cert(self) -> Path:
        return self.pki / f"{CERT_STEM}.pem"

    @property
    def key(self) -> Path:
        return self.pki / f"{CERT_STEM}.key"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"postfix-{HOST.name}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "logs" / f"postfix-{HOST.name}.log"

    @property
    def marker(self) -> str:
        return str(self.run_dir)


def render_main_cf(layout: Layout) -> str:
    lines = [
        "# Written by lab/mail.py at every start.",
        "compatibility_level = 3.6",
        f"queue_directory = {layout.queue}",
        f"data_directory = {layout.data}",
        # Postfix refuses an address that is not an interface here; the
        # listeners name 127.0.0.6 in master.cf instead.
        "inet_interfaces = loopback-only",
        "inet_protocols = ipv4",
        f"myhostname = {HOST.fqdn}",
        f"mydomain = {DOMAIN}",
        "myorigin = $myhostname",
        "mydestination = $myhostname, localhost",
        "mynetworks = 127.0.0.0/8",
        "smtpd_banner = $myhostname ESMTP",
        "disable_vrfy_command = yes",
        "biff = no",
        "smtputf8_enable = no",
        # Nothing is delivered, locally or elsewhere.
        "alias_maps =",
        "alias_database =",
        "local_recipient_maps =",
        "local_transport = error:local delivery is disabled in the lab",
        "default_transport = error:outbound delivery is disabled in the lab",
        "relay_transport = error:outbound delivery is disabled in the lab",
        # The parent process writes Postfix's stdout into the lab's log.
        "maillog_file = /dev/stdout",
        f"smtpd_tls_chain_files = {layout.key}, {layout.cert}",
        "smtpd_tls_security_level = may",
        "smtpd_tls_protocols = >=TLSv1.2",
        "smtpd_tls_mandatory_protocols = >=TLSv1.2",
        "smtpd_tls_auth_only = yes",
        "smtpd_tls_loglevel = 1",
        "",
    ]
    return "\n".join(lines)


# Postfix's own services, none chrooted (column 5 "n"): a private instance
# has no chroot tree to run them in.
_INTERNAL_SERVICES = """\
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
smtp       unix  - - n -     - smtp
relay      unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
local      unix  - n n -     - local
lmtp       unix  - - n -     - lmtp
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


def render_master_cf() -> str:
    a = HOST.address
    return (
        "# Written by lab/mail.py at every start.\n"
        f"{a}:smtp        inet n - n - - smtpd\n"
        f"{a}:submissions inet n - n - - smtpd\n"
        "  -o smtpd_tls_wrappermode=yes\n"
        "  -o smtpd_tls_security_level=encrypt\n" + _INTERNAL_SERVICES
    )


def ensure_certificate(layout: Layout) -> str | None:
    """Issue the gateway's leaf from the lab CA unless the current one is good.

    Returns why a new certificate was written, or None when it was reused.
    """
    # Imported here: cryptography would triple the memory of ``run``.
    from lab import pki

    return pki.ensure_leaf(layout.pki, HOST, CERT_STEM)


def _postfix(layout: Layout, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["postfix", "-c", str(layout.conf), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


def master_running(layout: Layout) -> bool:
    return _postfix(layout, "status").returncode == 0


def write_config(layout: Layout) -> None:
    for directory in (layout.conf, layout.queue, layout.data):
        directory.mkdir(parents=True, exist_ok=True)
    # The master takes its lock in data_directory as user postfix: a
    # root-owned directory stops it with "open lock file ... Permission
    # denied". The queue directory itself stays root's; Postfix makes and
    # owns what is inside it.
    shutil.chown(layout.data, "postfix", "postfix")
    _write_settled(layout.conf / "main.cf", render_main_cf(layout))
    _write_settled(layout.conf / "master.cf", render_master_cf())


def _write_settled(path: Path, text: str) -> None:
    """Write a Postfix configuration file that Postfix will read at once.

    Postfix reads a configuration file again and again, for about two
    seconds, while its modification time is not yet in the past (an editor
    might still be writing it). Backdating the file skips that wait, which
    was most of the gateway's start-up time.
    """
    path.write_text(text)
    settled = time.time() - 10
    os.utime(path, (settled, settled))


def smtp_banner(port: int, implicit_tls: bool, ca: Path, timeout: float = 2.0) -> str:
    """The 220 greeting on ``port``, over verified TLS when ``implicit_tls``."""
    # Imported here: ssl would double the memory of the ``run`` parent.
    import ssl

    with socket.create_connection((HOST.address, port), timeout=timeout) as sock:
        if not implicit_tls:
            return sock.recv(512).decode(errors="replace").strip()
        context = ssl.create_default_context(cafile=str(ca))
        with context.wrap_socket(sock, server_hostname=HOST.fqdn) as tls:
            return f"{tls.recv(512).decode(errors='replace').strip()} ({tls.version()})"


def _ready(layout: Layout) -> bool:
    if not localsvc.bound(HOST.address, 25):
        return False
    try:
        return smtp_banner(25, False, layout.pki / "ca.pem").startswith("220")
    except OSError:
        return False


def running(layout: Layout) -> int | None:
    return localsvc.recorded_pid(layout.pid_file, "lab.mail", "run", layout.marker)


def up(layout: Layout) -> int:
    installed = localsvc.install_missing(PACKAGES, DEBCONF)
    if installed:
        say(f"installed {' '.join(installed)}")
    reissued = ensure_certificate(layout)
    if reissued:
        say(f"{HOST.name}: issued {layout.cert.name} for {HOST.fqdn} ({reissued})")
    pid = running(layout)
    if pid is not None and master_running(layout):
        if reissued:
            _postfix(layout, "reload")
        say(f"{HOST.name}: already running (pid {pid}) on {HOST.address}:25/465")
        return 0
    if master_running(layout):
        # A master without our parent (the parent was killed): stop it so
        # that the instance runs under a parent lab/down can find.
        _postfix(layout, "stop")

    started = time.monotonic()
    write_config(layout)
    layout.pid_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "lab.mail",
        "run",
        "--run-dir",
        # The trailing slash is what lab/down looks for ("lab/.run/").
        f"{layout.run_dir}/",
    ]
    process = localsvc.start_detached(command, layout.log, cwd=LAB_DIR.parent)
    layout.pid_file.write_text(f"{process.pid}\n")
    if not localsvc.wait_until(
        lambda: _ready(layout) or process.poll() is not None, START_SECONDS, 0.1
    ):
        say(
            f"{HOST.name}: Postfix did not answer on {HOST.address}:25; see {layout.log}"
        )
        return 1
    if process.poll() is not None:
        say(f"{HOST.name}: Postfix exited with {process.returncode}; see {layout.log}")
        layout.pid_file.unlink(missing_ok=True)
        return 1
    try:
        banner = smtp_banner(465, True, layout.pki / "ca.pem")
    except OSError as exc:  # ssl.SSLError is an OSError
        say(f"{HOST.name}: port 465 does not complete TLS ({exc}); see {layout.log}")
        return 1
    took = time.monotonic() - started
    say(
        f"{HOST.name}: ready (pid {process.pid}) on {HOST.address}:25 (STARTTLS) and "
        f":465 (TLS) in {took:.1f} s; 465 says {banner!r}; every delivery ends in "
        "the error transport"
    )
    return 0


def down(layout: Layout) -> int:
    pid = running(layout)
    master = layout.conf.is_dir() and master_running(layout)
    if master:
        started = time.monotonic()
        result = _postfix(layout, "stop")
        outcome = "stopped" if result.returncode == 0 else result.stderr.strip()
        say(
            f"{HOST.name}: postfix stop: {outcome} ({time.monotonic() - started:.1f} s)"
        )
    if pid is not None:
        # The parent exits with the master; only a stuck one is signalled.
        if not localsvc.wait_until(lambda: not localsvc.alive(pid), 10.0):
            say(f"{HOST.name}: parent {localsvc.stop_pid(pid)} (pid {pid})")
    elif not master:
        say(f"{HOST.name}: not running")
    layout.pid_file.unlink(missing_ok=True)
    return 0


def run(layout: Layout) -> int:
    """Foreground parent of ``postfix start-fg`` (see the module doc)."""
    child = subprocess.Popen(["postfix", "-c", str(layout.conf), "start-fg"])

    def stop(signum: int, _frame: object) -> None:
        if child.poll() is None:
            _postfix(layout, "stop")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.mail", description="The lab's SMTP gateway (mail1)."
    )
    parser.add_argument("action", choices=("up", "down", "run"))
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)
    layout = Layout(args.run_dir.resolve())
    return {"up": up, "down": down, "run": run}[args.action](layout)


if __name__ == "__main__":
    sys.exit(main())
