"""A throwaway Active Directory domain controller for the directory checks.

``python -m lab.samba up --run-dir lab/.run`` gives the lab a real domain
controller: Samba provisioned as the AD DC ``dc1`` of ``LAB.EXAMPLE`` on
127.0.0.3 (LDAP 389/636, global catalog 3268/3269, DNS 53, Kerberos 88),
with an LDAPS certificate from the lab CA. It then makes the objects the
ActiveSync agent requirements (AGENT-04 to AGENT-06) look at:

* ``svc-stig-scan``, the suite's read-only audit account (its password is
  ``secrets/ldap-password``, which the lab inventory points at);
* ``svc-sphere-eas``, the remote agent's service account, a member of
  ``View-Only Organization Management``;
* ``OU=Users`` under ``OU=HQ`` and ``OU=Field``, one user in each. HQ grants
  the group Read on "this object and all descendant objects"; Field grants
  it on the OU alone, the drift AGENT-06 must find.

Both commands are safe to repeat: a running DC is left alone, an existing
domain is reused and every object is created only when it is missing.
``down`` stops the DC by its recorded pid. State lives in ``<run-dir>/samba``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPNoSuchObjectResult
from ldap3.protocol.formatters.formatters import format_sid
from ldap3.protocol.microsoft import security_descriptor_control
from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

from lab.catalina import running_pid
from lab.hosts import DOMAIN, RUN_DIR, LabHost
from lab.pki import ensure_leaf

REPO = Path(__file__).resolve().parents[1]
DC = LabHost("dc1", "127.0.0.3")
REALM = DOMAIN.upper()
NETBIOS_DOMAIN = "LAB"
BASE_DN = "DC=lab,DC=example"
APT_PACKAGES = ("samba", "winbind", "krb5-user", "ldb-tools", "smbclient")
READY_TIMEOUT = 30.0
STOP_GRACE = 15.0

AUDIT_ACCOUNT = "svc-stig-scan"
AGENT_ACCOUNT = "svc-sphere-eas"
AGENT_GROUP = "View-Only Organization Management"
# Exchange creates its role groups in this OU; the collector must find the
# group by name wherever it sits.
GROUP_OU = f"OU=Microsoft Exchange Security Groups,{BASE_DN}"
HQ_USERS = f"OU=Users,OU=HQ,{BASE_DN}"
FIELD_USERS = f"OU=Users,OU=Field,{BASE_DN}"
OUS = (GROUP_OU, f"OU=HQ,{BASE_DN}", HQ_USERS, f"OU=Field,{BASE_DN}", FIELD_USERS)
# sAMAccountName -> container of the user.
USERS = {
    AUDIT_ACCOUNT: f"CN=Users,{BASE_DN}",
    AGENT_ACCOUNT: f"CN=Users,{BASE_DN}",
    "hq.user": HQ_USERS,
    "field.user": FIELD_USERS,
}

# Read as the Active Directory Users and Computers dialog grants it:
# RC | LO | RP | LC (what samba-tool stores for "RPLCLORC").
READ_MASK = 0x20094
CONTAINER_INHERIT = 0x02
# OU -> ACE flags of the group's Read grant. HQ is as the STIG asks ("This
# object and all descendant objects"); Field was set to "This object only".
READ_GRANTS = {HQ_USERS: CONTAINER_INHERIT, FIELD_USERS: 0}

NORMAL_ACCOUNT = 0x200
DONT_EXPIRE_PASSWORD = 0x10000


def say(message: str) -> None:
    print(f"samba: {message}", flush=True)


@dataclass(frozen=True)
class Layout:
    """Where the DC keeps its state inside the lab's run directory."""

    run_dir: Path

    @property
    def root(self) -> Path:
        return self.run_dir / "samba"

    @property
    def smb_conf(self) -> Path:
        return self.root / "etc" / "smb.conf"

    @property
    def sam_ldb(self) -> Path:
        return self.root / "private" / "sam.ldb"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"samba-{DC.name}.pid"

    @property
    def console_log(self) -> Path:
        return self.run_dir / "logs" / f"samba-{DC.name}.out"

    @property
    def secrets(self) -> Path:
        return self.run_dir / "secrets"

    @property
    def admin_password(self) -> Path:
        return self.secrets / "samba-admin-password"

    @property
    def audit_password(self) -> Path:
        return self.secrets / "ldap-password"

    @property
    def agent_password(self) -> Path:
        return self.secrets / "samba-eas-password"

    @property
    def ca_pem(self) -> Path:
        return self.run_dir / "pki" / "ca.pem"

    @property
    def tls_cert(self) -> Path:
        return self.run_dir / "pki" / f"{DC.name}-ldap.pem"

    @property
    def tls_key(self) -> Path:
        return self.run_dir / "pki" / f"{DC.name}-ldap.key"

    @property
    def marker(self) -> str:
        # The samba command line names this file; a reused pid will not.
        return str(self.smb_conf)


# -- packages ---------------------------------------------------------------


def _missing_packages() -> list[str]:
    missing = []
    for package in APT_PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
        )
        if "install ok installed" not in status.stdout:
            missing.append(package)
    return missing


def install_packages() -> None:
    missing = _missing_packages()
    if not missing:
        return
    say(f"installing {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *missing]
    # The package lists may be stale on a fresh machine: refresh them only
    # when the first attempt fails.
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


# -- secrets and the LDAPS certificate --------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def ensure_password(path: Path) -> str:
    """The password kept in ``path``, created on first use.

    The fixed tail gives every password the upper case, lower case, digit
    and symbol that Samba's default complexity rule asks for.
    """
    if path.is_file() and path.read_text(encoding="ascii").strip():
        return path.read_text(encoding="ascii").strip()
    password = secrets.token_urlsafe(24) + "-Lb7"
    _write_private(path, password.encode("ascii"))
    return password


def ensure_certificate(layout: Layout) -> bool:
    """dc1's LDAPS certificate from the lab intermediate, issued when needed.

    Returns True when a new certificate was written (a running DC must then
    be restarted to serve it).
    """
    reason = ensure_leaf(layout.ca_pem.parent, DC, f"{DC.name}-ldap")
    if reason is None:
        return False
    say(f"issued {layout.tls_cert.name} for {DC.fqdn} / {DC.address} ({reason})")
    return True


# -- provisioning -----------------------------------------------------------


def _options(layout: Layout) -> list[str]:
    root = layout.root
    settings = {
        # Samba only binds addresses it finds on an interface; written with
        # a prefix it makes one up for this loopback address.
        "interfaces": f"{DC.address}/8",
        "bind interfaces only": "yes",
        # Provisioning copies the host's resolver; the lab forwards nothing
        # off the machine.
        "dns forwarder": "127.0.0.1",
        "log file": f"{root}/log/log.%m",
        "pid directory": f"{root}/run",
        "winbindd socket directory": f"{root}/run/winbindd",
        "ntp signd socket directory": f"{root}/run/ntp_signd",
        "cache directory": f"{root}/cache",
        "tls enabled": "yes",
        "tls keyfile": str(layout.tls_key),
        "tls certfile": str(layout.tls_cert),
        "tls cafile": str(layout.ca_pem),
        "load printers": "no",
        "printcap name": "/dev/null",
        "disable spoolss": "yes",
    }
    return [f"--option={name} = {value}" for name, value in settings.items()]


def provisioned(layout: Layout) -> bool:
    return layout.smb_conf.is_file() and layout.sam_ldb.is_file()


def provision(layout: Layout, admin_password: str) -> None:
    if layout.root.exists():
        # A half-made domain from an interrupted run cannot be repaired.
        shutil.rmtree(layout.root)
    layout.root.mkdir(parents=True)
    started = time.monotonic()
    # samba-tool takes the administrator password only as an argument. The
    # lab accepts that it shows in the process list for these few seconds;
    # everything later reaches the DC over LDAPS or through its own database.
    command = [
        "samba-tool", "domain", "provision",
        f"--targetdir={layout.root}",
        f"--realm={REALM}",
        f"--domain={NETBIOS_DOMAIN}",
        "--server-role=dc",
        "--dns-backend=SAMBA_INTERNAL",
        f"--host-ip={DC.address}",
        f"--host-name={DC.name}",
        f"--adminpass={admin_password}",
        *_options(layout),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    output = (result.stdout + result.stderr).replace(admin_password, "********")
    (layout.run_dir / "logs" / "samba-provision.log").write_text(output)
    if result.returncode != 0:
        raise RuntimeError(
            f"provisioning failed (exit {result.returncode}); see "
            f"{layout.run_dir / 'logs' / 'samba-provision.log'}"
        )
    for folder in ("log", "run", "cache"):
        (layout.root / folder).mkdir(exist_ok=True)
    # Passwords would expire after 42 days and lock a long-lived lab out.
    _samba_tool(layout, "domain", "passwordsettings", "set", "--max-pwd-age=0")
    say(f"provisioned {REALM} in {layout.root} ({time.monotonic() - started:.1f} s)")


def _samba_tool(layout: Layout, *arguments: str) -> str:
    """samba-tool on the DC's own database (no network, no credentials)."""
    command = [
        "samba-tool",
        *arguments,
        f"--configfile={layout.smb_conf}",
        f"-H{layout.sam_ldb}",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"samba-tool {' '.join(arguments[:2])} failed: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result.stdout


# -- running ----------------------------------------------------------------


def ldaps_answers(timeout: float = 1.0) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((DC.address, 636), timeout=timeout) as sock:
            with context.wrap_socket(sock):
                return True
    except OSError:
        return False


def start(layout: Layout) -> int:
    """Start the DC under lab.supervise and wait for LDAPS; returns the pid."""
    if ldaps_answers():
        raise RuntimeError(
            f"something this lab did not record already listens on {DC.address}:636"
        )
    layout.pid_file.parent.mkdir(parents=True, exist_ok=True)
    layout.console_log.parent.mkdir(parents=True, exist_ok=True)
    samba = [
        shutil.which("samba") or "/usr/sbin/samba",
        "-F",
        "--debug-stdout",
        # One process per service instead of a pre-forked pool: 10
        # processes instead of 58, and enough for a test lab.
        "-M",
        "single",
        f"--configfile={layout.smb_conf}",
    ]
    # Samba renames its main process ("samba: root process"); the
    # supervisor keeps lab/.run/ on a command line for lab/down to see.
    command = [sys.executable, "-m", "lab.supervise", "--run-dir", str(layout.run_dir)]
    with layout.console_log.open("ab") as log:
        process = subprocess.Popen(
            [*command, "--", *samba],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    layout.pid_file.write_text(f"{process.pid}\n")
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        if process.poll() is not None:
            layout.pid_file.unlink(missing_ok=True)
            raise RuntimeError(
                f"samba exited with {process.returncode}; see {layout.console_log}"
            )
        if ldaps_answers():
            say(
                f"{DC.name}: ready (pid {process.pid}) on {DC.address} "
                f"in {time.monotonic() - started:.1f} s"
            )
            return process.pid
        time.sleep(0.2)
    stop(layout)
    raise RuntimeError(f"LDAPS did not answer within {READY_TIMEOUT:g} s")


def _ours(layout: Layout) -> list[int]:
    """Every live process whose command line names this DC's smb.conf."""
    marker = layout.marker.encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _wait_gone(pids: Sequence[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and _alive(p)]
    return alive


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop(layout: Layout) -> None:
    pid = running_pid(layout.pid_file, layout.marker)
    if pid is None:
        layout.pid_file.unlink(missing_ok=True)
        say(f"{DC.name}: not running")
        return
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    left = _wait_gone([pid], STOP_GRACE)
    # The service processes follow the parent within a second or so; any
    # that linger carry our smb.conf on their command line.
    left += [p for p in _wait_gone(_ours(layout), 3.0) if p not in left]
    for straggler in left:
        say(f"pid {straggler} ignored SIGTERM: SIGKILL")
        os.kill(straggler, signal.SIGKILL)
    layout.pid_file.unlink(missing_ok=True)
    say(f"{DC.name}: stopped (pid {pid}, {time.monotonic() - started:.1f} s)")


# -- directory objects ------------------------------------------------------


def _session(layout: Layout, user: str, password: str):
    """A simple bind over LDAPS (Samba refuses ldap3's NTLM bind)."""
    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=str(layout.ca_pem),
        valid_names=[DC.fqdn],
    )
    server = ldap3.Server(DC.address, 636, use_ssl=True, tls=tls, connect_timeout=5)
    return ldap3.Connection(
        server, user, password, auto_bind=True, raise_exceptions=True
    )


def _exists(conn, dn: str) -> bool:
    try:
        return conn.search(dn, "(objectClass=*)", "BASE", attributes=["objectClass"])
    except LDAPNoSuchObjectResult:
        return False


def _ensure_ou(conn, dn: str) -> None:
    if not _exists(conn, dn):
        conn.add(dn, ["top", "organizationalUnit"])
        say(f"created {dn}")


def _unicode_password(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


def _can_bind(layout: Layout, name: str, password: str) -> bool:
    try:
        _session(layout, f"{name}@{DOMAIN}", password).unbind()
        return True
    except LDAPException:
        return False


def _ensure_user(
    conn, layout: Layout, name: str, container: str, password: str | None
) -> str:
    """The user's DN; a given password is also made to work for a bind."""
    dn = f"CN={name},{container}"
    if not _exists(conn, dn):
        password = password or secrets.token_urlsafe(24) + "-Lb7"
        conn.add(
            dn,
            ["top", "person", "organizationalPerson", "user"],
            {
                "sAMAccountName": name,
                "userPrincipalName": f"{name}@{DOMAIN}",
                "unicodePwd": _unicode_password(password),
                "userAccountControl": NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD,
            },
        )
        say(f"created {dn}")
    elif password is not None and not _can_bind(layout, name, password):
        # The secret was recreated since the account was made: an
        # administrator's reset (replace) is not held to password history.
        conn.modify(
            dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_unicode_password(password)])]}
        )
        say(f"reset the password of {dn}")
    return dn


def _ensure_group(conn, name: str, container: str) -> str:
    dn = f"CN={name},{container}"
    if not _exists(conn, dn):
        # A global security group, as Exchange creates its role groups.
        conn.add(
            dn,
            ["top", "group"],
            {"sAMAccountName": name, "groupType": -2147483646},
        )
        say(f"created {dn}")
    return dn


def _ensure_member(conn, group_dn: str, member_dn: str) -> None:
    conn.search(group_dn, "(objectClass=group)", "BASE", attributes=["member"])
    members = {str(m).lower() for m in conn.entries[0].member.values}
    if member_dn.lower() not in members:
        conn.modify(group_dn, {"member": [(ldap3.MODIFY_ADD, [member_dn])]})
        say(f"added {member_dn} to {group_dn}")


def _sid(conn, dn: str) -> str:
    conn.search(dn, "(objectClass=*)", "BASE", attributes=["objectSid"])
    return format_sid(conn.response[0]["raw_attributes"]["objectSid"][0])


def _has_grant(conn, ou: str, sid: str, flags: int) -> bool:
    conn.search(
        ou,
        "(objectClass=*)",
        "BASE",
        attributes=["nTSecurityDescriptor"],
        controls=security_descriptor_control(sdflags=0x04),
    )
    raw = conn.response[0]["raw_attributes"]["nTSecurityDescriptor"][0]
    dacl = SECURITY_DESCRIPTOR.from_bytes(raw).Dacl
    for ace in dacl.aces if dacl else ():
        if str(ace.Sid) == sid and int(ace.Mask) == READ_MASK:
            if int(ace.AceFlags) & 0x1F == flags:
                return True
    return False


def _ensure_grant(conn, layout: Layout, ou: str, sid: str, flags: int) -> None:
    if _has_grant(conn, ou, sid, flags):
        return
    ace_flags = "CI" if flags & CONTAINER_INHERIT else ""
    _samba_tool(
        layout,
        "dsacl",
        "set",
        f"--objectdn={ou}",
        f"--sddl=(A;{ace_flags};RPLCLORC;;;{sid})",
    )
    say(f"granted {AGENT_GROUP} Read on {ou} (flags {ace_flags or 'none'})")


def populate(layout: Layout, admin_password: str) -> None:
    started = time.monotonic()
    conn = _session(layout, f"Administrator@{DOMAIN}", admin_password)
    try:
        for ou in OUS:
            _ensure_ou(conn, ou)
        passwords = {
            AUDIT_ACCOUNT: ensure_password(layout.audit_password),
            AGENT_ACCOUNT: ensure_password(layout.agent_password),
        }
        dns = {}
        for name, container in USERS.items():
            dns[name] = _ensure_user(conn, layout, name, container, passwords.get(name))
        group = _ensure_group(conn, AGENT_GROUP, GROUP_OU)
        _ensure_member(conn, group, dns[AGENT_ACCOUNT])
        sid = _sid(conn, group)
        for ou, flags in READ_GRANTS.items():
            _ensure_grant(conn, layout, ou, sid, flags)
    finally:
        conn.unbind()
    say(f"directory objects in place ({time.monotonic() - started:.1f} s)")


# -- commands ---------------------------------------------------------------


def up(layout: Layout) -> None:
    install_packages()
    for folder in (layout.secrets, layout.pid_file.parent, layout.console_log.parent):
        folder.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.secrets, 0o700)
    if not layout.ca_pem.is_file():
        raise RuntimeError(f"{layout.ca_pem} is missing: run python -m lab.pki first")

    renewed = ensure_certificate(layout)
    pid = running_pid(layout.pid_file, layout.marker)
    if pid is not None and renewed:
        say(f"{DC.name}: restarting to serve the new certificate")
        stop(layout)
        pid = None
    if not layout.admin_password.is_file() and provisioned(layout):
        if pid is not None:
            stop(layout)
            pid = None
        say("the administrator password is lost: provisioning a new domain")
        shutil.rmtree(layout.root)
    admin_password = ensure_password(layout.admin_password)

    if pid is None:
        if not provisioned(layout):
            provision(layout, admin_password)
        pid = start(layout)
    else:
        say(f"{DC.name}: already running (pid {pid}) on {DC.address}")
    populate(layout, admin_password)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.samba", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)
    layout = Layout(args.run_dir.resolve())
    try:
        if args.command == "up":
            up(layout)
        else:
            stop(layout)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        say(f"{args.command} failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
