"""Build and run one private CATALINA_BASE per lab host (Debian tomcat10).

``python -m lab.catalina up [HOST...]`` prepares the base from the host's
image and the lab PKI, starts ``catalina.sh run`` in its own session and
waits until TLS answers on <ip>:443. A host whose recorded Tomcat is still
alive is left alone. ``python -m lab.catalina table`` prints what runs where.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import tomcat
from lab.hosts import HOSTS, IMAGES_DIR, RUN_DIR, LabHost, host
from lab.pki import Pki

CATALINA_HOME = Path("/usr/share/tomcat10")
# Debian's pristine copies of the files a base needs but the images do not
# carry (logging, default context).
DEBIAN_CONF = CATALINA_HOME / "etc"
JAVA_OPTS = ["-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true"]
# Without this a connector that cannot bind is only logged and Tomcat runs
# on half configured; the lab would rather fail loudly.
JAVA_OPTS.append("-Dorg.apache.catalina.startup.EXIT_ON_INIT_FAILURE=true")
READY_TIMEOUT = 30.0
HTTPS_PORT = 443


@dataclass(frozen=True)
class Layout:
    """Paths of one host's runtime state."""

    host: LabHost
    run_dir: Path

    @property
    def base(self) -> Path:
        return self.run_dir / "tomcat" / self.host.name

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"tomcat-{self.host.name}.pid"

    @property
    def marker(self) -> str:
        # catalina.sh passes -Dcatalina.base=<base> to the JVM.
        return f"-Dcatalina.base={self.base}"

    @property
    def console_log(self) -> Path:
        return self.base / "logs" / "catalina.out"

    @property
    def translation_log(self) -> Path:
        return self.base / "conf" / "lab-translation.txt"


def running_pid(pid_file: Path, *markers: str) -> int | None:
    """The recorded pid if that process is alive and is really ours.

    A pid can be reused after a crash or reboot, so the process must also
    carry every marker in its command line.
    """
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if all(m.encode() in cmdline for m in markers) else None


def java_security_file() -> Path:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java not found on PATH (apt-get install tomcat10)")
    return Path(java).resolve().parents[1] / "conf" / "security" / "java.security"


def quick_scan(context_xml: str) -> str:
    """Debian's context.xml with the class path left out of JAR scanning.

    Scanning every JAR on the JVM class path for TLDs and fragments cost
    about four of the six seconds a lab Tomcat took to start; the lab's web
    applications are static pages that need none of it.
    """
    closing = "</Context>"
    if context_xml.count(closing) != 1:
        raise ValueError("context.xml does not end with one </Context>")
    scanner = '    <JarScanner scanClassPath="false" scanManifest="false" />\n'
    return context_xml.replace(closing, scanner + closing)


def _copy_tree(source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True)


def prepare_base(layout: Layout, pki: Pki, images_dir: Path) -> tomcat.Derived:
    """Rebuild the host's base from its image; logs survive a restart."""
    base = layout.base
    image = layout.host.sphere_root(images_dir)
    for stale in ("conf", "webapps", "work", "temp", "sphere"):
        shutil.rmtree(base / stale, ignore_errors=True)
    for folder in ("conf", "logs", "webapps", "work", "temp"):
        (base / folder).mkdir(parents=True, exist_ok=True)

    # Debian's defaults first, then the image's files on top, so the files
    # the suite reads are byte for byte the ones Tomcat runs with.
    for name in ("logging.properties", "jaspic-providers.xml"):
        shutil.copy2(DEBIAN_CONF / name, base / "conf" / name)
    context = (DEBIAN_CONF / "context.xml").read_text()
    (base / "conf" / "context.xml").write_text(quick_scan(context))
    for item in (image / "Tomcat" / "conf").iterdir():
        if item.is_file() and item.name != "server.xml":
            shutil.copy2(item, base / "conf" / item.name)
    _copy_tree(image / "Tomcat" / "webapps", base / "webapps")
    # Sphere's own folders (web, conf) sit outside Tomcat on Windows.
    for item in image.iterdir():
        if item.is_dir() and item.name.lower() != "tomcat":
            _copy_tree(item, base / "sphere" / item.name)

    keystore_path = pki.file(f"{layout.host.name}.p12")
    target = tomcat.Target(
        address=layout.host.address,
        base=base,
        keystore=tomcat.Keystore(keystore_path, pki.password(keystore_path)),
        truststore=tomcat.Keystore(pki.truststore, pki.password(pki.truststore)),
    )
    image_xml = (image / "Tomcat" / "conf" / "server.xml").read_bytes()
    derived = tomcat.derive_server_xml(image_xml, target)
    _write_private(base / "conf" / "server.xml", derived.xml)
    for copy in derived.keystore_copies:
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(keystore_path, copy)
        os.chmod(copy, 0o600)
    if derived.legacy_tls:
        text = tomcat.allow_legacy_tls(java_security_file().read_text())
        (base / "conf" / "lab-java.security").write_text(text)
    notes = "".join(f"{change}\n" for change in derived.changes)
    layout.translation_log.write_text(notes)
    return derived


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def start(layout: Layout, derived: tomcat.Derived) -> subprocess.Popen[bytes]:
    base = layout.base
    options = list(JAVA_OPTS)
    if derived.legacy_tls:
        options.append(f"-Djava.security.properties={base / 'conf/lab-java.security'}")
    env = dict(os.environ)
    env.update(
        CATALINA_HOME=str(CATALINA_HOME),
        CATALINA_BASE=str(base),
        CATALINA_TMPDIR=str(base / "temp"),
        JAVA_OPTS=" ".join(options),
    )
    env.pop("CATALINA_OPTS", None)
    layout.pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(layout.console_log, "ab") as log:
        # catalina.sh "run" execs java, so this pid is the JVM's.
        process = subprocess.Popen(
            [str(CATALINA_HOME / "bin" / "catalina.sh"), "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    layout.pid_file.write_text(f"{process.pid}\n")
    return process


def tls_answers(address: str, port: int, timeout: float = 2.0) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            with context.wrap_socket(sock):
                return True
    except (OSError, ssl.SSLError):
        return False


def port_in_use(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_ready(
    layout: Layout, process: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT
) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(
                f"Tomcat for {layout.host.name} exited during start "
                f"(status {process.returncode})"
            )
        if tls_answers(layout.host.address, HTTPS_PORT):
            return
        time.sleep(0.25)
    raise RuntimeError(
        f"Tomcat for {layout.host.name} did not answer TLS on "
        f"{layout.host.address}:{HTTPS_PORT} within {timeout:.0f} s"
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class _Starting:
    layout: Layout
    derived: tomcat.Derived
    process: subprocess.Popen[bytes]
    started: float


def _launch(layout: Layout, pki: Pki, images_dir: Path) -> _Starting | bool:
    """Start the host's Tomcat; True/False when there is nothing to wait for."""
    name, address = layout.host.name, layout.host.address
    pid = running_pid(layout.pid_file, layout.marker)
    if pid is not None:
        print(f"tomcat {name}: already running (pid {pid}) on {address}")
        server_xml = layout.base / "conf" / "server.xml"
        if pki.ca_pem.stat().st_mtime > server_xml.stat().st_mtime:
            print(
                f"tomcat {name}: the lab PKI is newer than this Tomcat and it still "
                "serves the old certificate; run lab/down and lab/up",
                file=sys.stderr,
            )
        return True
    if port_in_use(address, HTTPS_PORT):
        print(
            f"tomcat {name}: {address}:{HTTPS_PORT} is taken by a process the lab "
            "did not record; stop it first",
            file=sys.stderr,
        )
        return False
    derived = prepare_base(layout, pki, images_dir)
    return _Starting(layout, derived, start(layout, derived), time.monotonic())


def _await(starting: _Starting) -> bool:
    layout, derived, process = starting.layout, starting.derived, starting.process
    name = layout.host.name
    try:
        wait_ready(layout, process)
    except RuntimeError as exc:
        print(f"tomcat {name}: {exc}", file=sys.stderr)
        print(_tail(layout.console_log), file=sys.stderr)
        return False
    seconds = time.monotonic() - starting.started
    print(
        f"tomcat {name}: ready after {seconds:.1f} s (pid {process.pid}) on "
        f"{layout.host.address} [{tomcat.describe(derived.listeners)}], "
        f"{len(derived.changes)} settings translated, see {layout.translation_log}"
    )
    return True


def up(layouts: Sequence[Layout], pki: Pki, images_dir: Path) -> bool:
    """Start every host first and wait afterwards: the JVMs boot in parallel."""
    launched = [_launch(layout, pki, images_dir) for layout in layouts]
    results = [item if isinstance(item, bool) else _await(item) for item in launched]
    return all(results)


LAB_INVENTORY = Path(__file__).resolve().parents[1] / "inventories" / "lab.yml"


def _other_services(
    run_dir: Path, shown: dict[str, set[str]]
) -> list[tuple[str, str, str, str, str]]:
    """A row per other recorded lab process (directory, mail, SNMP, SQL...).

    The sockets are read from the kernel's tables, not assumed: what the
    row says listens is what listens on the host's address right now, less
    what an earlier row of the same address shows and the ephemeral ports
    (49152 and up) Samba's RPC endpoints take.
    """
    import yaml

    hosts = yaml.safe_load(LAB_INVENTORY.read_text(encoding="utf-8"))["hosts"]
    sphere = {h.name for h in HOSTS}
    rows = []
    for pid_file in sorted((run_dir / "pids").glob("*.pid")):
        service, _, name = pid_file.stem.rpartition("-")
        if name in sphere and service in ("tomcat", "winrm"):
            continue
        address = str(hosts.get(name, {}).get("address", "?"))
        pid = running_pid(pid_file)
        sockets = [
            item
            for item in _sockets(address)
            if item not in shown.get(address, set()) and int(item.split("/")[0]) < 49152
        ]
        listens = " ".join(sockets) if pid is not None else "-"
        state = str(pid) if pid is not None else "not running"
        rows.append((name, address, service, listens or "-", state))
    return rows


def _sockets(address: str) -> list[str]:
    """Listening TCP and bound UDP ports on ``address`` (IPv4, /proc/net)."""
    try:
        wanted = socket.inet_aton(address)[::-1].hex().upper()
    except OSError:
        return []
    found = []
    for proto, listening in (("tcp", "0A"), ("udp", "07")):
        try:
            lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        ports = set()
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            host_hex, _, port_hex = local.partition(":")
            if host_hex == wanted and state == listening:
                ports.add(int(port_hex, 16))
        found += [f"{port}/{proto}" for port in sorted(ports)]
    return found


def table(run_dir: Path) -> None:
    rows = [("HOST", "ADDRESS", "SERVICE", "LISTENS", "PID")]
    for lab_host in HOSTS:
        layout = Layout(lab_host, run_dir)
        pid = running_pid(layout.pid_file, layout.marker)
        listens = "-"
        server_xml = layout.base / "conf" / "server.xml"
        if pid is not None and server_xml.is_file():
            listens = " ".join(
                f"{item.port}/{item.kind}"
                for item in tomcat.listeners_of(server_xml.read_bytes())
            )
        state = str(pid) if pid is not None else "not running"
        rows.append((lab_host.name, lab_host.address, "tomcat", listens, state))

        winrm_pid = running_pid(
            run_dir / "pids" / f"winrm-{lab_host.name}.pid",
            "lab.winrm_double",
            lab_host.name,
        )
        winrm_state = str(winrm_pid) if winrm_pid is not None else "not running"
        winrm_listens = "5985/http 5986/https" if winrm_pid is not None else "-"
        rows.append(
            (lab_host.name, lab_host.address, "winrm", winrm_listens, winrm_state)
        )
    shown: dict[str, set[str]] = {}
    for row in rows[1:]:
        ports = {f"{item.split('/')[0]}/tcp" for item in row[3].split() if item != "-"}
        shown.setdefault(row[1], set()).update(ports)
    rows += _other_services(run_dir, shown)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.catalina")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--images", type=Path, default=IMAGES_DIR)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the hosts' Tomcats")
    up_parser.add_argument("hosts", nargs="*", default=[h.name for h in HOSTS])
    commands.add_parser("table", help="print what runs where")
    args = parser.parse_args(argv)

    run_dir = args.run_dir.resolve()
    if args.command == "table":
        table(run_dir)
        return 0
    pki = Pki(run_dir / "pki", run_dir / "secrets")
    layouts = [Layout(host(name), run_dir) for name in args.hosts]
    return 0 if up(layouts, pki, args.images) else 1


if __name__ == "__main__":
    sys.exit(main())
