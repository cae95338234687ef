"""One broken host never spoils the others' results.

Given an inventory with the hardened lab host, a host where nothing answers,
and a host whose server.xml is hostile (an entity bomb), the run goes on: the
broken hosts' tests end as errors that name the host and the reason, and the
hardened host's results are the same as in a clean run.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.integration.labrun import REPO, require_lab, run_suite, statuses

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Server port="-1" shutdown="SHUTDOWN">&lol2;</Server>
"""
SERVER_XML = Path("fs/C/Program Files/ISEC7 SPHERE/Tomcat/conf/server.xml")
USERS_XML = Path("fs/C/Program Files/ISEC7 SPHERE/Tomcat/conf/tomcat-users.xml")
HOSTILE = "127.0.0.42"


@pytest.fixture
def hostile_double(tmp_path):
    from lab.winrm_double.server import DoubleConfig, WinRMDouble
    from lab.winrm_double.testing import make_pki

    image = tmp_path / "hostile01"
    shutil.copytree(REPO / "lab/images/sphere01", image)
    (image / SERVER_XML).write_bytes(BOMB)
    pki = make_pki(tmp_path / "pki", HOSTILE)
    double = WinRMDouble(
        DoubleConfig(
            host="hostile01",
            image=image,
            address=HOSTILE,
            https_port=0,
            http_port=None,
            cert=pki.cert,
            key=pki.key,
            user="auditor",
            password="hostile-lab-pw",
        )
    )
    double.start()
    yield double, pki
    double.stop()


def test_unreachable_and_hostile_hosts_do_not_spoil_the_run(tmp_path, hostile_double):
    require_lab()
    double, pki = hostile_double
    (tmp_path / "pw").write_text("hostile-lab-pw")
    inventory = tmp_path / "mixed.yml"
    inventory.write_text(
        f"""
name: mixed
site:
  inputs: {{dod_trust_anchors: {REPO}/lab/.run/pki/ca.pem, max_connections: 1000, max_threads: 150}}
defaults:
  winrm: {{scheme: https, auth: basic, user: lab-auditor, connect_timeout: 3,
          password: {{file: {REPO}/lab/.run/secrets/winrm-password}},
          ca_bundle: {REPO}/lab/.run/pki/ca.pem}}
  tls: {{connect_timeout: 3}}
hosts:
  sphere01: {{address: 127.0.0.2, fqdn: sphere01.lab.example, roles: [sphere_server]}}
  ghost01: {{address: 127.0.0.250, roles: [sphere_server]}}
  hostile01:
    address: {HOSTILE}
    roles: [sphere_server]
    connections:
      winrm: {{port: {double.port("https")}, user: auditor, password: {{file: {tmp_path}/pw}},
              ca_bundle: {pki.ca}}}
"""
    )

    started = time.monotonic()
    proc, run_dir = run_suite(
        tmp_path / "reports", f"--inventory={inventory}", "-m", "stig"
    )
    elapsed = time.monotonic() - started
    got = statuses(run_dir)

    # Every (rule, host) has a result: nothing was lost to the broken hosts.
    assert len(got) == 34 * 3, proc.stdout[-2000:]
    # The unreachable host: errors, naming host and reason, never a verdict.
    ghost = got[("V-224782", "ghost01")]
    assert ghost["status"] == "error" and ghost["ckl_status"] == "Not_Reviewed"
    assert ghost["summary"].startswith("ghost01: WinRM https://127.0.0.250:5986")
    assert "refused" in ghost["summary"]
    tls_ghost = got[("V-224762", "ghost01")]
    assert tls_ghost["status"] == "error"
    # The hostile server.xml: a clear error naming the file, not a crash.
    bomb = got[("V-224782", "hostile01")]
    assert bomb["status"] == "error"
    assert "server.xml" in bomb["summary"] and "entit" in bomb["summary"].lower()
    # Rules that do not read server.xml still judge the hostile host.
    assert got[("V-224781", "hostile01")]["status"] in ("pass", "not_reviewed")
    # The hardened host is untouched by its neighbours.
    for rule in (
        "V-224782",
        "V-224783",
        "V-224784",
        "V-224789",
        "V-224762",
        "V-224770",
    ):
        assert got[(rule, "sphere01")]["ckl_status"] == "NotAFinding", rule
    assert proc.returncode == 1
    # A refused connection costs nothing like the connect timeout per test.
    assert elapsed < 120


def test_utf16_users_file_with_bom_is_read(tmp_path):
    # sphere02's tomcat-users.xml is UTF-16 LE with a BOM, as Notepad saves it.
    data = (REPO / "lab/images/sphere02" / USERS_XML).read_bytes()
    assert data[:2] == b"\xff\xfe"
    from sphere_stig.parsers.users import parse_tomcat_users

    users = parse_tomcat_users(data, "sphere02: tomcat-users.xml")
    assert [u.name for u in users.users]
