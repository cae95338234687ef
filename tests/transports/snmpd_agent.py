"""A private net-snmp agent for the SNMP tests, separate from the lab's.

It listens on 127.0.0.41 on a UDP port picked for each start (so the
lab's 127.0.0.4:161 is never touched, and two test runs at once do not
meet) with one user per protocol pair the inventory allows, a user it
authenticates but lets read nothing, and, when asked, the v1/v2c community
"public". The keys are made per test session and never leave the temporary
directory.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.localsvc import wait_until
from lab.snmp import bound

ADDRESS = "127.0.0.41"
SYS_DESCR = "sphere-stig test agent"
# user -> (auth protocol, privacy protocol), in the inventory's spelling,
# which is also net-snmp's.
USERS = {
    "t-sha-aes": ("SHA", "AES"),
    "t-sha256-aes192": ("SHA-256", "AES-192"),
    "t-sha384-aes256": ("SHA-384", "AES-256"),
    "t-sha512-aes256": ("SHA-512", "AES-256"),
    # SHA-1 gives AES-256 too little key: the Blumenthal extension decides.
    "t-sha-aes256": ("SHA", "AES-256"),
}
# Authenticated and decrypted, but without any access entry.
NO_ACCESS_USER = "t-no-access"


@dataclass(frozen=True)
class Agent:
    address: str
    port: int
    auth_key: str
    priv_key: str
    community: str | None


def _config(agent: Agent) -> str:
    lines = [f"agentAddress udp:{agent.address}:{agent.port}", f"sysDescr {SYS_DESCR}"]
    for user, (auth, priv) in USERS.items():
        lines.append(
            f'createUser {user} {auth} "{agent.auth_key}" {priv} "{agent.priv_key}"'
        )
        lines.append(f"rouser -s usm {user} priv")
    lines.append(
        f'createUser {NO_ACCESS_USER} SHA-512 "{agent.auth_key}" AES-256 "{agent.priv_key}"'
    )
    if agent.community:
        lines.append(f"rocommunity {agent.community} 127.0.0.0/8")
    lines.append("dontLogTCPWrappersConnects yes")
    return "\n".join(lines) + "\n"


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@contextmanager
def running_agent(directory: Path, community: str | None = None) -> Iterator[Agent]:
    snmpd = shutil.which("snmpd") or "/usr/sbin/snmpd"
    if not Path(snmpd).exists():
        pytest.fail(
            "snmpd is not installed: run lab/up (it installs snmpd)", pytrace=False
        )
    agent = Agent(
        ADDRESS,
        free_udp_port(ADDRESS),
        secrets.token_hex(12),
        secrets.token_hex(12),
        community,
    )
    directory = directory.resolve()
    config = directory / "snmpd.conf"
    config.write_text(_config(agent))
    config.chmod(0o600)
    (directory / "persist").mkdir()
    env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(directory / "persist")}
    with open(directory / "snmpd.log", "wb") as log:
        process = subprocess.Popen(
            ["snmpd", "-f", "-Lo", "-C", "-c", str(config), "-m", "", "-I", "-smux"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        if not wait_until(
            lambda: bound(ADDRESS, agent.port) or process.poll() is not None, 10
        ):
            pytest.fail(
                f"the test snmpd did not bind {ADDRESS}:{agent.port}", pytrace=False
            )
        if process.poll() is not None:
            log_text = (directory / "snmpd.log").read_text(errors="replace")
            pytest.fail(f"the test snmpd exited: {log_text[-2000:]}", pytrace=False)
        yield agent
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
