"""A small project built with pytester: the user tests, an inventory, canned facts."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

INVENTORY = """
name: t
site:
  inputs: {max_connections: 100, max_threads: 50}
hosts:
  good01: {address: 127.0.0.61, roles: [sphere_server], groups: [blue]}
  bad01: {address: 127.0.0.62, roles: [sphere_server], groups: [red]}
  down01: {address: 127.0.0.63, roles: [sphere_server], groups: [red]}
"""

# Canned facts: good01 passes, bad01 fails, down01 cannot be reached. The
# checks are the real registry entries replaced by stand-ins, so these tests
# exercise the plugin's glue, not Tomcat semantics (tested elsewhere).
CONFTEST = """
import pytest
from sphere_stig import checks
from sphere_stig.checks.base import Check
from sphere_stig.collectors.cache import FactCache
from sphere_stig.outcome import CollectionError, Evidence, judge

pytest_plugins = ["sphere_stig.plugin", "fixtures.sessions", "fixtures.verdicts"]


def fake_check(facts, inputs):
    ok = facts.windows == "good01"
    return judge("realm ok", "realm missing",
                 Evidence("LockOutRealm", "present" if ok else "absent", "present",
                          f"server.xml on {facts.host}", ok))


for name in ("lockout_realm_present", "lockout_failure_count"):
    checks.REGISTRY[name] = Check(name, ("windows",), fake_check)
for name in list(checks.REGISTRY):
    if name not in ("lockout_realm_present", "lockout_failure_count"):
        del checks.REGISTRY[name]


def collect(session, host, root, shutdown_port=8005):
    raise AssertionError("not used")


class Cache(FactCache):
    def _gather_windows(self, host):
        if host.name == "down01":
            raise CollectionError(host.name, "WinRM https://127.0.0.63:5986",
                                  "connection refused")
        return host.name


@pytest.fixture(scope="session")
def facts(winrm):
    return Cache(winrm)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert(REPO)
    shutil.copytree(REPO / "tests_infra", pytester.path / "tests_infra")
    shutil.copytree(REPO / "fixtures", pytester.path / "fixtures")
    (pytester.path / "inventories").mkdir()
    (pytester.path / "inventories" / "t.yml").write_text(INVENTORY)
    pytester.makeconftest(CONFTEST)
    pytester.makefile(
        ".toml",
        pyproject=textwrap.dedent(
            """
            [tool.pytest.ini_options]
            testpaths = ["tests_infra"]
            sphere_inventory_dir = "inventories"
            """
        ),
    )
    return pytester


def run(project: pytest.Pytester, *args: str):
    return project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--reports-dir", str(project.path / "out"), *args
    )


def results(project: pytest.Pytester) -> dict[tuple[str, str], dict]:
    (run_dir,) = (project.path / "out" / "t").iterdir()
    data = json.loads((run_dir / "results.json").read_text())
    return {(r["id"], r["host"]): r for r in data["results"]}
